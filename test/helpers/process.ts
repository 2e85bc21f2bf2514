// Runs the compiled programs as child processes, the way a pod does.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { atEnd } from './cleanup.js';

export const RECEIVER_BIN = fileURLToPath(new URL('../../dist/receiver/main.js', import.meta.url));
export const SHIPPER_BIN = fileURLToPath(new URL('../../dist/shipper/main.js', import.meta.url));

const live = new Set<ChildProcess>();

function killIfAlive(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// Also when the test worker itself goes away: a sidecar must never outlive its test.
process.once('exit', () => live.forEach(killIfAlive));

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs to completion. */
export function run(bin: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} did not exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface Running {
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>;
  output(): string;
  /** Resolves with the first log line matching. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<Exited>;
}

/** A user to run a program as (root reads every file: a test of an unreadable file needs another user). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Starts a long-running program (with Node flags `nodeArgs`); killed when the file's tests end if still alive. */
export function start(bin: string, args: string[], env: Record<string, string | undefined>, as?: RunAs, nodeArgs: readonly string[] = []): Running {
  const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...as });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const text of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text);
      } catch {
        continue;
      }
      logs.push(line);
      for (const w of [...waiters]) if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<Exited>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  live.add(child);
  child.once('exit', () => live.delete(child));
  atEnd(() => killIfAlive(child));
  return {
    child,
    logs,
    exited,
    output: () => `${stdout}\n${stderr}`,
    waitForLog(match, timeoutMs = 20_000) {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        exited.then(() => { clearTimeout(timer); reject(new Error(`exited before the log line:\n${stdout}\n${stderr}`)); }, () => undefined);
      });
    },
  };
}
