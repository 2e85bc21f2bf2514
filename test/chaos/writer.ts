// A workspace that writes its four runtime files while the chaos runs, and
// remembers every complete line it wrote: which generation of which file, and
// whether it must be stored or rejected (and why). Lines are realistic
// (dev/workload.ts) and each carries a unique tag the verifier finds again.

import { appendFile, mkdir, rename, rmdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pick } from '../../dev/random.js';
import { commandLines, llmLine, stateEvent } from '../../dev/workload.js';
import type { LineStream } from '../../shared/wire.js';
import type { RuntimeFile } from './schedule.js';

export const FILES: Record<LineStream, string> = { commands: 'command-log.jsonl', events: 'state-events.jsonl', llm: 'llm-history.jsonl' };
export const CAST = 'session.cast';

/** Over the shipper's MAX_LINE_BYTES in the chaos run, so the shipper reports it. */
export const OVERSIZE_BYTES = 80 * 1024;
export const SHIPPER_MAX_LINE = '64KiB';

export interface WrittenLine {
  tag: string;
  /** 'row', or the reject reason it must be stored with. */
  outcome: 'row' | 'bad_json' | 'line_too_long';
}

export interface Generation {
  lines: WrittenLine[];
  /** Truncated or replaced: lines not shipped before that are legitimately gone, so only a prefix must be stored. */
  superseded: boolean;
}

export interface Writer {
  workspace: string;
  runtimeDir: string;
  generations: Record<LineStream, Generation[]>;
  castBytes(): number;
  /** Writes for one tick (called by the run's clock). */
  tick(): Promise<void>;
  /** Truncates (or replaces by rename) a file that is big enough; false when none is. */
  rewrite(stream: LineStream, how: 'truncate' | 'replace'): Promise<boolean>;
  /** Puts a folder in the file's place for `forMs`, then the file back (it is written under another name meanwhile); false when there is no file yet. */
  unreadable(file: RuntimeFile, forMs: number): Promise<boolean>;
}

/** Big enough that the file cannot regrow past the shipper's offset before the shipper notices the rewrite. */
const REWRITE_MIN_BYTES = 128 * 1024;

export async function createWriter(workspace: string, runtimeDir: string, rand: () => number): Promise<Writer> {
  await mkdir(runtimeDir, { recursive: true });
  const generations: Record<LineStream, Generation[]> = { commands: [], events: [], llm: [] };
  // A line (maybe written in two halves) and a rewrite of the same file never interleave.
  const queues: Record<RuntimeFile, Promise<unknown>> = { commands: Promise.resolve(), events: Promise.resolve(), llm: Promise.resolve(), recording: Promise.resolve() };
  const exclusive = <T>(file: RuntimeFile, work: () => Promise<T>): Promise<T> => {
    const run = queues[file].then(work);
    queues[file] = run.catch(() => undefined);
    return run;
  };
  const pathOf = (file: RuntimeFile) => join(runtimeDir, file === 'recording' ? CAST : FILES[file]);
  /** Where a file is written while a folder is in its place: the same file, under another name. */
  const setAside = new Set<RuntimeFile>();
  const writePath = (file: RuntimeFile) => (setAside.has(file) ? `${pathOf(file)}.aside` : pathOf(file));
  let seq = 0;
  let cast = 0;

  const appendCast = (text: string) => exclusive('recording', async () => {
    await appendFile(writePath('recording'), text);
    cast += Buffer.byteLength(text);
  });
  await appendCast(`${JSON.stringify({ version: 2, width: 120, height: 40, timestamp: 1763892000, env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } })}\n`);

  const tagOf = (stream: LineStream) => `${workspace}/${stream}/${generations[stream].length}/${seq++}`;

  function body(stream: LineStream, tag: string): string {
    const now = new Date().toISOString();
    if (stream === 'commands') {
      const [c] = commandLines(1, Math.floor(rand() * 1e9));
      return JSON.stringify({ ...c, command: `${tag} ${c!.command}`, timestamp: now });
    }
    if (stream === 'events') return JSON.stringify({ ...stateEvent(rand, seq), tag, timestamp: now });
    const l = llmLine(rand, seq, 500 + Math.floor(rand() * 8_000));
    return JSON.stringify({ ...l, prompt_context: { ...(l.prompt_context as object), tag }, requested_at: now });
  }

  /** Appends one line; a new generation starts with it when the file has none. */
  async function line(stream: LineStream): Promise<void> {
    if (generations[stream].length === 0) generations[stream].push({ lines: [], superseded: false });
    const tag = tagOf(stream);
    const roll = rand();
    let text: string;
    let outcome: WrittenLine['outcome'] = 'row';
    if (roll < 0.01) {
      text = `{"tag":"${tag}","broken`;
      outcome = 'bad_json';
    } else if (roll < 0.013 && stream !== 'events') {
      text = `{"tag":"${tag}","command":"${'x'.repeat(OVERSIZE_BYTES)}"}`;
      outcome = 'line_too_long';
    } else {
      text = body(stream, tag);
    }
    const file = writePath(stream);
    if (rand() < 0.1) {
      // Half a line now, the rest a moment later: the shipper must wait for the newline.
      const cut = Math.floor(text.length / 2);
      await appendFile(file, text.slice(0, cut));
      await new Promise((r) => setTimeout(r, rand() * 200));
      await appendFile(file, `${text.slice(cut)}\n`);
    } else {
      await appendFile(file, `${text}\n`);
    }
    generations[stream].at(-1)!.lines.push({ tag, outcome });
  }

  return {
    workspace,
    runtimeDir,
    generations,
    castBytes: () => cast,
    async tick() {
      const n = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) {
        const stream = pick(rand, ['commands', 'commands', 'commands', 'commands', 'events', 'events', 'llm'] as const);
        await exclusive(stream, () => line(stream));
        if (stream === 'commands') {
          const t = (cast % 100_000) / 10;
          await appendCast(`${JSON.stringify([t, 'o', `$ ${seq}\r\n${'output line\r\n'.repeat(1 + Math.floor(rand() * 8))}`])}\n`);
        }
      }
    },
    rewrite(stream, how) {
      return exclusive(stream, async () => {
        const file = pathOf(stream);
        const size = (await stat(file).catch(() => ({ size: 0 }))).size;
        if (size < REWRITE_MIN_BYTES) return false;
        generations[stream].at(-1)!.superseded = true;
        generations[stream].push({ lines: [], superseded: false });
        // The new generation's first line is unique, so its identity differs from every earlier one.
        const tag = tagOf(stream);
        const first = `${body(stream, tag)}\n`;
        if (how === 'truncate') {
          await truncate(file, 0);
          await appendFile(file, first);
        } else {
          await writeFile(`${file}.new`, first);
          await rename(`${file}.new`, file);
        }
        generations[stream].at(-1)!.lines.push({ tag, outcome: 'row' });
        // Writes to this file wait a moment, so the shipper sees the short new file first.
        await new Promise((r) => setTimeout(r, 1000));
        return true;
      });
    },
    async unreadable(file, forMs) {
      const aside = await exclusive(file, async () => {
        if (!(await stat(pathOf(file)).then(() => true, () => false))) return false;
        await rename(pathOf(file), `${pathOf(file)}.aside`);
        await mkdir(pathOf(file));
        setAside.add(file);
        return true;
      });
      if (!aside) return false;
      await new Promise((r) => setTimeout(r, forMs));
      await exclusive(file, async () => {
        await rmdir(pathOf(file));
        await rename(`${pathOf(file)}.aside`, pathOf(file));
        setAside.delete(file);
      });
      return true;
    },
  };
}
