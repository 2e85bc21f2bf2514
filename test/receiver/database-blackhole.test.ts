// A database that accepts bytes and never answers (a failover, a partition):
// for 60 s every byte between the receiver and PostgreSQL is held, while real
// shippers keep writing and a client keeps posting. The receiver notices
// within seconds, answers 503 at once instead of holding requests, keeps its
// memory bounded, resumes within 5 s once the database answers again, and in
// the end every line is stored exactly once.

import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { simulateWorkspace, type Simulator } from '../../dev/workspace-simulator.js';
import { startProxy, type FaultProxy } from '../chaos/proxy.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { startReceiverProcess, type ReceiverProcess } from '../hostile/receiver-process.js';

const BLACKHOLE_MS = 60_000;
/** The probe asks every 2 s and gives each answer 2 s; two failures in a row make an outage. */
const NOTICED_WITHIN_MS = 7_000;
const RESUMED_WITHIN_MS = 5_000;
const MEMORY_BOUND_BYTES = 400 * 1024 ** 2;
const SHIPPERS = 8;

let proxy: FaultProxy;
let receiver: ReceiverProcess;
let db: pg.Pool;
const simulators: Simulator[] = [];
const shippers: ShipperProcess[] = [];

beforeAll(async () => {
  const url = new URL(await freshDatabase());
  db = queryPool(url.toString());
  const pgPort = Number(url.port);
  proxy = await startProxy(() => [pgPort]);
  url.port = String(proxy.port);
  url.hostname = '127.0.0.1';
  receiver = await startReceiverProcess(url.toString(), { LOG_LEVEL: 'info' });
  for (let i = 0; i < SHIPPERS; i++) {
    const dirs = await shipperDirs();
    simulators.push(await simulateWorkspace(dirs.runtimeDir, { commandsPerSecond: 5, seed: 40 + i }));
    shippers.push(await startShipper(shipperEnv(receiver.url, dirs, `blackhole-${i}`, { RETRY_MAX_DELAY_MS: '2000' })));
  }
}, 60_000);

afterAll(async () => {
  for (const s of simulators) s.stop();
  receiver?.child.kill('SIGKILL');
  await proxy?.close();
});

interface Answer {
  at: number;
  status: number;
  ms: number;
}

it('answers 503 within seconds while the database is black-holed, stays bounded, resumes within 5 s, and loses nothing', async () => {
  // A client posting its own stream all along: each line resent until it is answered 200.
  const answers: Answer[] = [];
  let offset = 0;
  let sent = 0;
  let posting = true;
  const poster = (async () => {
    while (posting) {
      const line = `{"command":"poster ${sent}","exit_code":0,"timestamp":${Math.floor(Date.now() / 1000)}}\n`;
      const started = performance.now();
      const res = await fetch(`${receiver.url}/ingest/commands`, {
        method: 'POST', body: line, signal: AbortSignal.timeout(60_000),
        headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/x-ndjson', 'x-workspace-id': 'blackhole-poster', 'x-source-id': 'g', 'x-source-offset': String(offset) },
      }).catch(() => undefined);
      answers.push({ at: performance.now(), status: res?.status ?? 0, ms: performance.now() - started });
      if (res?.status === 200) {
        offset += Buffer.byteLength(line);
        sent++;
      }
      await res?.arrayBuffer().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  await new Promise((r) => setTimeout(r, 3_000));
  expect(answers.some((a) => a.status === 200)).toBe(true);
  const holeStart = performance.now();
  const hole = proxy.stall(BLACKHOLE_MS);
  await waitFor(async () => /ferry_receiver_database_up 0/.test(await (await fetch(`${receiver.url}/metrics`)).text()), 'database_up 0', NOTICED_WITHIN_MS, 200);
  expect((await fetch(`${receiver.url}/readyz`)).status).toBe(503);
  await hole;
  const holeEnd = performance.now();
  await waitFor(() => answers.some((a) => a.at > holeEnd && a.status === 200), 'a 200 after the hole', RESUMED_WITHIN_MS + 5_000, 100);
  posting = false;
  await poster;

  // Once noticed, every answer came at once, and was a 503 with Retry-After (not a hang until a client timeout).
  const inHole = answers.filter((a) => a.at - a.ms > holeStart + NOTICED_WITHIN_MS && a.at < holeEnd);
  expect(inHole.length).toBeGreaterThan(50);
  expect(inHole.filter((a) => a.status !== 503)).toEqual([]);
  expect(Math.max(...inHole.map((a) => a.ms))).toBeLessThan(1_000);
  const firstAfter = answers.find((a) => a.at > holeEnd && a.status === 200)!;
  console.log(`black hole ${BLACKHOLE_MS / 1000} s: ${inHole.length} answers inside it, all 503, slowest ${Math.max(...inHole.map((a) => a.ms)).toFixed(0)} ms; first 200 ${((firstAfter.at - holeEnd) / 1000).toFixed(1)} s after; receiver peak RSS ${(receiver.peakRssBytes() / 1024 ** 2).toFixed(0)} MiB`);
  expect(firstAfter.at - holeEnd).toBeLessThan(RESUMED_WITHIN_MS);
  expect(receiver.peakRssBytes()).toBeLessThan(MEMORY_BOUND_BYTES);

  // Every line: the poster's, and every shipper's, exactly once.
  for (const s of simulators) s.stop();
  const poster_ = await db.query<{ n: number; d: number }>("SELECT count(*)::int AS n, count(DISTINCT command)::int AS d FROM command_log WHERE workspace_id = 'blackhole-poster'");
  expect(poster_.rows[0]).toEqual({ n: sent, d: sent });
  for (let i = 0; i < SHIPPERS; i++) {
    const written = simulators[i]!.written();
    const ws = `blackhole-${i}`;
    for (const [table, lines] of [['command_log', written.commands], ['state_timeline', written.events], ['llm_interactions', written.llm]] as const) {
      await waitFor(async () => (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE workspace_id = $1`, [ws])).rows[0].n === lines, `${ws}'s ${lines} rows of ${table}`, 60_000, 250);
    }
  }
  for (const s of shippers) {
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }
  // Once every shipper has drained and gone, nothing was doubled either.
  for (let i = 0; i < SHIPPERS; i++) {
    const { commands } = simulators[i]!.written();
    const { rows } = await db.query('SELECT count(*)::int AS n, count(DISTINCT command)::int AS d FROM command_log WHERE workspace_id = $1', [`blackhole-${i}`]);
    expect(rows[0].n).toBe(commands);
  }
  expect(receiver.child.exitCode).toBeNull();
}, 180_000);
