// A ferry program as a child process that the chaos run kills and restarts.
// Each incarnation's peak memory (VmHWM) is sampled while it lives.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// This module runs from test/chaos/ (vitest) and from dist/test/chaos/ (npm run chaos).
const here = fileURLToPath(import.meta.url);
const root = here.includes('/dist/test/') ? here.slice(0, here.indexOf('/dist/test/')) : join(dirname(here), '..', '..');

export const BIN = {
  receiver: join(root, 'dist/receiver/main.js'),
  shipper: join(root, 'dist/shipper/main.js'),
};

export interface Program {
  name: string;
  running(): boolean;
  start(): void;
  /** Sends the signal and resolves with the exit code (null when killed by a signal). */
  signal(sig: 'SIGKILL' | 'SIGTERM'): Promise<number | null>;
  /** Highest VmHWM seen over every incarnation. */
  peakRssBytes(): number;
  /** The last lines of output, for a failure report. */
  tail(): string;
}

function hwm(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

const everyone = new Set<ChildProcess>();
process.once('exit', () => everyone.forEach((c) => c.kill('SIGKILL')));

export function program(name: string, bin: string, env: () => Record<string, string>): Program {
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let peak = 0;
  let output: string[] = [];
  const sampler = setInterval(() => {
    if (child?.pid && child.exitCode === null) peak = Math.max(peak, hwm(child.pid));
  }, 500);
  sampler.unref();
  const keep = (d: Buffer) => {
    output.push(...d.toString().split('\n').filter(Boolean));
    if (output.length > 200) output = output.slice(-100);
  };
  return {
    name,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    start() {
      const c = spawn(process.execPath, [bin], { env: { PATH: process.env.PATH, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      everyone.add(c);
      c.stdout!.on('data', keep);
      c.stderr!.on('data', keep);
      exited = new Promise((resolve) => c.once('exit', (code) => {
        everyone.delete(c);
        resolve(code);
      }));
    },
    async signal(sig) {
      if (!child || child.exitCode !== null || child.signalCode !== null) return null;
      if (child.pid) peak = Math.max(peak, hwm(child.pid));
      child.kill(sig);
      return exited;
    },
    peakRssBytes: () => peak,
    tail: () => output.slice(-30).join('\n'),
  };
}
