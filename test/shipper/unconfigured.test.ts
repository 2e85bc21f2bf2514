// The workspace never waits for ferry, and neither does a shipper whose
// credential has not come yet: without a usable INGEST_TOKEN (unset, a file
// not there yet, a weak value) it runs idle, loud and counted, reads
// nothing, answers /healthz and /metrics, and ships everything once the
// token file holds a good value. Without RECORDING_BUCKET the recording
// pipeline is off; with it, against a receiver that has no bucket, the
// recording is a loud, counted configuration fault while the lines ship.

import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN, startTestReceiver } from '../helpers/receiver.js';
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

describe('a shipper without a usable token', () => {
  it('runs idle (health and metrics up, nothing read, one loud log), then ships every line once the token file holds a good value', async () => {
    const ws = 'idle-then-token';
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const tokenFile = join(dirs.runtimeDir, '..', 'ingest-token');
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), Array.from({ length: 100 }, (_, i) => line(i)).join(''));
    const env = shipperEnv(base, dirs, ws, { INGEST_TOKEN: '', INGEST_TOKEN_FILE: tokenFile, CREDENTIALS_RELOAD_INTERVAL_MS: '100' });
    const shipper = await startShipper(env);

    await waitFor(() => shipper.logs.some((l) => l.msg === 'credential cannot be used: it is never sent'), 'the missing file reported');
    expect((await fetch(`${shipper.metricsUrl}/healthz`)).status).toBe(200);
    const metrics = async () => (await fetch(`${shipper.metricsUrl}/metrics`)).text();
    expect(await metrics()).toContain('ferry_shipper_waiting_for_configuration{setting="INGEST_TOKEN"} 1');
    // A weak value is never sent, and changes nothing.
    await writeFile(tokenFile, 'change-me-token\n');
    await waitFor(() => shipper.logs.filter((l) => l.msg === 'credential cannot be used: it is never sent').length === 2, 'the weak value reported');
    await new Promise((r) => setTimeout(r, 500));
    const idleLogs = shipper.logs.filter((l) => String(l.msg).startsWith('no usable INGEST_TOKEN'));
    expect(idleLogs).toHaveLength(1);
    expect(idleLogs[0]).toMatchObject({ level: 50, setting: 'INGEST_TOKEN' });
    // Idle: no file opened, nothing asked of the receiver.
    expect(shipper.logs.filter((l) => l.msg === 'file opened')).toEqual([]);
    expect((await db.query('SELECT count(*)::int AS n FROM ingest_offsets WHERE workspace_id = $1', [ws])).rows[0].n).toBe(0);
    expect(shipper.output()).not.toContain('change-me-token');

    await appendFile(join(dirs.runtimeDir, 'command-log.jsonl'), Array.from({ length: 50 }, (_, i) => line(100 + i)).join(''));
    await writeFile(tokenFile, `${INGEST_TOKEN}\n`);
    await waitFor(async () => (await db.query('SELECT count(*)::int AS n FROM command_log WHERE workspace_id = $1', [ws])).rows[0].n === 150, 'every line shipped');
    const rows = (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command);
    expect(rows).toEqual(Array.from({ length: 150 }, (_, i) => `cmd ${i}`));
    expect(await metrics()).toContain('ferry_shipper_waiting_for_configuration{setting="INGEST_TOKEN"} 0');
    shipper.child.kill('SIGTERM');
    expect((await shipper.exited).code, shipper.output()).toBe(0);
    expect(shipper.output()).not.toContain(INGEST_TOKEN);
  });

  it('with no token at all: idle until stopped, and a SIGTERM ends it at once', async () => {
    const dirs = await shipperDirs();
    const shipper = await startShipper(shipperEnv(base, dirs, 'no-token-at-all', { INGEST_TOKEN: '' }));
    await shipper.waitForLog((l) => String(l.msg).startsWith('no usable INGEST_TOKEN'));
    const stopping = Date.now();
    shipper.child.kill('SIGTERM');
    const exit = await shipper.exited;
    expect(Date.now() - stopping).toBeLessThan(5_000);
    // Nothing could be shipped: not a clean drain.
    expect(exit.code).toBe(1);
  });
});

describe('a shipper recording through a receiver that has no bucket', () => {
  it('keeps the recording on disk as a configuration fault, loud, counted and retried slowly, while every line ships', async () => {
    const ws = 'recording-nowhere';
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    await writeFile(join(dirs.runtimeDir, 'session.cast'), '{"version": 2, "width": 80, "height": 24}\n');
    await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), Array.from({ length: 20 }, (_, i) => line(i)).join(''));
    const shipper = await startShipper(shipperEnv(base, dirs, ws, { RECORDING_BUCKET: 'workshop-recordings', REFUSED_RETRY_DELAY_MS: '300' }));
    const refusals = () => shipper.logs.filter((l) => String(l.msg).startsWith('object storage REFUSED the call'));
    await waitFor(() => refusals().length >= 2, 'two refused attempts');
    expect(refusals()[0]).toMatchObject({ level: 50, err: expect.stringContaining('not_found (HTTP 404)') });
    expect(await (await fetch(`${shipper.metricsUrl}/metrics`)).text()).toMatch(/ferry_shipper_recording_failures_total\{stage="list_uploads",kind="configuration"\} [2-9]/);
    await waitFor(async () => (await db.query('SELECT count(*)::int AS n FROM command_log WHERE workspace_id = $1', [ws])).rows[0].n === 20, 'the lines ship meanwhile');
    expect((await fetch(`${shipper.metricsUrl}/healthz`)).status).toBe(200);
    shipper.child.kill('SIGKILL');
  });
});
