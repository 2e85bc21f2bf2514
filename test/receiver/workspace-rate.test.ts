// One workspace may write WORKSPACE_RATE_BYTES per second (and a burst) to a
// replica: a student's `while true; do echo ... >> command-log.jsonl; done`
// is answered 429 with Retry-After, its shipper waits and loses nothing, and
// the other workspaces are not held back by it.

import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceRate } from '../../receiver/limits/workspace-rate.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

const KIB = 1024;

describe('the token bucket', () => {
  it('admits a burst, then the rate; says how long to wait; forgets nothing it charged', () => {
    let now = 0;
    const rate = createWorkspaceRate({ bytesPerSecond: 100 * KIB, burstBytes: 400 * KIB, now: () => now });
    expect(rate.admit('a', 300 * KIB)).toEqual({ ok: true });
    expect(rate.admit('a', 200 * KIB)).toEqual({ ok: false, retryAfterMs: 1000 });
    // Another workspace has its own bucket.
    expect(rate.admit('b', 400 * KIB)).toEqual({ ok: true });
    now = 1000;
    expect(rate.admit('a', 200 * KIB)).toEqual({ ok: true });
    // A gzip body's decoded bytes are charged afterwards and leave a debt that is waited out.
    rate.charge('a', 300 * KIB);
    expect(rate.admit('a', 0)).toEqual({ ok: false, retryAfterMs: 3001 });
    now = 4100;
    expect(rate.admit('a', 0)).toEqual({ ok: true });
  });
});

describe('a flooding workspace', () => {
  let base: string;
  let db: pg.Pool;

  beforeAll(async () => {
    const url = await freshDatabase();
    base = (await startTestReceiver(url, { workspaceRateBytes: 256 * KIB, workspaceBurstBytes: 1024 * KIB, maxBodyBytes: 512 * KIB })).url;
    db = queryPool(url);
  });

  const count = async (ws: string) => (await db.query('SELECT count(*)::int AS n, count(DISTINCT command)::int AS d FROM command_log WHERE workspace_id = $1', [ws])).rows[0] as { n: number; d: number };

  it('is answered 429 and slowed to its rate, stores every line once in the end, and does not hold the others back', async () => {
    const line = (i: number) => `{"command":"flood ${String(i).padStart(7, '0')} ${'y'.repeat(80)}","exit_code":0,"timestamp":1}\n`;
    const lines = Array.from({ length: 30_000 }, (_, i) => line(i));
    const flood = await shipperDirs();
    await mkdir(flood.runtimeDir, { recursive: true });
    await writeFile(join(flood.runtimeDir, 'command-log.jsonl'), lines.join(''));
    const floodBytes = lines.join('').length;
    const started = Date.now();
    const flooder = await startShipper(shipperEnv(base, flood, 'flooder', { COMMANDS_BATCH_MAX_BYTES: '256KiB' }));

    const quiet = await shipperDirs();
    await mkdir(quiet.runtimeDir, { recursive: true });
    await writeFile(join(quiet.runtimeDir, 'command-log.jsonl'), '');
    await startShipper(shipperEnv(base, quiet, 'quiet'));
    await waitFor(async () => /ferry_receiver_requests_limited_total\{stream="commands",limit="workspace_rate"\} [1-9]/.test(await (await fetch(`${base}/metrics`)).text()), 'a 429 for the flooder');
    // While the flooder waits out its 429s, another workspace's line is stored at once.
    for (let i = 0; i < 3; i++) {
      const written = Date.now();
      await appendFile(join(quiet.runtimeDir, 'command-log.jsonl'), `{"command":"quiet ${i}","exit_code":0,"timestamp":1}\n`);
      await waitFor(async () => (await count('quiet')).n === i + 1, `quiet line ${i}`, 5_000);
      expect(Date.now() - written).toBeLessThan(2_000);
    }

    await waitFor(async () => (await count('flooder')).n === lines.length, 'every flooded line', 90_000, 200);
    expect(await count('flooder')).toEqual({ n: lines.length, d: lines.length });
    // Its own rate bounds it: the burst, then 256 KiB/s.
    expect(Date.now() - started).toBeGreaterThan(((floodBytes - 1024 * KIB) / (256 * KIB)) * 1000 * 0.8);
    const shipped = await (await fetch(`${flooder.metricsUrl}/metrics`)).text();
    expect(shipped).toMatch(/ferry_shipper_requests_total\{pipeline="commands",status="429"\} [1-9]/);
    expect(shipped).not.toMatch(/kind="refused"\} [1-9]/);
  }, 120_000);
});
