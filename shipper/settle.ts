// Settling: waiting until the workspace has stopped writing its runtime files,
// for the classic-container preStop hook (prestop.ts says why).

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { int } from '../shared/env.js';
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

/** Returns once nothing in `dir` has changed for `quietMs`, or after `maxMs` at the latest. */
export async function settle(dir: string, quietMs: number, maxMs: number): Promise<void> {
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
