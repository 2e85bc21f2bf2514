// What an SRE sees: /metrics with the shipper's figures, /healthz, /readyz,
// JSON logs without the token, and loud, counted, never-dropping retries of
// configuration faults: a 4xx, or a 2xx that is not the receiver's answer.

import { createServer } from 'node:http';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

const cmd = (i: number) => JSON.stringify({ command: `c${i}`, exit_code: 0, timestamp: 1763892000 + i }) + '\n';

it('exposes lag, events, bytes, requests, checkpoint age and oldest unshipped age', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), cmd(1) + cmd(2));
  const shipper = await startShipper(shipperEnv(base, dirs, 'ops'));
  expect((await fetch(`${shipper.metricsUrl}/healthz`)).status).toBe(200);
  expect((await fetch(`${shipper.metricsUrl}/readyz`)).status).toBe(200);
  const expected = [
    'ferry_shipper_events_sent_total{pipeline="commands"} 2',
    'ferry_shipper_lag_bytes{pipeline="commands"} 0',
    `ferry_shipper_bytes_sent_total{pipeline="commands"} ${(cmd(1) + cmd(2)).length}`,
    'ferry_shipper_requests_total{pipeline="commands",status="200"} 1',
    'ferry_shipper_oldest_unshipped_age_seconds{pipeline="commands"} 0',
    'ferry_shipper_checkpoint_age_seconds',
    'ferry_shipper_retries_total',
    'ferry_shipper_process_resident_memory_bytes',
  ];
  // Lag is updated on the pipeline's next look at the file, just after the delivery.
  await waitFor(async () => {
    const text = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
    return expected.every((line) => text.includes(line)) || undefined;
  }, 'every figure');
  expect(shipper.output()).not.toContain(INGEST_TOKEN);
});

it('a refused request (wrong token) is retried slowly and loudly, counted, and delivered once the token is fixed', async () => {
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const file = join(dirs.runtimeDir, 'command-log.jsonl');
  await writeFile(file, cmd(1));
  const wrong = await startShipper({ ...shipperEnv(base, dirs, 'refused'), INGEST_TOKEN: 'a-wrong-token-of-24-chars', REFUSED_RETRY_DELAY_MS: '200' });
  await waitFor(() => wrong.logs.filter((l) => l.level === 50 && String(l.msg).includes('REFUSED')).length >= 2, 'two loud refusals');
  const metrics = await (await fetch(`${wrong.metricsUrl}/metrics`)).text();
  expect(metrics).toMatch(/ferry_shipper_retries_total\{pipeline="commands",kind="refused"\} [2-9]/);
  expect(metrics).toMatch(/ferry_shipper_requests_total\{pipeline="commands",status="401"\} [2-9]/);
  expect(metrics).toMatch(/ferry_shipper_lag_bytes\{pipeline="commands"\} [1-9]/);
  wrong.child.kill('SIGKILL');
  await wrong.exited;
  await appendFile(file, cmd(2));
  const right = await startShipper(shipperEnv(base, dirs, 'refused'));
  await waitFor(async () => (await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'refused'")).rows[0].n === 2, 'both lines');
  right.child.kill('SIGTERM');
  expect((await right.exited).code).toBe(0);
});

it('a 2xx that is not the receiver\'s answer (an ingress\' default page) delivers nothing: loud, counted, retried slowly, no offset advanced', async () => {
  // An ingress that passes GETs to the receiver but answers every POST with its own HTML page, until fixed.
  let fixed = false;
  const ingress = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'POST' && !fixed) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>Welcome to nginx!</body></html>');
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${base}${req.url}`, { method: req.method, headers, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => ingress.listen(0, '127.0.0.1', r));
  atEnd(() => new Promise((r) => ingress.close(r)));
  const url = `http://127.0.0.1:${(ingress.address() as { port: number }).port}`;

  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), cmd(1) + cmd(2) + cmd(3));
  const shipper = await startShipper(shipperEnv(url, dirs, 'misdirected', { REFUSED_RETRY_DELAY_MS: '200', CHECKPOINT_INTERVAL_MS: '0' }));
  const loud = () => shipper.logs.filter((l) => l.level === 50 && String(l.msg).includes('NOT ferry-receiver'));
  await waitFor(() => loud().length >= 3, 'three loud misdirected answers');
  expect(loud()[0]).toMatchObject({ pipeline: 'commands', status: 200, reason: expect.stringContaining('<!DOCTYPE html>') });
  const metrics = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
  expect(metrics).toMatch(/ferry_shipper_retries_total\{pipeline="commands",kind="misdirected"\} [3-9]/);
  expect(metrics).not.toMatch(/ferry_shipper_events_sent_total\{pipeline="commands"\} [1-9]/);
  expect(metrics).toMatch(/ferry_shipper_lag_bytes\{pipeline="commands"\} [1-9]/);
  const checkpoint = JSON.parse(await readFile(join(dirs.stateDir, 'checkpoints.json'), 'utf8'));
  expect(checkpoint.files.commands.offset).toBe(0);
  expect((await db.query("SELECT 1 FROM command_log WHERE workspace_id = 'misdirected'")).rowCount).toBe(0);

  fixed = true;
  await waitFor(async () => (await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'misdirected'")).rows[0].n === 3, 'all three lines once the ingress is fixed');
  shipper.child.kill('SIGTERM');
  expect((await shipper.exited).code).toBe(0);
  expect((await db.query("SELECT command FROM command_log WHERE workspace_id = 'misdirected' ORDER BY id")).rows.map((r) => r.command)).toEqual(['c1', 'c2', 'c3']);
});
