// SIGTERM: everything written before it is in the database when the shipper
// exits 0; past the deadline it exits non-zero with checkpoints written. Either
// way its last request tells the receiver how the drain ended and what it
// left behind, per pipeline (ingest_drains, ferry_receiver_drains_total).

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { freePort } from '../../dev/free-port.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import type { RunningReceiver } from '../../receiver/receiver.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';

let base: string;
let db: pg.Pool;
let receiver: RunningReceiver;

beforeAll(async () => {
  const url = await freshDatabase();
  receiver = await startTestReceiver(url);
  base = receiver.url;
  db = queryPool(url);
});

const drainRow = async (ws: string) => (await db.query('SELECT outcome, unshipped, unshipped_bytes FROM ingest_drains WHERE workspace_id = $1', [ws])).rows[0];
const drains = async (outcome: string) => (await receiver.registry.getSingleMetric('ferry_receiver_drains_total')!.get()).values.find((v) => v.labels.outcome === outcome)?.value;

const lines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ command: `${tag} ${i}`, exit_code: 0, timestamp: 1763892000 + i }) + '\n').join('');

it('lines appended just before SIGTERM are all stored when it exits 0', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const shipper = await startShipper(shipperEnv(base, dirs, 'drain', { POLL_INTERVAL_MS: '5000' }));
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('before', 1000));
  await appendFile(join(dirs.runtimeDir, 'state-events.jsonl'), JSON.stringify({ event_type: 'connected', timestamp: 1 }) + '\n');
  // Appended right before the signal, with polling too slow to have seen them.
  await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('last', 5000));
  shipper.child.kill('SIGTERM');
  const exit = await shipper.exited;
  expect(exit.code, shipper.output()).toBe(0);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'drain'");
  expect(rows[0].n).toBe(6000);
  expect((await db.query("SELECT count(*)::int AS n FROM state_timeline WHERE workspace_id = 'drain'")).rows[0].n).toBe(1);
  const checkpoint = JSON.parse(await readFile(join(dirs.stateDir, 'checkpoints.json'), 'utf8'));
  expect(checkpoint.files.commands.offset).toBe(Buffer.byteLength(lines('before', 1000) + lines('last', 5000)));
  expect(shipper.logs.some((l) => l.msg === 'drained: everything shipped')).toBe(true);
  expect(await drainRow('drain')).toEqual({ outcome: 'complete', unshipped: { commands: 0, events: 0, llm: 0 }, unshipped_bytes: '0' });
  expect(shipper.logs.find((l) => l.msg === 'drain ended')).toMatchObject({ outcome: 'complete', report: 'delivered' });
});

it('a drain cut by its deadline reports what it left per pipeline: what the file holds beyond the committed offset (the batch in flight counted as left)', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const file = join(dirs.runtimeDir, 'command-log.jsonl');
  await writeFile(file, lines('backlog', 20_000));
  const before = await drains('deadline');
  // Ten lines a request: far more requests than the deadline leaves time for.
  const shipper = await startShipper(shipperEnv(base, dirs, 'cut-short', { DRAIN_TIMEOUT_MS: '300', COMMANDS_BATCH_MAX_EVENTS: '10' }));
  shipper.child.kill('SIGTERM');
  expect((await shipper.exited).code).toBe(1);
  const row = await drainRow('cut-short');
  const committed = (await db.query("SELECT coalesce(max(next_offset), 0)::int AS n FROM ingest_offsets WHERE workspace_id = 'cut-short' AND stream = 'commands'")).rows[0].n;
  const size = (await readFile(file)).length;
  expect(row.outcome).toBe('deadline');
  // What the shipper had not seen committed: the batch in flight when the deadline cut it may have been stored
  // all the same (its answer never read), so the report errs by at most that batch, never the other way.
  const batchBytes = 10 * Math.max(...lines('backlog', 20_000).split('\n').map((l) => l.length + 1));
  expect(row.unshipped.commands).toBeGreaterThanOrEqual(size - committed);
  expect(row.unshipped.commands).toBeLessThanOrEqual(size - committed + batchBytes);
  expect(size - committed).toBeGreaterThan(0);
  expect(Number(row.unshipped_bytes)).toBe(row.unshipped.commands);
  expect(await drains('deadline')).toBe((before ?? 0) + 1);
  expect(shipper.logs.find((l) => l.msg === 'drain ended with data left behind')).toMatchObject({ level: 50, outcome: 'deadline', report: 'delivered' });
});

it('past the deadline (receiver unreachable) it writes checkpoints, says what is left and exits 1', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('stuck', 10));
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const shipper = await startShipper(shipperEnv(nowhere, dirs, 'deadline', { DRAIN_TIMEOUT_MS: '1000' }));
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  shipper.child.kill('SIGTERM');
  const exit = await shipper.exited;
  expect(exit.code).toBe(1);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(shipper.logs.some((l) => l.msg === 'pipeline stopped with data left (deadline)' && l.pipeline === 'commands' && Number(l.lag_bytes) > 0)).toBe(true);
});
