// A file the shipper cannot read (a folder in its place, a FIFO, no read
// permission) is that file's trouble: counted by error code, logged once per
// change, retried with backoff. The other pipelines and the recording ship
// every line meanwhile, the shipper never exits for it, and the broken file
// ships everything once it is fixed. The shipper runs as `nobody` here (when
// the tests run as root), or a file without read permission would not be one.

import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdir, readFile, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { startRecordingWorld, type RecordingWorld } from '../helpers/recording.js';
import { shipperDirs, shipperEnv, startShipper, unprivileged, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);

let world: RecordingWorld;
let base: string;
let db: pg.Pool;

beforeAll(async () => {
  world = await startRecordingWorld();
  ({ base, db } = world);
});

const FILES = { commands: 'command-log.jsonl', events: 'state-events.jsonl', llm: 'llm-history.jsonl' } as const;
type Stream = keyof typeof FILES;
const TAG_SQL: Record<Stream, string> = {
  commands: 'SELECT command AS tag FROM command_log WHERE workspace_id = $1 ORDER BY id',
  events: "SELECT data->>'tag' AS tag FROM state_timeline WHERE workspace_id = $1 ORDER BY id",
  llm: "SELECT prompt_context->>'tag' AS tag FROM llm_interactions WHERE workspace_id = $1 ORDER BY id",
};

function line(stream: Stream, tag: string): string {
  if (stream === 'commands') return `${JSON.stringify({ command: tag, exit_code: 0, timestamp: 1763892000 })}\n`;
  if (stream === 'events') return `${JSON.stringify({ event_type: 'step_started', step_id: 's', data: { tag }, timestamp: 1763892000 })}\n`;
  return `${JSON.stringify({ step_id: 's', prompt_context: { tag }, response: 'r', model: 'm', requested_at: 1763892000 })}\n`;
}

function cast(from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `${JSON.stringify([(from + i) / 10, 'o', `output ${from + i}\r\n`])}\n`).join('');
}

