// A file truncated while the shipper runs gets a new generation id with its
// truncation count (`.t1`). If the checkpoint is then lost, the restarted
// shipper learns that count from the receiver, not by guessing 0: the lines
// of the truncated file are not sent a second time under another id. The
// recording chooses its generation the same way, from the bucket
// (recording-faults.test.ts).

import { appendFile, mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { enterGeneration, latestTruncations } from '../../shipper/tail/generation.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const lines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ command: `${tag} ${i}`, exit_code: 0, timestamp: 1763892000 + i }) + '\n').join('');
const stored = async (ws: string) => (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command as string);

it('the truncation count comes from the ids the receiver holds for the file', () => {
  expect(latestTruncations('1.2.ab', [])).toBe(0);
  expect(latestTruncations('1.2.ab', ['1.2.ab', '1.2.ab.t1', '1.2.ab.t3', '1.2.abc.t9', '9.9.ab.t7', '1.2.ab.tx'])).toBe(3);
});

it('one choice of generation for every pipeline: a truncation seen, else the checkpoint naming the file, else what the destination holds', async () => {
  const file = { generation: (n: number) => `1.2.ab${n > 0 ? `.t${n}` : ''}` };
  const held = (ids: string[]) => async () => ids;
  const asked = () => { throw new Error('the destination is asked only when nothing else says'); };
  expect(await enterGeneration(file, 3, { generation: '1.2.ab.t1', truncations: 1 }, asked)).toEqual({ generation: '1.2.ab.t3', truncations: 3, known: false });
  expect(await enterGeneration(file, undefined, { generation: '1.2.ab.t1', truncations: 1 }, asked)).toEqual({ generation: '1.2.ab.t1', truncations: 1, known: true });
  // A checkpoint of another file (another inode or first line) says nothing about this one.
  expect(await enterGeneration(file, undefined, { generation: '7.7.cd', truncations: 0 }, held(['1.2.ab', '1.2.ab.t2']))).toEqual({ generation: '1.2.ab.t2', truncations: 2, known: false });
  expect(await enterGeneration(file, undefined, undefined, held([]))).toEqual({ generation: '1.2.ab', truncations: 0, known: false });
  expect(await enterGeneration(file, undefined, undefined, undefined)).toEqual({ generation: '1.2.ab', truncations: 0, known: false });
  expect(await enterGeneration(file, undefined, undefined, async () => undefined)).toBeUndefined();
});

it('truncated while running, then the checkpoint deleted: no line is sent twice', async () => {
  const ws = 'trunc-lost-checkpoint';
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const file = join(dirs.runtimeDir, 'command-log.jsonl');
  await writeFile(file, lines('first', 50));
  const shipper = await startShipper(shipperEnv(base, dirs, ws, { CHECKPOINT_INTERVAL_MS: '0' }));
  await waitFor(async () => (await stored(ws)).length === 50, 'the first generation');
  await truncate(file, 0);
  await appendFile(file, lines('second', 30));
  await waitFor(async () => (await stored(ws)).length === 80, 'the second generation');
  shipper.child.kill('SIGKILL');
  await shipper.exited;
  await rm(join(dirs.stateDir, 'checkpoints.json'), { force: true });

  await appendFile(file, lines('third', 10).replaceAll('third', 'second later'));
  const again = await startShipper(shipperEnv(base, dirs, ws));
  await waitFor(async () => (await stored(ws)).length >= 90, 'the lines appended after the restart');
  await new Promise((r) => setTimeout(r, 500));
  again.child.kill('SIGTERM');
  expect((await again.exited).code).toBe(0);
  const commands = await stored(ws);
  expect(commands).toHaveLength(90);
  expect(new Set(commands).size).toBe(90);
});
