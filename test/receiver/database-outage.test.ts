// PostgreSQL stopped mid-request: the client gets 503 with Retry-After and
// nothing half-stored; when the database returns, ingest resumes by itself.

import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../dev/embedded-postgres.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

let server: PostgresServer;
let base: string;

beforeAll(async () => {
  // Its own server: stopping the shared one would break the other test files.
  server = await startPostgres({ fast: true });
  base = (await startTestReceiver(await server.createDatabase('outage'))).url;
});

afterAll(() => server.destroy());

function lines(from: number, count: number): string {
  return ndjson(Array.from({ length: count }, (_, i) => ({ command: `c${from + i}`, exit_code: 0, timestamp: 1 })));
}

it('answers 503 while the database is down and recovers without a restart', async () => {
  const first = lines(0, 100);
  expect((await postLines(base, 'commands', first)).status).toBe(200);

  // A stream of requests keeps going while the server stops underneath it.
  const during: Promise<{ status: number; retryAfter: string | null; offset: number }>[] = [];
  const second = lines(100, 50_000);
  const sending = (async () => {
    for (let i = 0; i < 5; i++) {
      const res = await postLines(base, 'commands', second, { offset: first.length });
      during.push(Promise.resolve({ status: res.status, retryAfter: res.headers.get('retry-after'), offset: res.body.next_offset }));
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  await server.stop();
  await sending;

  const down = await postLines(base, 'commands', second, { offset: first.length });
  expect(down.status).toBe(503);
  expect(down.body.error).toBe('database_unavailable');
  expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
  // The replica's own probe finds it down within a few seconds, and says so.
  await waitFor(async () => (await request(`${base}/readyz`, { token: null })).status === 503, '/readyz 503', 6_000);
  expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/ferry_receiver_database_up 0/);
  // The first request was mid-COPY when the server stopped; nothing of it may be stored.
  const statuses = (await Promise.all(during)).map((r) => r.status);
  expect(statuses).toEqual([503, 503, 503, 503, 503]);

  await server.start();
  let res = await postLines(base, 'commands', second, { offset: first.length });
  for (let i = 0; res.status === 503 && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    res = await postLines(base, 'commands', second, { offset: first.length });
  }
  expect(res.status).toBe(200);
  expect(res.body.next_offset).toBe(first.length + second.length);

  const db = new pg.Client({ connectionString: server.url('outage') });
  await db.connect();
  const { rows } = await db.query('SELECT command FROM command_log ORDER BY id');
  await db.end();
  expect(rows.map((r) => r.command)).toEqual(Array.from({ length: 50_100 }, (_, i) => `c${i}`));
  await waitFor(async () => (await request(`${base}/readyz`, { token: null })).status === 200, '/readyz 200', 6_000);
  expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/ferry_receiver_database_up 1/);
});

it('starts before the database is there and becomes ready when it appears', async () => {
  await server.stop();
  const url = server.url('outage');
  const { startReceiver } = await import('../../receiver/receiver.js');
  const { createLogger } = await import('../../receiver/log.js');
  const { receiverConfig } = await import('../helpers/receiver.js');
  const receiver = await startReceiver(receiverConfig(url), createLogger('ferry-receiver', 'silent'));
  try {
    expect((await request(`${receiver.url}/healthz`, { token: null })).status).toBe(200);
    expect((await request(`${receiver.url}/readyz`, { token: null })).status).toBe(503);
    const early = await postLines(receiver.url, 'commands', lines(0, 1));
    expect(early.status).toBe(503);
    expect(early.body.error).toBe('not_ready');
    await server.start();
    await receiver.ready;
    expect((await request(`${receiver.url}/readyz`, { token: null })).status).toBe(200);
  } finally {
    await receiver.stop();
  }
});
