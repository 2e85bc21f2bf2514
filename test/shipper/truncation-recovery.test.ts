// A file truncated while the shipper runs gets a new generation id with its
// truncation count (`.t1`). If the checkpoint is then lost, the restarted
// shipper learns that count from the receiver, not by guessing 0: the lines
// of the truncated file are not sent a second time under another id.

import { appendFile, mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { latestTruncations } from '../../shipper/tail/generation.js';
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
