// The chaos run: PostgreSQL, an S3 store, two receivers behind a fault proxy,
// and several workspaces, each with its writer and its real ferry-shipper,
// under a seeded schedule of faults for a set time; then every fault is
// lifted, the shippers drain, and the verifier judges what was stored.

import { rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../dev/embedded-postgres.js';
import { startS3 } from '../../dev/embedded-s3.js';
import { freePort } from '../../dev/free-port.js';
import { seededRandom } from '../../dev/random.js';
import { createObjectStore } from '../../shared/object-store.js';
import { hangUpMidBody } from '../helpers/hang-up.js';
import { BIN, program, type Program } from './program.js';
import { startProxy } from './proxy.js';
import { describeFault, holds, makeSchedule, type Fault } from './schedule.js';
import { verifyLines, verifyRecordings, verifyStatus } from './verify.js';
import { createWriter, SHIPPER_MAX_LINE, type Writer } from './writer.js';

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  workspaces: number;
  meanGapMs: number;
  say(line: string): void;
}

export interface ChaosResult {
  ok: boolean;
  seed: number;
  faults: number;
  byKind: Record<string, number>;
  problems: string[];
  lines: Awaited<ReturnType<typeof verifyLines>>['lines'];
  peakRssMiB: { shipper: number; receiver: number };
  seconds: number;
}

