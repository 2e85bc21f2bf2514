// Model-based: fast-check generates sequences of what can happen to a
// workspace (appends, partial and over-long lines, a line cut while it is
// scanned, truncations, replacements, a file made unreadable and readable
// again, restarts by SIGTERM or SIGKILL with the checkpoint kept, deleted or
// corrupted, and the recording growing, truncated and rewritten) and plays
// them against the real shipper (as `nobody` when the tests run as root),
// receiver, PostgreSQL and s3rver. An in-memory model says which lines must be
// stored or rejected, and which recording bytes must be durable; after a clean
// stop the whole recording must be, and no generation's segments may be
// anything but a prefix of what that file held (no splice).
//
// A failing sequence is shrunk to a minimal one and printed with its seed and
// path. Longer runs: MODEL_RUNS=40 MODEL_COMMANDS=60; another or a failing
// sequence: MODEL_SEED=<seed> [MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath>].

import { appendFile, chmod, mkdir, readFile, rename, rm, rmdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { castEvents, castHeader, startRecordingWorld, type RecordingWorld } from '../helpers/recording.js';
import type { RunAs } from '../helpers/process.js';
import { shipperDirs, shipperEnv, startShipper, unprivileged, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

const RUNS = Number(process.env.MODEL_RUNS ?? 8);
const COMMANDS = Number(process.env.MODEL_COMMANDS ?? 40);
const SEED = Number(process.env.MODEL_SEED ?? 20261130);
/** The shipper's MAX_LINE_BYTES: over-long lines stay small enough to write often. */
const MAX_LINE = 2048;
const JSONL = 'command-log.jsonl';
const CAST = 'session.cast';

let world: RecordingWorld;

beforeAll(async () => {
  world = await startRecordingWorld();
});

type Outcome = { row: string } | { reject: string };

interface Model {
  /** Every complete line of the JSONL file so far, across its generations, in order: stored or rejected. */
  lines: Outcome[];
  /** The file's last line without its newline: what is in the file, and what completes it. */
  partial?: { text: string; rest: string };
  /** Bytes of the current JSONL generation. */
  bytes: number;
  /** The JSONL file cannot be read: no read permission, or a folder in its place (the file is set aside meanwhile). */
  broken?: 'mode' | 'folder';
  running: boolean;
  /** Each recording generation's content, the current one last. */
  cast: string[];
  /** Lines written so far, to make each one unique. */
  n: number;
}

interface Real {
  ws: string;
  env: Record<string, string>;
  as?: RunAs;
  jsonl: string;
  cast: string;
  stateFile: string;
  shipper?: ShipperProcess;
}

/** What the receiver makes of a complete line (without its newline). */
function outcome(text: string): Outcome {
  if (Buffer.byteLength(text) > MAX_LINE) return { reject: 'line_too_long' };
  if (text === '') return { reject: 'empty_line' };
  try {
    return { row: (JSON.parse(text) as { command: string }).command };
  } catch {
    return { reject: 'bad_json' };
  }
}

function commandLine(m: Model, ws: string, unicode: boolean): string {
  const i = m.n++;
  return JSON.stringify({ command: `${ws} #${i} ${'x'.repeat(i % 97)}${unicode ? ' 🚀 ünï' : ''}`, exit_code: i % 5, timestamp: 1763892000 + i });
}

/** Where the JSONL file is now: set aside while a folder takes its place. */
const jsonlNow = (m: Model, r: Real) => (m.broken === 'folder' ? `${r.jsonl}.aside` : r.jsonl);

async function appendJsonl(m: Model, r: Real, text: string): Promise<void> {
  await appendFile(jsonlNow(m, r), text);
  m.bytes += Buffer.byteLength(text);
}

/** The shipper must never exit by itself. */
function alive(m: Model, r: Real): void {
  if (m.running && r.shipper!.child.exitCode !== null) throw new Error(`the shipper exited by itself (${r.shipper!.child.exitCode}):\n${r.shipper!.output().slice(-3000)}`);
}

async function start(m: Model, r: Real): Promise<void> {
  r.shipper = await startShipper(r.env, r.as);
  m.running = true;
}

async function stop(m: Model, r: Real, signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null> {
  r.shipper!.child.kill(signal);
  const exit = await r.shipper!.exited;
  m.running = false;
  return exit.code;
}

async function storedOutcomes(ws: string): Promise<Outcome[]> {
  const rows = (await world.db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((x) => ({ row: x.command as string }));
  const rejects = (await world.db.query('SELECT reason FROM ingest_rejects WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((x) => ({ reject: x.reason as string }));
  return [...rows, ...rejects];
}

/** Rows and rejects in file order, as the model has them (each kind keeps its order). */
function split(outcomes: Outcome[]): Outcome[] {
  return [...outcomes.filter((o) => 'row' in o), ...outcomes.filter((o) => 'reject' in o)];
}

/** Waits until every complete line is stored or rejected (the shipper running). */
async function settle(m: Model, r: Real): Promise<void> {
  if (!m.running) await start(m, r);
  await waitFor(async () => (await storedOutcomes(r.ws)).length >= m.lines.length, `${m.lines.length} lines stored or rejected`, 30_000);
}

function castTail(m: Model): string {
  return m.cast.at(-1)!;
}

/** The recording's generation from the checkpoint the shipper left. */
async function checkpointedGeneration(r: Real): Promise<string | undefined> {
  const text = await readFile(r.stateFile, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as { extra: { recording?: { generation: string } } }).extra.recording?.generation;
}

/** After a clean stop, all of the recording is durable and served. */
async function recordingDurable(m: Model, r: Real): Promise<void> {
  const content = castTail(m);
  if (!content.includes('\n')) return; // no first line yet: nothing to identify it by
  const generation = await checkpointedGeneration(r);
  expect(generation, 'the checkpoint names the recording\'s generation').toBeDefined();
  const served = await world.served(r.ws, generation);
  expect(served.bytes.toString(), `the recording served for generation ${generation}`).toBe(content);
}

type Cmd = fc.AsyncCommand<Model, Real>;

function command(name: string, check: (m: Readonly<Model>) => boolean, run: (m: Model, r: Real) => Promise<void>): Cmd {
  return {
    check,
    async run(m, r) {
      alive(m, r);
      await run(m, r);
      alive(m, r);
    },
    toString: () => name,
  };
}

const append = fc.record({ count: fc.integer({ min: 1, max: 40 }), unicode: fc.boolean() }).map(({ count, unicode }) => command(`append(${count}${unicode ? ', unicode' : ''})`, () => true, async (m, r) => {
  const lines = Array.from({ length: count }, () => commandLine(m, r.ws, unicode));
  const completed = m.partial ? m.partial.text + m.partial.rest : undefined;
  await appendJsonl(m, r, `${m.partial ? `${m.partial.rest}\n` : ''}${lines.join('\n')}\n`);
  if (completed !== undefined) m.lines.push(outcome(completed));
  m.partial = undefined;
  m.lines.push(...lines.map(outcome));
}));

const appendPartial = fc.record({ cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }), unicode: fc.boolean() }).map(({ cut, unicode }) => command(`append_partial(${cut.toFixed(2)})`, (m) => !m.partial, async (m, r) => {
  const cps = Array.from(commandLine(m, r.ws, unicode));
  const at = Math.max(1, Math.floor(cps.length * cut));
  m.partial = { text: cps.slice(0, at).join(''), rest: cps.slice(at).join('') };
  await appendJsonl(m, r, m.partial.text);
}));

const appendLong = fc.record({ bytes: fc.integer({ min: MAX_LINE + 1, max: 6 * MAX_LINE }), complete: fc.boolean() }).map(({ bytes, complete }) => command(`append_long(${bytes}, ${complete ? 'complete' : 'still being written'})`, (m) => !m.partial, async (m, r) => {
  const head = `{"command":"${r.ws} long #${m.n++} `;
  const text = head + 'y'.repeat(bytes - head.length);
  const rest = '","exit_code":0,"timestamp":1763892000}';
  if (complete) {
    await appendJsonl(m, r, `${text}${rest}\n`);
    m.lines.push(outcome(text + rest));
  } else {
    m.partial = { text, rest };
    await appendJsonl(m, r, text);
  }
}));

const completePartial = fc.constant(command('complete_partial', (m) => m.partial !== undefined, async (m, r) => {
  const line = m.partial!.text + m.partial!.rest;
  await appendJsonl(m, r, `${m.partial!.rest}\n`);
  m.partial = undefined;
  m.lines.push(outcome(line));
}));

// The file cut inside its last line: the line the shipper may be scanning as over-long (and beyond the cut).
const cutPartial = fc.double({ min: 0, max: 0.9, noNaN: true }).map((keep) => command(`cut_last_line(keep ${keep.toFixed(2)})`, (m) => m.partial !== undefined, async (m, r) => {
  const cps = Array.from(m.partial!.text);
  const kept = cps.slice(0, Math.max(1, Math.floor(cps.length * keep))).join('');
  m.bytes -= Buffer.byteLength(m.partial!.text) - Buffer.byteLength(kept);
  await truncate(jsonlNow(m, r), m.bytes);
  // What completes it now is only its newline.
  m.partial = { text: kept, rest: '' };
}));

const rewrite = fc.record({ how: fc.constantFrom('truncate', 'replace'), count: fc.integer({ min: 1, max: 5 }) }).map(({ how, count }) => command(`${how}(${count})`, (m) => !m.broken, async (m, r) => {
  // What was not shipped when a file is cut is gone: let the shipper catch up first.
  await settle(m, r);
  const lines = Array.from({ length: count }, () => commandLine(m, r.ws, false));
  const text = `${lines.join('\n')}\n`;
  if (how === 'truncate') {
    await truncate(r.jsonl, 0);
    await appendFile(r.jsonl, text);
  } else {
    await writeFile(`${r.jsonl}.next`, text);
    await rename(`${r.jsonl}.next`, r.jsonl);
  }
  m.partial = undefined;
  m.bytes = Buffer.byteLength(text);
  m.lines.push(...lines.map(outcome));
}));

const GARBAGE = { half: '{"version":1,"files":{"comm', binary: '\0\u00ff\u00fe garbage', 'wrong-version': '{"version":99}' } as const;
const restart = fc.record({
  signal: fc.constantFrom('SIGTERM' as const, 'SIGKILL' as const),
  checkpoint: fc.constantFrom('kept', 'deleted', ...(Object.keys(GARBAGE) as Array<keyof typeof GARBAGE>)),
  again: fc.boolean(),
}).map(({ signal, checkpoint, again }) => command(`stop(${signal}, checkpoint ${checkpoint}${again ? ', start again' : ''})`, (m) => m.running, async (m, r) => {
  const code = await stop(m, r, signal);
  if (signal === 'SIGTERM') {
    // An unreadable file is left unshipped, and the drain says so (exit 1); everything else is shipped, the recording included.
    expect(m.broken ? [0, 1] : [0], r.shipper!.output().slice(-3000)).toContain(code);
    await recordingDurable(m, r);
  }
  if (checkpoint === 'deleted') await rm(r.stateFile, { force: true });
  else if (checkpoint !== 'kept') await writeFile(r.stateFile, GARBAGE[checkpoint]);
  if (again) await start(m, r);
}));

const startAgain = fc.constant(command('start', (m) => !m.running, start));

const settleCmd = fc.constant(command('settle', (m) => !m.broken, settle));

const unreadable = fc.constantFrom('mode' as const, 'folder' as const).map((how) => command(`unreadable(${how})`, (m) => !m.broken, async (m, r) => {
  if (how === 'mode') await chmod(r.jsonl, 0o000);
  else {
    await rename(r.jsonl, `${r.jsonl}.aside`);
    await mkdir(r.jsonl);
  }
  m.broken = how;
}));

const makeReadable = command('readable', (m) => m.broken !== undefined, async (m, r) => {
  if (m.broken === 'mode') await chmod(r.jsonl, 0o644);
  else {
    await rmdir(r.jsonl);
    await rename(`${r.jsonl}.aside`, r.jsonl);
  }
  m.broken = undefined;
});

const castAppend = fc.record({ count: fc.integer({ min: 1, max: 200 }), partialEnd: fc.boolean() }).map(({ count, partialEnd }) => command(`cast_append(${count}${partialEnd ? ', partial end' : ''})`, () => true, async (m, r) => {
  const open = !castTail(m).endsWith('\n');
  const text = `${open ? '"]\n' : ''}${castEvents(m.n, count)}${partialEnd ? `[${m.n}.5, "o", "half` : ''}`;
  m.n += count;
  await appendFile(r.cast, text);
  m.cast[m.cast.length - 1] += text;
}));

// A new recording in the same file. A new header (asciinema's holds the start
// time) makes a new identity; the same header leaves only the truncation to
// tell the generations apart, so the shipper must be running, have synced, and
// see it before the file grows again (while it is stopped, that is the
// documented limit of identity).
const castTruncate = fc.record({ sameHeader: fc.boolean(), count: fc.integer({ min: 0, max: 50 }) }).map(({ sameHeader, count }) => command(
  `cast_truncate(${sameHeader ? 'same header' : 'new header'}, ${count})`,
  (m) => !sameHeader || (m.running && castTail(m).lastIndexOf('\n') > castTail(m).indexOf('\n')),
  async (m, r) => {
    const before = castTail(m);
    // Setup's header has the first start time; every new one a later one.
    const header = sameHeader ? before.slice(0, before.indexOf('\n') + 1) : castHeader(1763892001 + m.n++);
    if (sameHeader) {
      // Every complete line durable (a stop may have made the last partial one durable too): the truncation makes the file shorter than that.
      const complete = before.slice(0, before.lastIndexOf('\n') + 1);
      await waitFor(async () => {
        const generation = await checkpointedGeneration(r);
        const durable = generation === undefined ? '' : (await world.segmentBytes(r.ws, generation)).toString();
        return durable.length >= complete.length && before.startsWith(durable);
      }, 'the recording synced', 20_000);
    }
    const seen = () => r.shipper?.logs.filter((l) => l.msg === 'recording generation' && l.reason !== 'resumed').length ?? 0;
    const generationsSeen = seen();
    await truncate(r.cast, 0);
    await appendFile(r.cast, header);
    if (sameHeader) await waitFor(() => seen() > generationsSeen, 'the shipper sees the truncation', 20_000);
    const events = castEvents(m.n, count);
    m.n += count;
    await appendFile(r.cast, events);
    m.cast.push(header + events);
  },
));

const COMMAND_ARBITRARIES = [
  append, append, appendPartial, completePartial, appendLong, cutPartial, rewrite, restart, restart, startAgain, settleCmd,
  unreadable, fc.constant(makeReadable), castAppend, castAppend, castTruncate,
];

let runs = 0;

/** A fresh workspace with its files and a running shipper. */
async function setup(batchEvents: number): Promise<{ model: Model; real: Real }> {
  const ws = `model-${SEED}-${runs++}`;
  const dirs = await shipperDirs();
  const as = await unprivileged(dirs);
  await mkdir(dirs.runtimeDir, { recursive: true });
  const real: Real = {
    ws,
    as,
    jsonl: join(dirs.runtimeDir, JSONL),
    cast: join(dirs.runtimeDir, CAST),
    stateFile: join(dirs.stateDir, 'checkpoints.json'),
    env: shipperEnv(world.base, dirs, ws, {
      ...world.s3.shipperEnv, PIPELINES: `commands:${JSONL}:commands`, MAX_LINE_BYTES: String(MAX_LINE), COMMANDS_BATCH_MAX_EVENTS: String(batchEvents),
      RECORDING_SYNC_INTERVAL_MS: '200', RECORDING_IDLE_MS: '600000', CHECKPOINT_INTERVAL_MS: '100', RETRY_MAX_DELAY_MS: '300',
    }),
  };
  const header = castHeader(1763892000);
  await writeFile(real.jsonl, '');
  await writeFile(real.cast, header);
  const model: Model = { lines: [], bytes: 0, running: false, cast: [header], n: 0 };
  await start(model, real);
  return { model, real };
}

/** Everything made readable and shipped, then stopped cleanly: the database and the bucket hold what the model says. */
async function finalCheck(m: Model, r: Real): Promise<void> {
  alive(m, r);
  if (m.broken) await makeReadable.run(m, r);
  await settle(m, r);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stored = await storedOutcomes(r.ws);
  const expected = split(m.lines);
  const at = stored.findIndex((o, i) => JSON.stringify(o) !== JSON.stringify(expected[i]));
  if (at !== -1 || stored.length !== expected.length) {
    const from = Math.max(0, (at === -1 ? expected.length : at) - 2);
    const shown = (list: Outcome[]) => list.slice(from, from + 5).map((o) => JSON.stringify(o).slice(0, 80)).join('\n  ');
    throw new Error(`stored ${stored.length} outcomes, the model ${expected.length}; from #${from}:\nstored:\n  ${shown(stored)}\nmodel:\n  ${shown(expected)}\nshipper:\n${r.shipper!.output().slice(-4000)}`);
  }
  expect(await stop(m, r, 'SIGTERM'), r.shipper!.output().slice(-3000)).toBe(0);
  await recordingDurable(m, r);
  // No generation's segments are anything but a prefix of what its file held.
  for (const generation of await world.generations(r.ws)) {
    const segments = (await world.segmentBytes(r.ws, generation)).toString();
    expect(m.cast.some((content) => content.startsWith(segments)), `segments of ${generation} (${segments.length} bytes) are a prefix of a recording written`).toBe(true);
  }
  expect((await world.s3.pendingUploads()).filter((u) => u.key.startsWith(`recordings/${r.ws}/`)), 'multipart uploads left open').toEqual([]);
}

it('random sequences against the real shipper: every line stored or rejected once, the recording durable, never spliced', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.commands(COMMAND_ARBITRARIES, { maxCommands: COMMANDS, size: 'max', replayPath: process.env.MODEL_REPLAY_PATH }), async (batchEvents, cmds) => {
      const { model, real } = await setup(batchEvents);
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        await finalCheck(model, real);
      } finally {
        real.shipper?.child.kill('SIGKILL');
      }
    }),
    {
      seed: SEED,
      numRuns: RUNS,
      path: process.env.MODEL_PATH,
      // A failure is shrunk for at most this long; the smallest sequence found by then is printed.
      interruptAfterTimeLimit: 20 * 60_000,
    },
  );
}, 30 * 60_000);
