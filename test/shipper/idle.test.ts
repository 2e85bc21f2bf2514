// An idle shipper does no work: a filesystem notification wakes the file's
// pipeline, nothing polls but a rare safety net, and nothing is written while
// nothing changes. (What idleness costs in CPU and memory is measured by the
// benchmark `idle`, not here.)

import { appendFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let base: string;
let db: ReturnType<typeof queryPool>;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const line = (i: number) => `${JSON.stringify({ command: `cmd ${i}`, exit_code: 0, timestamp: 1763892000 + i })}\n`;
const stored = async (ws: string) => (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polling so rare that a line stored within seconds can only have been woken by a notification. */
const NO_POLLING = { POLL_INTERVAL_MS: '60000', SAFETY_POLL_INTERVAL_MS: '600000' };

describe('an idle shipper', () => {
  it('ships a line as soon as it is written, woken by the notification, not a poll', async () => {
    const ws = 'idle-notified';
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const file = join(dirs.runtimeDir, 'command-log.jsonl');
    await writeFile(file, line(0));
    const shipper = await startShipper(shipperEnv(base, dirs, ws, NO_POLLING));
    await waitFor(async () => (await stored(ws)).length === 1, 'the first line', 5_000);
    for (let i = 1; i <= 3; i++) {
      await sleep(300);
      await appendFile(file, line(i));
      await waitFor(async () => (await stored(ws)).length === i + 1, `line ${i}`, 3_000);
    }
    expect(await stored(ws)).toEqual(['cmd 0', 'cmd 1', 'cmd 2', 'cmd 3']);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code).toBe(0);
  });

  it('writes no checkpoint while nothing changes', async () => {
    const ws = 'idle-no-writes';
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), Array.from({ length: 20 }, (_, i) => line(i)).join(''));
    const shipper = await startShipper(shipperEnv(base, dirs, ws, { CHECKPOINT_INTERVAL_MS: '50', SAFETY_POLL_INTERVAL_MS: '200' }));
    await waitFor(async () => (await stored(ws)).length === 20, 'the lines', 5_000);
    const checkpoint = join(dirs.stateDir, 'checkpoints.json');
    await sleep(500);
    const before = (await stat(checkpoint)).mtimeMs;
    // Several safety polls and polls of the files that do not exist: none of them moves anything.
    await sleep(1_500);
    expect((await stat(checkpoint)).mtimeMs).toBe(before);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code).toBe(0);
  });

  it('watches a runtime folder created after it started, and one replaced under its path', async () => {
    const ws = 'idle-folder-replaced';
    const dirs = await shipperDirs();
    // The unwatched folder is looked for every POLL_INTERVAL_MS (at least a second); the watched one only by the safety poll.
    const shipper = await startShipper(shipperEnv(base, dirs, ws, { POLL_INTERVAL_MS: '100', SAFETY_POLL_INTERVAL_MS: '600000' }));
    await mkdir(dirs.runtimeDir);
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), line(0));
    await waitFor(async () => (await stored(ws)).length === 1, 'the line in the new folder', 5_000);

    // The folder moved away and a new one in its place: its file is a new one, shipped from its start.
    await rename(dirs.runtimeDir, `${dirs.runtimeDir}.old`);
    await mkdir(dirs.runtimeDir);
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), line(1));
    await waitFor(async () => (await stored(ws)).length === 2, 'the line in the replacing folder', 5_000);
    await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), line(2));
    await waitFor(async () => (await stored(ws)).length === 3, 'a later line, by notification', 3_000);
    expect(await stored(ws)).toEqual(['cmd 0', 'cmd 1', 'cmd 2']);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code).toBe(0);
    await rm(`${dirs.runtimeDir}.old`, { recursive: true });
  });
});
