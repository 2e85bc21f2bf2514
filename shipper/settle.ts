#!/usr/bin/env node
// The preStop hook of the shipper when it runs as a classic second container
// (clusters without native sidecars). There, Kubernetes signals every
// container at once, so the workspace may still be writing its last lines
// when the shipper would start draining. This waits until nothing in
// RUNTIME_DIR has changed for a quiet period (the workspace has written its
// final lines, or has exited), or until a cap, and returns; the kubelet's
// SIGTERM follows and the shipper drains everything there is. It always exits
// 0: a failed hook would only delay that SIGTERM to the end of the grace period.
//
// A native sidecar needs none of this: the kubelet stops it only after the
// workspace container has exited.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { int, loadConfig } from '../shared/env.js';
import { SHIPPER_SPEC } from './config.js';

export const SETTLE_SPEC = {
  runtimeDir: SHIPPER_SPEC.runtimeDir,
  quietMs: int('SETTLE_QUIET_MS', 100, 60_000, { help: 'preStop (classic container): return once RUNTIME_DIR has not changed for this long', default: 2_000 }),
  maxMs: int('SETTLE_MAX_MS', 0, 600_000, { help: 'preStop (classic container): return after this long at the latest', default: 10_000 }),
};

const POLL_MS = 100;

/** Names, sizes and modification times of the folder's files: any write changes it. */
async function snapshot(dir: string): Promise<string> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(names.sort().map(async (name) => {
    const s = await stat(join(dir, name)).catch(() => undefined);
    return s ? `${name}:${s.size}:${s.mtimeMs}` : name;
  }));
  return entries.join('\n');
}

async function settle(dir: string, quietMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = await snapshot(dir);
  let quietSince = Date.now();
  while (Date.now() < deadline && Date.now() - quietSince < quietMs) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const now = await snapshot(dir);
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    }
  }
}

try {
  const c = loadConfig(SETTLE_SPEC);
  await settle(c.runtimeDir, c.quietMs, c.maxMs);
} catch (err) {
  process.stderr.write(`ferry-shipper settle: ${(err as Error).message}\n`);
}
