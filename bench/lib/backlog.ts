// Backlog files for the benchmarks, written once and cached (bench/.cache),
// generated in chunks so a gigabyte never sits in memory. Chunks depend only
// on the seed and their index, so a smaller backlog of a seed is a prefix of a
// larger one: the peer runs on the first 100 MB of the catch-up's file.

import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../dev/random.js';
import { commandLines, llmLine, stateEvent } from '../../dev/workload.js';
import type { LineStream } from '../../shared/wire.js';

export const CACHE = fileURLToPath(new URL('../../../bench/.cache/', import.meta.url));

export interface Backlog {
  path: string;
  lines: number;
  bytes: number;
}

/** Lines of one chunk of a stream's backlog; `first` numbers them across chunks. */
const CHUNKS: Record<LineStream, { lines: number; make(seed: number, first: number): string[] }> = {
  // Each command ends in ` #<line number>`: the crash runs count lost and doubled lines by it.
  commands: { lines: 20_000, make: (seed, first) => commandLines(20_000, seed).map((l, i) => JSON.stringify({ ...l, command: `${l.command} #${first + i}` })) },
  events: {
    lines: 20_000,
    make: (seed, first) => {
      const rand = seededRandom(seed);
      return Array.from({ length: 20_000 }, (_, i) => JSON.stringify(stateEvent(rand, first + i)));
    },
  },
  // Tutor calls with prompts of 5-50 KB, as a workspace writes them.
  llm: {
    lines: 200,
    make: (seed, first) => {
      const rand = seededRandom(seed);
      return Array.from({ length: 200 }, (_, i) => JSON.stringify(llmLine(rand, first + i, 5_000 + Math.floor(rand() * 45_000))));
    },
  },
};

/** A stream's lines up to `targetBytes`, cached by stream, size and seed. */
export async function backlog(stream: LineStream, targetBytes: number, seed = 1, progress?: (m: string) => void): Promise<Backlog> {
  await mkdir(CACHE, { recursive: true });
  const path = join(CACHE, `${stream}-${targetBytes}-${seed}.jsonl`);
  const meta = `${path}.lines`;
  const cachedLines = await readFile(meta, 'utf8').then(Number, () => undefined);
  if (cachedLines !== undefined) return { path, lines: cachedLines, bytes: (await stat(path)).size };
  progress?.(`writing a ${(targetBytes / 1e6).toFixed(0)} MB ${stream} backlog (cached in bench/.cache)`);
  const out = createWriteStream(path);
  const kind = CHUNKS[stream];
  let bytes = 0;
  let lines = 0;
  for (let chunk = 0; bytes < targetBytes; chunk++) {
    const text = kind.make(seed * 1_000_003 + chunk, lines).join('\n') + '\n';
    if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
    bytes += Buffer.byteLength(text);
    lines += kind.lines;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  await writeFile(meta, String(lines));
  return { path, lines, bytes };
}

/** command-log lines up to `targetBytes`. */
export function commandBacklog(targetBytes: number, seed = 1, progress?: (m: string) => void): Promise<Backlog> {
  return backlog('commands', targetBytes, seed, progress);
}
