// Starting the project's programs (and baselines) as child processes for a scenario.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../dev/free-port.js';
import { scrape, total } from './scrape.js';

export const DIST = fileURLToPath(new URL('../../', import.meta.url));
/** BENCH_RECEIVER_BIN measures another build of the receiver (a before/after) with the same harness. */
export const RECEIVER_BIN = process.env.BENCH_RECEIVER_BIN ?? `${DIST}receiver/main.js`;
/** BENCH_SHIPPER_BIN measures another build of the shipper the same way. */
export const SHIPPER_BIN = process.env.BENCH_SHIPPER_BIN ?? `${DIST}shipper/main.js`;
export const NAIVE_RECEIVER_BIN = `${DIST}bench/naive-receiver.js`;
export const DISCARD_RECEIVER_BIN = `${DIST}bench/discard-receiver.js`;
export const NAIVE_SHIPPER_BIN = `${DIST}bench/naive-shipper.js`;
export const FLEET_GENERATOR_BIN = `${DIST}bench/fleet-generator.js`;
/** The benchmarks' credentials (the programs refuse tokens under 16 characters). */
export const BENCH_TOKEN = 'bench-ingest-token';
export const BENCH_READ_TOKEN = 'bench-read-token-0';

/** The receiver's Node flags in the image and the Deployment, so the benchmarks measure what runs there. */
export const RECEIVER_NODE_FLAGS = ['--max-semi-space-size=16', '--initial-old-space-size=64', '--max-old-space-size=320'];

export interface Program {
  child: ChildProcess;
  url: string;
  stop(): Promise<number | null>;
}

/** SIGTERM, then the exit code. */
export function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
    child.once('exit', (code) => done(code));
    child.kill('SIGTERM');
  });
}

/** Starts a program that logs a JSON line with `url` once it listens. */
export function startListening(bin: string, env: Record<string, string>, logMatch: string): Promise<Program> {
  const child = spawn(process.execPath, [bin], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer) => {
      buffered += d;
      for (const line of buffered.split('\n')) {
        if (!line.includes(logMatch)) continue;
        const url = (JSON.parse(line) as { url: string }).url;
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({
          child, url,
          stop: () => stopChild(child),
        });
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${bin} exited (${code}) before listening`)));
  });
}

/** The backlogs' lines are stamped from a fixed day in the past (dev/workload.ts): the benchmarks' receivers keep every table forever. */
const KEEP_FOREVER = { COMMAND_LOG_RETENTION_DAYS: '0', STATE_TIMELINE_RETENTION_DAYS: '0', LLM_INTERACTIONS_RETENTION_DAYS: '0', INGEST_REJECTS_RETENTION_DAYS: '0' };

/**
 * The receiver, started and migrated. Benchmarks measure what one workspace
 * can push through, so the per-workspace rate limit is off unless `extra`
 * sets it (noisy-neighbour does). Every simulated workspace connects from
 * loopback, so the per-address connection cap is off too.
 */
export async function startReceiverProcess(databaseUrl: string, token: string, extra: Record<string, string> = {}, nodeArgs: string[] = [], onLog?: (line: Record<string, unknown>) => void): Promise<Program> {
  const port = await freePort();
  const child = spawn(process.execPath, [...RECEIVER_NODE_FLAGS, ...nodeArgs, RECEIVER_BIN], {
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, INGEST_TOKEN: token, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', WORKSPACE_RATE_BYTES: '0', MAX_CONNECTIONS_PER_PEER: '0', ...KEEP_FOREVER, ...extra },
    stdio: ['ignore', onLog ? 'pipe' : 'inherit', 'inherit'],
  });
  // `onLog` takes the receiver's JSON log lines (with LOG_LEVEL=debug in `extra`, each request's hops).
  if (onLog) createInterface({ input: child.stdout! }).on('line', (l) => onLog(JSON.parse(l) as Record<string, unknown>));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) {
      return {
        child, url,
        stop: () => stopChild(child),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('receiver did not become ready');
}

/** The shipper's Node flags in the workspace pods, so the benchmarks measure what runs there. */
export const SHIPPER_NODE_FLAGS = ['--max-semi-space-size=4', '--optimize-for-size'];

/** How to run a program: another Node binary (Node 24 beside Node 20), extra Node flags (a profiler). */
export interface RunWith {
  node?: string;
  nodeArgs?: string[];
}

/** ferry-shipper with the given environment; stdout/stderr go to the bench log. */
export function startShipperProcess(env: Record<string, string>, run: RunWith = {}): ChildProcess {
  // BENCH_SHIPPER_LOG=<file> keeps the shipper's JSON logs for a closer look.
  const log = process.env.BENCH_SHIPPER_LOG ? openSync(process.env.BENCH_SHIPPER_LOG, 'a') : 'ignore';
  return spawn(run.node ?? process.execPath, [...SHIPPER_NODE_FLAGS, ...(run.nodeArgs ?? []), SHIPPER_BIN], {
    env: { PATH: process.env.PATH, LOG_LEVEL: process.env.BENCH_SHIPPER_LOG ? 'debug' : 'warn', METRICS_HOST: '127.0.0.1', METRICS_PORT: '0', ...env },
    stdio: ['ignore', log, 'inherit'],
  });
}

export interface WatchedShipper {
  child: ChildProcess;
  /** True once this process has had a batch accepted, or has found nothing left to send. */
  moved(): Promise<boolean>;
}

/** ferry-shipper with its /metrics on a known port, to see it deliver. */
export async function startWatchedShipper(env: Record<string, string>): Promise<WatchedShipper> {
  const port = await freePort();
  const child = startShipperProcess({ ...env, METRICS_PORT: String(port) });
  return {
    child,
    async moved() {
      const m = await scrape(`http://127.0.0.1:${port}`).catch(() => undefined);
      if (!m) return false;
      const lag = m.filter((s) => s.name === 'ferry_shipper_lag_bytes');
      return total(m, 'ferry_shipper_events_sent_total') > 0 || (lag.length > 0 && lag.every((s) => s.value === 0));
    },
  };
}

/** Runs a bench program to its end; its last stdout line is its JSON result. */
export function runToEnd<T>(bin: string, env: Record<string, string>): Promise<T> {
  const child = spawn(process.execPath, [bin], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0) resolve(JSON.parse(last) as T);
      else reject(new Error(`${bin} exited with ${code}`));
    });
  });
}
