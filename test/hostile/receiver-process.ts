// The receiver as its own process, so its memory can be read from /proc
// (in-process, the test runner's own heap would be counted too).

import { readFileSync } from 'node:fs';
import { INGEST_TOKEN, KEEP_FOREVER_ENV, READ_TOKEN, TOKEN_SECRET } from '../helpers/receiver.js';
import { RECEIVER_NODE_FLAGS } from '../../bench/lib/programs.js';
import { RECEIVER_BIN, start, type Running } from '../helpers/process.js';

export interface ReceiverProcess extends Running {
  url: string;
  port: number;
  /** The process's peak resident memory so far (VmHWM), in bytes. */
  peakRssBytes(): number;
}

export async function startReceiverProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<ReceiverProcess> {
  // The flags the image runs it with (on the command line: NODE_OPTIONS refuses some): its memory is measured as it will be in the pod.
  const running = start(RECEIVER_BIN, [], {
    DATABASE_URL: databaseUrl, INGEST_TOKEN, INGEST_TOKEN_SECRET: TOKEN_SECRET, READ_TOKEN,
    HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info',
    ...KEEP_FOREVER_ENV, ...env,
  }, undefined, RECEIVER_NODE_FLAGS);
  const url = await readyUrl(running);
  return {
    ...running,
    url,
    port: Number(new URL(url).port),
    peakRssBytes: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${running.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
  };
}

async function readyUrl(running: Running): Promise<string> {
  const line = await running.waitForLog((l) => l.msg === 'receiver listening', 30_000);
  const url = String(line.url);
  for (let i = 0; i < 300; i++) {
    if ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the receiver at ${url} did not become ready:\n${running.output()}`);
}
