// One attempt at a request: what the shipper sends, how it reads the answer,
// and how each way of failing comes back (as data, never as a throw).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../shipper/ship/http-transport.js';
import { atEnd } from '../helpers/cleanup.js';

interface Received { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }

async function receiver(answer: (req: Received, res: ServerResponse) => void, timeoutMs = 500) {
  const received: Received[] = [];
  let connections = 0;
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      answer(r, res);
    });
  });
  srv.on('connection', () => connections++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  atEnd(() => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }));
  const transport = createHttpTransport({ baseUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, token: () => 'secret', timeoutMs, connections: 1 });
  atEnd(() => transport.close());
  return { transport, received, connections: () => connections, server: srv };
}

const batch = { path: '/ingest/commands', contentType: 'application/x-ndjson', headers: { 'x-source-offset': '42' } };

it('posts the body with its headers and the bearer token, and reads the JSON answer', async () => {
  const r = await receiver((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":2,"next_offset":60}'));
  const body = gzipSync('{"a":1}\n{"a":2}\n');
  const delivery = await r.transport.send({ ...batch, body, gzip: true });
  expect(delivery).toEqual({ status: 'delivered', statusCode: 200, answer: { accepted: 2, next_offset: 60 } });
  const [got] = r.received;
  expect(got).toMatchObject({ method: 'POST', url: '/ingest/commands' });
  expect(got!.headers).toMatchObject({
    authorization: 'Bearer secret', 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip',
    'content-length': String(body.length), 'x-source-offset': '42',
  });
  expect(gunzipSync(got!.body).toString()).toBe('{"a":1}\n{"a":2}\n');
});

it('keeps one connection open across requests', async () => {
  const r = await receiver((_req, res) => res.writeHead(200).end('{}'));
  for (let i = 0; i < 5; i++) expect((await r.transport.send({ ...batch, body: 'x\n' })).status).toBe('delivered');
  expect(await r.transport.send({ method: 'GET', path: '/ingest/offsets?workspace_id=w', headers: {} })).toMatchObject({ status: 'delivered' });
  expect(r.received.at(-1)).toMatchObject({ method: 'GET', url: '/ingest/offsets?workspace_id=w' });
  expect(r.connections()).toBe(1);
});

it('gives up on a receiver that stays silent for the timeout, as retryable', async () => {
  const r = await receiver(() => undefined);
  const started = Date.now();
  const delivery = await r.transport.send({ ...batch, body: 'x\n' });
  expect(delivery).toEqual({ status: 'retryable', reason: 'ETIMEDOUT: the receiver was silent for 500 ms' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(450);
});

it('reports an answer cut off midway as retryable', async () => {
  const r = await receiver((_req, res) => {
    res.writeHead(200, { 'content-length': '100' }).write('{"accep');
    setTimeout(() => res.socket!.destroy(), 50);
  });
  const delivery = await r.transport.send({ ...batch, body: 'x\n' });
  expect(delivery).toMatchObject({ status: 'retryable' });
  expect((delivery as { reason: string }).reason).toMatch(/^reading the answer: /);
});

it('stops at once when aborted', async () => {
  const r = await receiver(() => undefined);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 50);
  const started = Date.now();
  expect(await r.transport.send({ ...batch, body: 'x\n' }, abort.signal)).toEqual({ status: 'retryable', reason: 'aborted' });
  expect(Date.now() - started).toBeLessThan(400);
});

describe('a body of 64 KiB or more', () => {
  const large = Buffer.alloc(64 * 1024, 'x');

  it('waits for 100 Continue; a small one goes with its headers', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end('{}'));
    expect((await r.transport.send({ ...batch, body: large })).status).toBe('delivered');
    expect((await r.transport.send({ ...batch, body: 'x\n' })).status).toBe('delivered');
    expect(r.received.map((got) => [got.headers.expect, got.body.length])).toEqual([['100-continue', large.length], [undefined, 2]]);
  });

  it('is never sent when the receiver answers from the headers, and the answer is read', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end('{}'));
    let bodyBytes = 0;
    r.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      req.on('data', (c: Buffer) => (bodyBytes += c.length));
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized","message":"no"}');
    });
    expect(await r.transport.send({ ...batch, body: large })).toMatchObject({ status: 'refused', statusCode: 401 });
    await new Promise((done) => setTimeout(done, 200));
    expect(bodyBytes).toBe(0);
    // The next request has a connection of its own.
    r.server.removeAllListeners('checkContinue');
    expect((await r.transport.send({ ...batch, body: large })).status).toBe('delivered');
  });

  it('goes after a second when nothing passes 100 Continue on (a proxy that drops it)', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end('{}'), 5000);
    r.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => r.server.emit('request', req, res));
    const started = Date.now();
    expect((await r.transport.send({ ...batch, body: large })).status).toBe('delivered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(r.received[0]!.body.length).toBe(large.length);
  });
});
