// Model-based: random sequences of append, partial append, truncate, replace
// and shipper restarts (SIGTERM or SIGKILL) against the real shipper, real
// receiver and real PostgreSQL. An in-memory model says which lines must be
// stored; the database must hold exactly those, in order.

import { appendFile, mkdir, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { seededRandom } from '../../dev/random.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

type Op = 'append' | 'append_partial' | 'complete_partial' | 'truncate' | 'replace' | 'restart_term' | 'restart_kill' | 'settle';
const OPS: Array<[Op, number]> = [['append', 30], ['append_partial', 10], ['complete_partial', 10], ['truncate', 6], ['replace', 6], ['restart_term', 6], ['restart_kill', 8], ['settle', 8]];

function pickOp(rand: () => number): Op {
  const total = OPS.reduce((n, [, w]) => n + w, 0);
  let r = rand() * total;
  for (const [op, w] of OPS) if ((r -= w) < 0) return op;
  return 'append';
}

async function runModel(seed: number, steps: number): Promise<void> {
  const rand = seededRandom(seed);
  const ws = `model-${seed}`;
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const path = join(dirs.runtimeDir, 'command-log.jsonl');
  await writeFile(path, '');
  const env = shipperEnv(base, dirs, ws, { COMMANDS_BATCH_MAX_EVENTS: String(1 + Math.floor(rand() * 20)) });
  let shipper: ShipperProcess | undefined = await startShipper(env);

  const expected: string[] = [];
  /** A line written up to `cut`: its rest, and the command it will be once complete. */
  let partial: { rest: string; command: string } | undefined;
  let n = 0;
  const line = () => {
    const command = `${ws} #${n} ${'x'.repeat(Math.floor(rand() * 200))} ${rand() < 0.2 ? '🚀 ünï' : ''}`;
    return { command, text: JSON.stringify({ command, exit_code: n++ % 5, timestamp: 1763892000 + n }) + '\n' };
  };
  const stored = async () => (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command as string);
  const settle = () => waitFor(async () => (await stored()).length === expected.length, `${expected.length} rows (seed ${seed})`, 30_000);
  const history: string[] = [];

  try {
    for (let i = 0; i < steps; i++) {
      const op = pickOp(rand);
      history.push(op);
      switch (op) {
        case 'append': {
          const lines = Array.from({ length: 1 + Math.floor(rand() * 50) }, line);
          await appendFile(path, (partial?.rest ?? '') + lines.map((l) => l.text).join(''));
          if (partial) expected.push(partial.command);
          partial = undefined;
          expected.push(...lines.map((l) => l.command));
          break;
        }
        case 'append_partial': {
          if (partial) break;
          const l = line();
          const cut = 1 + Math.floor(rand() * (l.text.length - 2));
          await appendFile(path, l.text.slice(0, cut));
          partial = { rest: l.text.slice(cut), command: l.command };
          break;
        }
        case 'complete_partial': {
          if (!partial) break;
          await appendFile(path, partial.rest);
          expected.push(partial.command);
          partial = undefined;
          break;
        }
        case 'truncate':
        case 'replace': {
          // What was not shipped when a file is cut is gone: let the shipper catch up first.
          if (!shipper) shipper = await startShipper(env);
          await settle();
          partial = undefined;
          const fresh = Array.from({ length: 1 + Math.floor(rand() * 5) }, line);
          if (op === 'truncate') {
            await truncate(path, 0);
            await appendFile(path, fresh.map((l) => l.text).join(''));
          } else {
            await writeFile(`${path}.next`, fresh.map((l) => l.text).join(''));
            await rename(`${path}.next`, path);
          }
          expected.push(...fresh.map((l) => l.command));
          break;
        }
        case 'restart_term':
        case 'restart_kill': {
          if (!shipper) break;
          await new Promise((r) => setTimeout(r, rand() * 100));
          shipper.child.kill(op === 'restart_term' ? 'SIGTERM' : 'SIGKILL');
          const exit = await shipper.exited;
          if (op === 'restart_term') expect(exit.code, shipper.output()).toBe(0);
          shipper = rand() < 0.7 ? await startShipper(env) : undefined;
          break;
        }
        case 'settle':
          if (!shipper) shipper = await startShipper(env);
          await settle();
          break;
      }
    }
    if (!shipper) shipper = await startShipper(env);
    await settle();
    await new Promise((r) => setTimeout(r, 200));
    expect(await stored(), `seed ${seed}: ${history.join(' ')}`).toEqual(expected);
  } finally {
    shipper?.child.kill('SIGKILL');
  }
}

it.each(process.env.MODEL_SEEDS ? process.env.MODEL_SEEDS.split(",").map(Number) : [1, 2, 3])('random appends, truncations, replacements and restarts (seed %i): the database holds what was written', async (seed) => {
  await runModel(seed, 40);
}, 120_000);
