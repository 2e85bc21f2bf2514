// Crash safety: whatever dies mid-flight (the shipper, its checkpoint, the
// receiver, PostgreSQL), every line ends up stored exactly once.

import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { seededRandom } from '../../dev/random.js';
import { startPostgres, type PostgresServer } from '../../dev/embedded-postgres.js';
import { freePort } from '../../dev/free-port.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperDirs, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

function commandLines(ws: string, from: number, count: number): { text: string; commands: string[] } {
  const commands = Array.from({ length: count }, (_, i) => `${ws} line ${from + i} ${'·'.repeat((from + i) % 40)}`);
  return { commands, text: commands.map((command, i) => JSON.stringify({ command, exit_code: 0, timestamp: 1763892000 + from + i }) + '\n').join('') };
}

function eventLines(from: number, count: number): { text: string; ids: string[] } {
  const ids = Array.from({ length: count }, (_, i) => `step-${from + i}`);
  return { ids, text: ids.map((id, i) => JSON.stringify({ event_type: 'step_completed', step_id: id, timestamp: 1763892000 + from + i }) + '\n').join('') };
}

async function storedCommands(db: pg.Pool, ws: string): Promise<string[]> {
  return (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command);
}

describe('shipper crashes', () => {
  let base: string;
  let db: pg.Pool;

  beforeAll(async () => {
    const url = await freshDatabase();
    base = (await startTestReceiver(url)).url;
    db = queryPool(url);
  });

  async function killLoop(ws: string, kills: number, seed: number, between: (dirs: ShipperDirs, i: number, rand: () => number) => Promise<void>) {
    const rand = seededRandom(seed);
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const backlog = commandLines(ws, 0, 200_000);
    const events = eventLines(0, 3_000);
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), backlog.text);
    await writeFile(join(dirs.runtimeDir, 'state-events.jsonl'), events.text);
    const env = shipperEnv(base, dirs, ws, { COMMANDS_BATCH_MAX_EVENTS: '500', EVENTS_BATCH_MAX_EVENTS: '50', CHECKPOINT_INTERVAL_MS: '100' });
    const expected = [...backlog.commands];
    const expectedSteps = [...events.ids];
    let written = 200_000;
    let midBacklog = 0;
    for (let i = 0; i < kills; i++) {
      const shipper = await startShipper(env);
      await new Promise((r) => setTimeout(r, 30 + rand() * 250));
      // Appends keep coming while the shipper dies and comes back.
      const more = commandLines(ws, written, 1 + Math.floor(rand() * 200));
      await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), more.text);
      expected.push(...more.commands);
      written += more.commands.length;
      shipper.child.kill('SIGKILL');
      await shipper.exited;
      if ((await storedCommands(db, ws)).length < expected.length) midBacklog++;
      await between(dirs, i, rand);
    }
    const last = await startShipper(env);
    await waitFor(async () => (await storedCommands(db, ws)).length >= expected.length, `${expected.length} commands`, 60_000);
    await waitFor(async () => Number((await db.query("SELECT count(*) AS n FROM state_timeline WHERE workspace_id = $1", [ws])).rows[0].n) >= expectedSteps.length, 'events', 30_000);
    await new Promise((r) => setTimeout(r, 300));
    last.child.kill('SIGTERM');
    expect((await last.exited).code).toBe(0);
    expect(await storedCommands(db, ws)).toEqual(expected);
    expect(midBacklog, 'kills that landed while lines were still unshipped').toBeGreaterThanOrEqual(20);
    const steps = (await db.query('SELECT step_id FROM state_timeline WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.step_id);
    expect(steps).toEqual(expectedSteps);
  }

  it('SIGKILLed at random moments 25 times during a large backlog: every line stored once', async () => {
    await killLoop('kill-25', 25, 42, async () => undefined);
  }, 180_000);

  it('and with the checkpoint deleted or corrupted between runs', async () => {
    await killLoop('kill-ckpt', 20, 7, async (dirs, i, rand) => {
      const file = join(dirs.stateDir, 'checkpoints.json');
      if (i % 2 === 0) await rm(file, { force: true });
      else {
        const text = await readFile(file, 'utf8').catch(() => '{}');
        await writeFile(file, rand() < 0.5 ? text.slice(0, Math.floor(text.length / 2)) : '\0\0garbage');
      }
    });
  }, 180_000);
});

describe('receiver and database failures while shipping', () => {
  let server: PostgresServer;
  let url: string;
  let db: pg.Pool;
  let port: number;

  beforeAll(async () => {
    server = await startPostgres({ fast: true });
    url = await server.createDatabase('failures');
    db = new pg.Pool({ connectionString: url, max: 2 });
    port = await freePort();
  });

  afterAll(async () => {
    await db.end();
    await server.destroy();
  });

  it('the receiver restarted twice and PostgreSQL stopped for a while: every line stored once', async () => {
    const ws = 'outages';
    let receiver = await startTestReceiver(url, { port });
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const file = join(dirs.runtimeDir, 'command-log.jsonl');
    const first = commandLines(ws, 0, 40_000);
    await writeFile(file, first.text);
    const shipper: ShipperProcess = await startShipper(shipperEnv(`http://127.0.0.1:${port}`, dirs, ws, { COMMANDS_BATCH_MAX_EVENTS: '500' }));
    const expected = [...first.commands];
    let written = 40_000;
    const append = async (n: number) => {
      const more = commandLines(ws, written, n);
      await appendFile(file, more.text);
      expected.push(...more.commands);
      written += n;
    };

    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await receiver.stop();
      await append(500);
      await new Promise((r) => setTimeout(r, 300));
      receiver = await startTestReceiver(url, { port });
    }

    await new Promise((r) => setTimeout(r, 150));
    await server.stop();
    await append(500);
    await new Promise((r) => setTimeout(r, 1000));
    await server.start();
    await append(500);

    await waitFor(async () => (await storedCommands(db, ws)).length >= expected.length, `${expected.length} commands`, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await storedCommands(db, ws)).toEqual(expected);
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code).toBe(0);
    const retries = shipper.logs.filter((l) => l.msg === 'delivery failed; retrying');
    expect(retries.length).toBeGreaterThan(0);
  }, 120_000);
});
