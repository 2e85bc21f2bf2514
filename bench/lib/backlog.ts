// Backlog files for the benchmarks, written once and cached (bench/.cache),
// generated in chunks so a gigabyte never sits in memory.

import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLines } from '../../dev/workload.js';

const CACHE = fileURLToPath(new URL('../../../bench/.cache/', import.meta.url));
const CHUNK_LINES = 20_000;

export interface Backlog {
  path: string;
  lines: number;
  bytes: number;
}

/** command-log lines up to `targetBytes`, cached by size and seed. */
export async function commandBacklog(targetBytes: number, seed = 1, progress?: (m: string) => void): Promise<Backlog> {
  await mkdir(CACHE, { recursive: true });
  const path = join(CACHE, `commands-${targetBytes}-${seed}.jsonl`);
  const meta = `${path}.lines`;
  const cachedLines = await readFile(meta, 'utf8').then(Number, () => undefined);
  if (cachedLines !== undefined) return { path, lines: cachedLines, bytes: (await stat(path)).size };
  progress?.(`writing a ${(targetBytes / 1e6).toFixed(0)} MB backlog (cached in bench/.cache)`);
  const out = createWriteStream(path);
  let bytes = 0;
  let lines = 0;
  for (let chunk = 0; bytes < targetBytes; chunk++) {
    const text = commandLines(CHUNK_LINES, seed * 1_000_003 + chunk).map((l, i) => JSON.stringify({ ...l, command: `${l.command} #${lines + i}` })).join('\n') + '\n';
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
    bytes += Buffer.byteLength(text);
    lines += CHUNK_LINES;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  await writeFile(meta, String(lines));
  return { path, lines, bytes };
}
