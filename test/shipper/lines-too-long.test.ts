// A line over the shipper's limit is never held whole and never dropped
// silently: it is reported to /ingest/rejects with its offset and a prefix,
// and the lines after it keep flowing.

import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
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

const cmd = (command: string) => JSON.stringify({ command, exit_code: 0, timestamp: 1763892000 }) + '\n';

it('reports a 10 MB line as a reject and ships the lines around it, even while the line is still being written', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const file = join(dirs.runtimeDir, 'command-log.jsonl');
  const shipper = await startShipper(shipperEnv(base, dirs, 'huge', { MAX_LINE_BYTES: '64KiB' }));
  const before = cmd('before');
  const huge = cmd('x'.repeat(10 * 1024 * 1024));
  await writeFile(file, before + huge.slice(0, 3 * 1024 * 1024));
  await new Promise((r) => setTimeout(r, 300));
  await appendFile(file, huge.slice(3 * 1024 * 1024) + cmd('after'));
  await waitFor(async () => (await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'huge'")).rows[0].n === 2, 'lines around the huge one');
  const { rows } = await db.query("SELECT command FROM command_log WHERE workspace_id = 'huge' ORDER BY id");
  expect(rows.map((r) => r.command)).toEqual(['before', 'after']);
  const rejects = await db.query("SELECT reason, source_offset, raw_length, length(raw) AS kept, substr(raw, 1, 12) AS head FROM ingest_rejects WHERE workspace_id = 'huge'");
  expect(rejects.rows).toEqual([{ reason: 'line_too_long', source_offset: String(before.length), raw_length: String(huge.length), kept: 1024, head: Buffer.from('{"command":"') }]);
  expect(shipper.logs.some((l) => String(l.msg).startsWith('line over MAX_LINE_BYTES'))).toBe(true);
  // The huge line was never held in memory whole.
  const metrics = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
  expect(metrics).toMatch(/ferry_shipper_lines_too_long_total\{pipeline="commands"\} 1/);
  const rss = Number(/ferry_shipper_process_resident_memory_bytes (\d+)/.exec(metrics)![1]);
  expect(rss).toBeLessThan(150 * 1024 * 1024);
});
