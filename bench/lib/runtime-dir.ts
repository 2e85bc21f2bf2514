// A workspace's runtime folder made of backlog files (symlinks, so a
// gigabyte is not copied), under the names the shipper tails by default.

import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LineStream } from '../../shared/wire.js';
import type { Backlog } from './backlog.js';

/** The shipper's default file of each stream (PIPELINES). */
export const FILE_OF: Record<LineStream, string> = { commands: 'command-log.jsonl', events: 'state-events.jsonl', llm: 'llm-history.jsonl' };

/** `<dir>/runtime` holding the backlogs given; returns the runtime and state folders. */
export async function runtimeOf(dir: string, backlogs: Partial<Record<LineStream, Backlog>>): Promise<{ RUNTIME_DIR: string; STATE_DIR: string }> {
  const runtime = join(dir, 'runtime');
  await mkdir(runtime, { recursive: true });
  for (const [stream, b] of Object.entries(backlogs) as Array<[LineStream, Backlog]>) await symlink(b.path, join(runtime, FILE_OF[stream]));
  return { RUNTIME_DIR: runtime, STATE_DIR: join(dir, 'state') };
}
