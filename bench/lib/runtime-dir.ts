// A workspace's runtime folder made of backlog files (hard links, so a
// gigabyte is not copied; the shipper never opens a runtime file through a
// symbolic link), under the names the shipper tails by default.

import { copyFile, link, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LineStream } from '../../shared/wire.js';
import type { Backlog } from './backlog.js';

/** The shipper's default file of each stream (PIPELINES). */
export const FILE_OF: Record<LineStream, string> = { commands: 'command-log.jsonl', events: 'state-events.jsonl', llm: 'llm-history.jsonl' };

/** `<dir>/runtime` holding the backlogs given; returns the runtime and state folders. */
export async function runtimeOf(dir: string, backlogs: Partial<Record<LineStream, Backlog>>): Promise<{ RUNTIME_DIR: string; STATE_DIR: string }> {
  const runtime = join(dir, 'runtime');
  await mkdir(runtime, { recursive: true });
  for (const [stream, b] of Object.entries(backlogs) as Array<[LineStream, Backlog]>) await placeFile(b.path, join(runtime, FILE_OF[stream]));
  return { RUNTIME_DIR: runtime, STATE_DIR: join(dir, 'state') };
}

/** `path` at `target` too: a hard link, or a copy where the two are on different file systems. */
export async function placeFile(path: string, target: string): Promise<void> {
  await link(path, target).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EXDEV') throw err;
    await copyFile(path, target);
  });
}