async function metric(shipper: ShipperProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

it('a folder, a FIFO and a file it may not read: the other pipelines and the recording ship every line, the broken file everything once fixed', async () => {
  const ws = 'broken-files';
  const dirs = await shipperDirs();
  const as = await unprivileged(dirs);
  await mkdir(dirs.runtimeDir, { recursive: true });
  const path = (stream: Stream) => join(dirs.runtimeDir, FILES[stream]);
  const castPath = join(dirs.runtimeDir, 'session.cast');
  const written: Record<Stream, string[]> = { commands: [], events: [], llm: [] };
  let n = 0;
  /** Appends lines (to `into`, or to the stream's own file) and remembers them. */
  const append = async (stream: Stream, count: number, into = path(stream)) => {
    const tags = Array.from({ length: count }, () => `${stream}-${n++}`);
    await appendFile(into, tags.map((t) => line(stream, t)).join(''), { mode: 0o644 });
    written[stream].push(...tags);
  };
  const stored = async (stream: Stream) => (await db.query(TAG_SQL[stream], [ws])).rows.map((r) => r.tag as string);
  const allStored = (streams: Stream[]) => waitFor(async () => {
    for (const s of streams) if ((await stored(s)).length < written[s].length) return false;
    return true;
  }, `every line of ${streams.join(', ')}`, 20_000);
  let castBytes = 0;
  /** Lines for the files that work and the recording, a few at a time, while one file is broken. */
  const traffic = async (streams: Stream[]) => {
    for (let i = 0; i < 5; i++) {
      for (const s of streams) await append(s, 3);
      const text = cast(castBytes, 20);
      await appendFile(castPath, text);
      castBytes += text.length;
      await new Promise((r) => setTimeout(r, 100));
    }
    await allStored(streams);
  };

  // The commands file is a folder from the start; the others are fine.
  await mkdir(path('commands'));
  await writeFile(castPath, `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1763892000 })}\n`);
  castBytes = (await readFile(castPath)).length;
  const env = shipperEnv(base, dirs, ws, { ...world.s3.shipperEnv, RETRY_MAX_DELAY_MS: '300', RECORDING_SYNC_INTERVAL_MS: '100', RECORDING_IDLE_MS: '600000' });
  const shipper = await startShipper(env, as);
  const errorLogs = (stream: Stream) => shipper.logs.filter((l) => l.pipeline === stream && String(l.msg).startsWith('cannot read the file'));

  await traffic(['events', 'llm']);
  await waitFor(async () => (await metric(shipper, /ferry_shipper_file_errors_total\{pipeline="commands",code="EISDIR"\} (\d+)/)) >= 3, 'three failed attempts at the folder');
  expect(errorLogs('commands')).toHaveLength(1);
  expect(errorLogs('commands')[0]).toMatchObject({ level: 50, code: 'EISDIR', path: path('commands') });
  await rmdir(path('commands'));
  await append('commands', 40);
  await allStored(['commands']);
  expect(shipper.logs.some((l) => l.pipeline === 'commands' && l.msg === 'the file can be read again')).toBe(true);

  // The events file becomes a FIFO (opening one for reading must not wait for a writer).
  await rename(path('events'), `${path('events')}.old`);
  await exec('mkfifo', ['-m', '644', path('events')]);
  await traffic(['commands', 'llm']);
  await waitFor(async () => (await metric(shipper, /ferry_shipper_file_errors_total\{pipeline="events",code="ENOTREG"\} (\d+)/)) >= 3, 'three failed attempts at the FIFO');
  expect(errorLogs('events')).toHaveLength(1);
  await rm(path('events'));
  await append('events', 30);
  await allStored(['events']);

  // The llm file is replaced by one the shipper may not read; then its mode is fixed.
  await append('llm', 25, `${path('llm')}.next`);
  await chmod(`${path('llm')}.next`, 0o000);
  await rename(`${path('llm')}.next`, path('llm'));
  await traffic(['commands', 'events']);
  await waitFor(async () => (await metric(shipper, /ferry_shipper_file_errors_total\{pipeline="llm",code="EACCES"\} (\d+)/)) >= 3, 'three failed attempts at the unreadable file');
  expect(errorLogs('llm')).toHaveLength(1);
  await chmod(path('llm'), 0o644);
  await append('llm', 5);
  await allStored(['llm']);

  // Every line once, in order; the shipper never stopped; the recording is whole.
  for (const s of ['commands', 'events', 'llm'] as const) expect(await stored(s), s).toEqual(written[s]);
  expect(shipper.child.exitCode).toBeNull();
  shipper.child.kill('SIGTERM');
  expect((await shipper.exited).code, shipper.output()).toBe(0);
  expect((await world.served(ws)).bytes.equals(await readFile(castPath))).toBe(true);
}, 120_000);

it('a folder in the recording\'s place: counted under the recording pipeline, and the recording that follows is uploaded', async () => {
  const ws = 'broken-recording';
  const dirs = await shipperDirs();
  await mkdir(join(dirs.runtimeDir, 'session.cast'), { recursive: true });
  const shipper = await startShipper(shipperEnv(base, dirs, ws, { ...world.s3.shipperEnv, RETRY_MAX_DELAY_MS: '300', RECORDING_SYNC_INTERVAL_MS: '100' }));
  await waitFor(async () => (await metric(shipper, /ferry_shipper_file_errors_total\{pipeline="recording",code="EISDIR"\} (\d+)/)) >= 2, 'failed attempts at the folder');
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), line('commands', 'meanwhile'));
  await waitFor(async () => (await db.query('SELECT 1 FROM command_log WHERE workspace_id = $1', [ws])).rowCount === 1, 'commands ship meanwhile');
  await rmdir(join(dirs.runtimeDir, 'session.cast'));
  const text = `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1763892000 })}\n${cast(0, 50)}`;
  await writeFile(join(dirs.runtimeDir, 'session.cast'), text);
  shipper.child.kill('SIGTERM');
  expect((await shipper.exited).code, shipper.output()).toBe(0);
  expect((await world.served(ws)).bytes.toString()).toBe(text);
});

it('a symbolic link in a file\'s place is never followed: a file of the shipper\'s own (a secret) is not shipped, and the real file ships once it is there', async () => {
  const ws = 'symlinked-file';
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await mkdir(dirs.stateDir, { recursive: true });
  // What a student might point the file at: something only the shipper's container holds.
  const secret = join(dirs.stateDir, 'mounted-secret');
  await writeFile(secret, line('commands', 'THE-SECRET'));
  await symlink(secret, join(dirs.runtimeDir, FILES.commands));
  await writeFile(join(dirs.runtimeDir, FILES.events), line('events', 'event while linked'));
  const shipper = await startShipper(shipperEnv(base, dirs, ws));
  await waitFor(async () => (await db.query(TAG_SQL.events, [ws])).rows.length === 1, 'the events file ships meanwhile');
  await waitFor(async () => (await metric(shipper, /ferry_shipper_file_errors_total\{pipeline="commands",code="ELOOP"\} (\d+)/)) > 0, 'ELOOP counted');
  expect((await db.query('SELECT count(*)::int AS n FROM ingest_rejects WHERE workspace_id = $1', [ws])).rows[0].n).toBe(0);
  expect((await db.query(TAG_SQL.commands, [ws])).rows).toEqual([]);
  await rm(join(dirs.runtimeDir, FILES.commands));
  await writeFile(join(dirs.runtimeDir, FILES.commands), line('commands', 'the real one'));
  await waitFor(async () => (await db.query(TAG_SQL.commands, [ws])).rows.length === 1, 'the real file ships', 30_000);
  expect((await db.query(TAG_SQL.commands, [ws])).rows).toEqual([{ tag: 'the real one' }]);
  shipper.child.kill('SIGTERM');
  expect((await shipper.exited).code).toBe(0);
}, 60_000);