const TOKEN = 'chaos-ingest-token';
const READ_TOKEN = 'chaos-read-token';
const REQUEST_TIMEOUT_MS = 2_000;
/** A shipper holds one read window and the S3 part buffers; a receiver one 4 MiB body at a time per connection. */
export const MEMORY_BOUNDS_MIB = { shipper: 256, receiver: 512 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const schedule = makeSchedule({ seed: o.seed, durationMs: o.durationMs, workspaces: o.workspaces, receivers: 2, meanGapMs: o.meanGapMs, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  o.say(`chaos: seed ${o.seed}, ${o.durationMs / 1000} s, ${o.workspaces} workspaces, ${schedule.length} faults scheduled`);
  for (const s of schedule) o.say(`  +${(s.atMs / 1000).toFixed(1).padStart(6)} s  ${describeFault(s.fault)}`);

  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const root = await mkdtemp(join(tmpdir(), 'ferry-chaos-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const postgres = await startPostgres({ fast: true });
    cleanup.push(() => postgres.destroy());
    const databaseUrl = await postgres.createDatabase('chaos');
    const s3 = await startS3();
    cleanup.push(() => s3.destroy());
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

    // The receivers reach PostgreSQL through a proxy that can make it slow.
    const pgProxy = await startProxy(() => [postgres.port]);
    cleanup.push(() => pgProxy.close());
    const viaProxy = new URL(databaseUrl);
    viaProxy.port = String(pgProxy.port);
    const receiverPorts = [await freePort(), await freePort()];
    const receivers: Program[] = receiverPorts.map((port, i) => program(`receiver-${i}`, BIN.receiver, () => ({
      DATABASE_URL: viaProxy.toString(), INGEST_TOKEN: TOKEN, READ_TOKEN, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', DATABASE_TIMEOUT_MS: '5000', ...s3.env,
    })));
    cleanup.push(() => Promise.all(receivers.map((r) => r.signal('SIGKILL'))));
    receivers.forEach((r) => r.start());
    // The shippers reach the receivers through a proxy that resets and stalls.
    const ingress = await startProxy(() => receiverPorts.filter((_, i) => receivers[i]!.running()));
    cleanup.push(() => ingress.close());
    for (const [i, port] of receiverPorts.entries()) {
      await until(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, () => receivers[i]!.tail());
    }

    let finalDrain = false;
    const writers: Writer[] = [];
    const shippers: Program[] = [];
    const writerRand = seededRandom(o.seed ^ 0x5eed);
    for (let i = 0; i < o.workspaces; i++) {
      const ws = `chaos-ws-${i}`;
      const runtimeDir = join(root, ws, 'runtime');
      const stateDir = join(root, ws, 'state');
      writers.push(await createWriter(ws, runtimeDir, writerRand));
      shippers.push(program(`shipper-${i}`, BIN.shipper, () => ({
        WORKSPACE_ID: ws, DASHBOARD_SERVICE_URL: `http://127.0.0.1:${ingress.port}`, INGEST_TOKEN: TOKEN,
        RUNTIME_DIR: runtimeDir, STATE_DIR: stateDir, METRICS_HOST: '127.0.0.1', METRICS_PORT: '0',
        POLL_INTERVAL_MS: '100', RETRY_MAX_DELAY_MS: '1000', REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        CHECKPOINT_INTERVAL_MS: '200', DRAIN_TIMEOUT_MS: finalDrain ? '120000' : '5000', MAX_LINE_BYTES: SHIPPER_MAX_LINE,
        RECORDING_SYNC_INTERVAL_MS: '500', RECORDING_IDLE_MS: '600000', COMMANDS_BATCH_MAX_EVENTS: '2000',
        LOG_LEVEL: 'warn', ...s3.shipperEnv,
      })));
    }
    cleanup.push(() => Promise.all(shippers.map((s) => s.signal('SIGKILL'))));
    shippers.forEach((s) => s.start());

    let writing = true;
    const writing$ = Promise.all(writers.map(async (w) => {
      while (writing) {
        await w.tick();
        await sleep(100);
      }
    }));

    const perform = async (f: Fault): Promise<void> => {
      if (f.kind === 'shipper-sigkill' || f.kind === 'shipper-sigterm' || f.kind === 'checkpoint-delete' || f.kind === 'checkpoint-corrupt') {
        const shipper = shippers[f.ws]!;
        const stateFile = join(root, `chaos-ws-${f.ws}`, 'state', 'checkpoints.json');
        if (f.kind === 'shipper-sigterm') await shipper.signal('SIGTERM');
        else await shipper.signal('SIGKILL');
        if (f.kind === 'shipper-sigkill') await sleep(f.downMs);
        if (f.kind === 'checkpoint-delete') await rm(stateFile, { force: true });
        if (f.kind === 'checkpoint-corrupt') {
          const garbage = { half: '{"version":1,"files":{"comm', binary: '\0\u00ff\u00fe garbage', 'wrong-version': '{"version":99}' }[f.garbage];
          await writeFile(stateFile, garbage);
        }
        shipper.start();
        return;
      }
      switch (f.kind) {
        case 'file-truncate': case 'file-replace':
          if (!(await writers[f.ws]!.rewrite(f.stream, f.kind === 'file-truncate' ? 'truncate' : 'replace'))) o.say(`  (${describeFault(f)}: file still under the size for a rewrite; skipped)`);
          return;
        case 'file-unreadable':
          if (!(await writers[f.ws]!.unreadable(f.file, f.forMs))) o.say(`  (${describeFault(f)}: no such file yet; skipped)`);
          return;
        case 's3-plain': {
          // The shipper restarts while the store lacks the housekeeping calls, in the middle of whatever it uploads.
          s3.setPlain(true);
          await shippers[f.ws]!.signal('SIGKILL');
          shippers[f.ws]!.start();
          await sleep(f.forMs);
          s3.setPlain(false);
          return;
        }
        case 'receiver-sigkill': {
          const receiver = receivers[f.receiver]!;
          return outage(() => receiver.signal('SIGKILL'), async () => receiver.start(), f.downMs);
        }
        case 'postgres-stop': return outage(postgres.stop, postgres.start, f.downMs);
        case 'postgres-slow':
          await pgProxy.slow(f.delayMs, f.forMs);
          return;
        case 'postgres-blackhole': return pgProxy.stall(f.forMs);
        case 'client-hangup':
          if (receivers[f.receiver]!.running()) await Promise.all(Array.from({ length: f.clients }, () => hangUpMidBody(receiverPorts[f.receiver]!, TOKEN)));
          return;
        case 's3-stop': return outage(s3.stop, s3.start, f.downMs);
        case 'network-reset':
          ingress.reset(f.forMs);
          await sleep(f.forMs);
          return;
        case 'network-stall': return ingress.stall(f.ms);
      }
    };

    const chains = new Map<string, Promise<void>>();
    const byKind: Record<string, number> = {};
    const t0 = Date.now();
    for (const { atMs, fault } of schedule) {
      await sleep(Math.max(0, t0 + atMs - Date.now()));
      byKind[fault.kind] = (byKind[fault.kind] ?? 0) + 1;
      // A fault waits for the faults before it on everything it holds.
      const held = holds(fault);
      const done = Promise.all(held.map((r) => chains.get(r))).then(() => perform(fault)).catch((err) => o.say(`  fault ${describeFault(fault)} failed: ${(err as Error).message}`));
      for (const r of held) chains.set(r, done);
    }
    await sleep(Math.max(0, t0 + o.durationMs - Date.now()));
    await Promise.all(chains.values());
    o.say(`chaos: ${schedule.length} faults done in ${((Date.now() - t0) / 1000).toFixed(0)} s; draining`);

    writing = false;
    await writing$;
    receivers.forEach((r) => { if (!r.running()) r.start(); });
    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    cleanup.push(() => db.end());
    // Everything written must arrive now that nothing is broken.
    let lines = await verifyLines(db, writers);
    for (const deadline = Date.now() + 180_000; !lines.ok && Date.now() < deadline; lines = await verifyLines(db, writers)) await sleep(2000);
    finalDrain = true;
    const exits: string[] = [];
    for (const s of shippers) {
      await s.signal('SIGTERM');
      s.start();
    }
    await sleep(2000);
    for (const s of shippers) {
      const code = await s.signal('SIGTERM');
      if (code !== 0) exits.push(`${s.name} exited ${code} on its final SIGTERM:\n${s.tail()}`);
    }
    lines = await verifyLines(db, writers);
    const store = await createObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    cleanup.push(async () => store.destroy());
    const recordings = await verifyRecordings({
      async object(key) {
        const chunks: Buffer[] = [];
        try {
          for await (const c of await store.read(key)) chunks.push(c as Buffer);
        } catch {
          return undefined;
        }
        return Buffer.concat(chunks);
      },
      async viaReceiver(ws) {
        const res = await fetch(`http://127.0.0.1:${receiverPorts[0]}/recordings/${ws}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
        return Buffer.from(await res.arrayBuffer());
      },
      pendingUploads: () => s3.pendingUploads(),
    }, writers);
    const status = await verifyStatus(db, writers.map((w) => w.workspace));
    const peak = (ps: Program[]) => Math.round(Math.max(...ps.map((p) => p.peakRssBytes())) / 1024 ** 2);
    const peakRssMiB = { shipper: peak(shippers), receiver: peak(receivers) };
    const memory = (['shipper', 'receiver'] as const).filter((k) => peakRssMiB[k] > MEMORY_BOUNDS_MIB[k]).map((k) => `${k} peak RSS ${peakRssMiB[k]} MiB is over its bound of ${MEMORY_BOUNDS_MIB[k]} MiB`);
    const problems = [...lines.problems, ...status, ...recordings, ...exits, ...memory];
    const result: ChaosResult = { ok: problems.length === 0, seed: o.seed, faults: schedule.length, byKind, problems, lines: lines.lines, peakRssMiB, seconds: Math.round((Date.now() - started) / 1000) };
    o.say(`chaos verdict: ${result.ok ? 'PASS' : 'FAIL'} (seed ${o.seed}, ${result.faults} faults ${JSON.stringify(byKind)}, lines ${JSON.stringify(result.lines)}, peak RSS MiB ${JSON.stringify(peakRssMiB)}, ${result.seconds} s)`);
    for (const p of problems) o.say(`  problem: ${p}`);
    if (!result.ok) for (const p of [...shippers, ...receivers]) o.say(`--- ${p.name}, last lines:\n${p.tail()}`);
    return result;
  } finally {
    while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
  }
}

async function outage(stop: () => Promise<unknown>, start: () => Promise<unknown>, ms: number): Promise<void> {
  await stop();
  await sleep(ms);
  await start();
}

async function until(check: () => Promise<boolean>, timeoutMs: number, why: () => string): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await sleep(200)) {
    if (Date.now() > deadline) throw new Error(`not ready in ${timeoutMs} ms:\n${why()}`);
  }
}
