// Retry is a wrapper around the transport: backoff with jitter for what may
// pass, Retry-After when the server says when, slow retries for refusals, and
// only the drain deadline stops it.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../dev/free-port.js';
import { createHttpTransport } from '../../shipper/ship/http-transport.js';
import { isRetryableError, isRetryableStatus, retryAfterMs } from '../../shipper/ship/is-retryable.js';
import { createRetryingTransport, type FailedAttempt } from '../../shipper/ship/retrying-transport.js';
import { atEnd } from '../helpers/cleanup.js';

async function server(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; times: number[] }> {
  const times: number[] = [];
  const srv = createServer((req, res) => {
    times.push(performance.now());
    req.resume();
    req.on('end', () => answer(times.length, req, res));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  atEnd(() => new Promise((r) => srv.close(r)));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, times };
}

function transport(url: string, refusedDelayMs = 60_000) {
  const http = createHttpTransport({ baseUrl: url, token: () => 't', timeoutMs: 2_000, connections: 1 });
  atEnd(() => http.close());
  return createRetryingTransport(http, { maxDelayMs: 2_000, refusedDelayMs });
}

const post = { path: '/ingest/commands', contentType: 'application/x-ndjson', headers: {}, body: 'x\n' };

describe('what is retryable', () => {
  it('statuses: 408, 425, 429 and 5xx; not other 4xx', () => {
    for (const s of [408, 425, 429, 500, 502, 503, 504, 599]) expect(isRetryableStatus(s), String(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 413, 415]) expect(isRetryableStatus(s), String(s)).toBe(false);
  });

  it('network errors by code, also when wrapped as a cause', () => {
    expect(isRetryableError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableError(new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'EPIPE' }) }))).toBe(true);
    expect(isRetryableError(new Error('bug'))).toBe(false);
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('retrying transport', () => {
  it('waits what Retry-After says, then delivers', async () => {
    const s = await server((n, _req, res) => (n === 1 ? res.writeHead(503, { 'retry-after': '1' }).end() : res.writeHead(200).end('{"accepted":1}')));
    const failed: FailedAttempt[] = [];
    const result = await transport(s.url).deliver(post, new AbortController().signal, (f) => failed.push(f));
    expect(result).toMatchObject({ status: 'delivered', answer: { accepted: 1 } });
    expect(s.times[1]! - s.times[0]!).toBeGreaterThanOrEqual(950);
    expect(failed).toMatchObject([{ attempt: 1, waitMs: 1000, delivery: { status: 'retryable', statusCode: 503 } }]);
  });

  it('backs off exponentially with jitter on 429 and network errors, without end', async () => {
    const s = await server((n, _req, res) => (n < 5 ? res.writeHead(429).end() : res.writeHead(200).end('{}')));
    const result = await transport(s.url).deliver(post, new AbortController().signal, () => undefined);
    expect(result.status).toBe('delivered');
    const gaps = s.times.slice(1).map((t, i) => t - s.times[i]!);
    // 100, 200, 400, 800 ms, each times a random factor in [1, 2).
    gaps.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(100 * 2 ** i * 0.95);
      expect(g).toBeLessThan(100 * 2 ** i * 2 + 100);
    });

    const port = await freePort();
    const refused = transport(`http://127.0.0.1:${port}`);
    const failures: FailedAttempt[] = [];
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 700);
    expect(await refused.deliver(post, abort.signal, (f) => failures.push(f))).toEqual({ status: 'aborted' });
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]!.delivery.reason).toContain('ECONNREFUSED');
  });

  it('a 2xx without the field the receiver\'s answer holds is misdirected: retried slowly, never delivered', async () => {
    const s = await server((n, _req, res) => (n === 1 ? res.writeHead(200, { 'content-type': 'text/html' }).end('<html>default backend</html>') : res.writeHead(200).end('{"accepted":1,"next_offset":2}')));
    const failed: FailedAttempt[] = [];
    const result = await transport(s.url, 300).deliver({ ...post, answerKey: 'next_offset' }, new AbortController().signal, (f) => failed.push(f));
    expect(result).toMatchObject({ status: 'delivered', answer: { next_offset: 2 } });
    expect(failed).toMatchObject([{ waitMs: 300, delivery: { status: 'misdirected', statusCode: 200 } }]);
    expect(failed[0]!.delivery.reason).toContain('no "next_offset"');
    expect(s.times[1]! - s.times[0]!).toBeGreaterThanOrEqual(290);
  });

  it('retries a refusal (4xx) slowly and hands back a 409 gap as a result', async () => {
    const s = await server((n, _req, res) => {
      if (n === 1) res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized","message":"no"}');
      else res.writeHead(409, { 'content-type': 'application/json' }).end('{"error":"offset_gap","next_offset":42}');
    });
    const failed: FailedAttempt[] = [];
    const result = await transport(s.url, 300).deliver(post, new AbortController().signal, (f) => failed.push(f));
    expect(result).toEqual({ status: 'gap', nextOffset: 42 });
    expect(failed).toMatchObject([{ waitMs: 300, delivery: { status: 'refused', statusCode: 401, reason: 'HTTP 401 unauthorized: no' } }]);
    expect(s.times[1]! - s.times[0]!).toBeGreaterThanOrEqual(290);
  });
});
