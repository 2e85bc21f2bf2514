// SIGTERM: everything written before it is in the database when the shipper
// exits 0; past the deadline it exits non-zero with checkpoints written.

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { freePort } from '../../dev/free-port.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const lines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ command: `${tag} ${i}`, exit_code: 0, timestamp: 1763892000 + i }) + '\n').join('');

it('lines appended just before SIGTERM are all stored when it exits 0', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const shipper = await startShipper(shipperEnv(base, dirs, 'drain', { POLL_INTERVAL_MS: '5000' }));
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('before', 1000));
  await appendFile(join(dirs.runtimeDir, 'state-events.jsonl'), JSON.stringify({ event_type: 'connected', timestamp: 1 }) + '\n');
  // Appended right before the signal, with polling too slow to have seen them.
  await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('last', 5000));
  shipper.child.kill('SIGTERM');
  const exit = await shipper.exited;
  expect(exit.code, shipper.output()).toBe(0);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'drain'");
  expect(rows[0].n).toBe(6000);
  expect((await db.query("SELECT count(*)::int AS n FROM state_timeline WHERE workspace_id = 'drain'")).rows[0].n).toBe(1);
  const checkpoint = JSON.parse(await readFile(join(dirs.stateDir, 'checkpoints.json'), 'utf8'));
  expect(checkpoint.files.commands.offset).toBe(Buffer.byteLength(lines('before', 1000) + lines('last', 5000)));
  expect(shipper.logs.some((l) => l.msg === 'drained: everything shipped')).toBe(true);
});

it('past the deadline (receiver unreachable) it writes checkpoints, says what is left and exits 1', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), lines('stuck', 10));
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const shipper = await startShipper(shipperEnv(nowhere, dirs, 'deadline', { DRAIN_TIMEOUT_MS: '1000' }));
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  shipper.child.kill('SIGTERM');
  const exit = await shipper.exited;
  expect(exit.code).toBe(1);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(shipper.logs.some((l) => l.msg === 'pipeline stopped with data left (deadline)' && l.pipeline === 'commands' && Number(l.lag_bytes) > 0)).toBe(true);
});
