// End to end for each JSONL pipeline: the real shipper tails the files and the
// real receiver stores every line, once, in PostgreSQL.

import { appendFile, mkdir, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperDirs } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const cmd = (command: string, i = 0) => JSON.stringify({ command, exit_code: i % 3, timestamp: 1763892000 + i }) + '\n';

async function commands(ws: string): Promise<string[]> {
  const { rows } = await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws]);
  return rows.map((r) => r.command);
}

async function setup(ws: string, extra: Record<string, string> = {}): Promise<{ dirs: ShipperDirs; file: (name: string) => string }> {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await startShipper(shipperEnv(base, dirs, ws, extra));
  return { dirs, file: (name) => join(dirs.runtimeDir, name) };
}

describe('ferry-shipper end to end', () => {
  it('ships all three files into their tables', async () => {
    const { file } = await setup('e2e-all');
    await writeFile(file('command-log.jsonl'), cmd('kubectl get pods') + cmd('ls', 1));
    await writeFile(file('state-events.jsonl'), JSON.stringify({ event_type: 'step_started', step_id: 'one', workshop_name: 'k8s', timestamp: 1763892000 }) + '\n');
    await writeFile(file('llm-history.jsonl'), JSON.stringify({ step_id: 'one', prompt_context: { a: 1 }, response: 'r', model: 'm', requested_at: 1763892000 }) + '\n');
    await waitFor(async () => (await commands('e2e-all')).length === 2, 'commands');
    await waitFor(async () => (await db.query("SELECT 1 FROM workspace_status WHERE workspace_id = 'e2e-all' AND current_step = 'one'")).rowCount === 1, 'status');
    await waitFor(async () => (await db.query("SELECT 1 FROM llm_interactions WHERE workspace_id = 'e2e-all'")).rowCount === 1, 'llm');
  });

  it('waits for files created after start, ships unicode byte-exact, and holds a partial line until its newline', async () => {
    const { file } = await setup('e2e-late');
    await new Promise((r) => setTimeout(r, 200));
    const path = file('command-log.jsonl');
    await writeFile(path, cmd('echo 🚀 漢字 naïve'));
    const half = cmd('second line', 1);
    await appendFile(path, half.slice(0, 10));
    await waitFor(async () => (await commands('e2e-late')).length === 1, 'the complete line');
    await new Promise((r) => setTimeout(r, 300));
    expect(await commands('e2e-late')).toEqual(['echo 🚀 漢字 naïve']);
    await appendFile(path, half.slice(10));
    await waitFor(async () => (await commands('e2e-late')).length === 2, 'the completed line');
    expect(await commands('e2e-late')).toEqual(['echo 🚀 漢字 naïve', 'second line']);
  });

  it('starts a new generation when the file is truncated, and when it is replaced', async () => {
    const { file } = await setup('e2e-gen');
    const path = file('command-log.jsonl');
    await writeFile(path, cmd('a', 1) + cmd('b', 2));
    await waitFor(async () => (await commands('e2e-gen')).length === 2, 'first lines');
    await truncate(path, 0);
    await appendFile(path, cmd('c', 3));
    await waitFor(async () => (await commands('e2e-gen')).length === 3, 'line after truncation');
    await writeFile(`${path}.new`, cmd('d', 4) + cmd('e', 5));
    await rename(`${path}.new`, path);
    await waitFor(async () => (await commands('e2e-gen')).length === 5, 'lines of the replacement');
    expect(await commands('e2e-gen')).toEqual(['a', 'b', 'c', 'd', 'e']);
    const gens = await db.query("SELECT count(DISTINCT source_id)::int AS n FROM ingest_offsets WHERE workspace_id = 'e2e-gen'");
    expect(gens.rows[0].n).toBe(3);
  });
});
