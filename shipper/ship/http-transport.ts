// deliver (one attempt): one HTTP request to the receiver. Returns what
// happened as data; throwing is for bugs.
//
// Node's own client, not undici: undici parses HTTP with llhttp compiled to
// WebAssembly, which cost the sidecar 21 MiB of peak RSS on Node 24 and 13 on
// Node 20 (shipper bench); node:http's parser is the same llhttp, native.
// Taken with process.getBuiltinModule, not imported: importing node:http as an
// ES module reads every export of its namespace, and on Node 24 the lazy ones
// (WebSocket...) load Node's bundled undici, http2 and worker_threads: 14 MiB
// of RSS at rest. node:https (TLS) is loaded only for an https:// receiver.

import { isCertificateError, isRetryableError, isRetryableStatus, retryAfterMs } from './is-retryable.js';

export interface Outgoing {
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  path: string;
  contentType?: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  gzip?: boolean;
  /**
   * A field the receiver's JSON answer always holds for this request. A 2xx
   * without it did not come from the receiver (an ingress' default page, a
   * wrong URL): nothing counts as delivered.
   */
  answerKey?: string;
}

export type Delivery =
  | { status: 'delivered'; statusCode: number; answer: Record<string, unknown> }
  /** 409 offset_gap: the receiver is committed up to `nextOffset`; resend from there. */
  | { status: 'gap'; nextOffset: number }
  | { status: 'retryable'; reason: string; statusCode?: number; retryInMs?: number; answer?: Record<string, unknown> }
  /** A 4xx for the whole request: a configuration fault (token, limits, URL). */
  | { status: 'refused'; statusCode: number; reason: string; answer?: Record<string, unknown> }
  /** The receiver's TLS certificate failed verification: a configuration fault too (TLS_CA_FILE, the URL's host name, an expired certificate). */
  | { status: 'untrusted'; reason: string }
  /** A 2xx that is not the receiver's answer: the URL leads somewhere else, a configuration fault too. */
  | { status: 'misdirected'; statusCode: number; reason: string };

export interface HttpTransport {
  send(out: Outgoing, signal?: AbortSignal): Promise<Delivery>;
  close(): Promise<void>;
}

export interface TransportOptions {
  baseUrl: string;
  /** The bearer token as it is now (shared/credential.ts re-reads a token file). */
  token: () => string | undefined;
  /** The longest the connection may stay silent, waiting for the answer or its next bytes. */
  timeoutMs: number;
  /** Concurrent connections: one per pipeline is enough (one request in flight each). */
  connections: number;
  /** Certificate authorities an https:// receiver's certificate may chain to (ship/trust.ts); unset: the ones Node trusts. */
  ca?: string[];
}

/**
 * Bodies from this size on wait for the receiver's 100 Continue. A request it
 * refuses from its headers (401, 429, 503) is then answered before the body
 * is sent; sent anyway, the body would meet a connection closed over it, and
 * the answer would be lost to the reset (half the time for 4 MiB on loopback).
 */
const EXPECT_CONTINUE_BYTES = 64 * 1024;
/**
 * How long such a body waits before it goes anyway, for a proxy between that
 * does not pass 100 Continue on (curl waits as long); at most half the
 * request's timeout, which would otherwise end every such request first.
 */
const CONTINUE_WAIT_MS = 1000;

interface Answer {
  statusCode: number;
  retryAfter: string | undefined;
  text: string;
}

function parse(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** What the answer means for the batch. */
function judge(a: Answer, answerKey: string | undefined): Delivery {
  const answer = parse(a.text);
  const code = a.statusCode;
  if (code >= 200 && code < 300) {
    if (answerKey === undefined || answerKey in answer) return { status: 'delivered', statusCode: code, answer };
    const looks = a.text.trimStart().slice(0, 40).replace(/\s+/g, ' ');
    return { status: 'misdirected', statusCode: code, reason: `HTTP ${code} without the receiver's answer (no "${answerKey}"; the body starts ${JSON.stringify(looks)})` };
  }
  if (code === 409 && typeof answer.next_offset === 'number') return { status: 'gap', nextOffset: answer.next_offset };
  const reason = `HTTP ${code}${typeof answer.error === 'string' ? ` ${answer.error}: ${String(answer.message ?? '')}` : ''}`;
  if (isRetryableStatus(code)) return { status: 'retryable', reason, statusCode: code, retryInMs: retryAfterMs(a.retryAfter), answer };
  return { status: 'refused', statusCode: code, reason, answer };
}

export function createHttpTransport(o: TransportOptions): HttpTransport {
  const https = new URL(o.baseUrl).protocol === 'https:' ? process.getBuiltinModule('node:https') : undefined;
  const client = https ?? process.getBuiltinModule('node:http');
  // Verification is not optional: NODE_TLS_REJECT_UNAUTHORIZED=0 does not turn it off here.
  const agent = https
    ? new https.Agent({ keepAlive: true, maxSockets: o.connections, ca: o.ca, rejectUnauthorized: true })
    : new client.Agent({ keepAlive: true, maxSockets: o.connections });

  /** One exchange; rejects with what failed, marked `answered` once the status line had arrived. */
  function exchange(out: Outgoing, signal: AbortSignal | undefined): Promise<Answer> {
    const headers: Record<string, string> = { ...out.headers, authorization: `Bearer ${o.token() ?? ''}` };
    if (out.contentType) headers['content-type'] = out.contentType;
    if (out.gzip) headers['content-encoding'] = 'gzip';
    const size = out.body === undefined ? 0 : Buffer.byteLength(out.body);
    if (out.body !== undefined) headers['content-length'] = String(size);
    const waits = size >= EXPECT_CONTINUE_BYTES;
    if (waits) headers.expect = '100-continue';
    return new Promise((resolve, reject) => {
      const req = client.request(`${o.baseUrl}${out.path}`, { method: out.method ?? 'POST', agent, headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ statusCode: res.statusCode!, retryAfter: res.headers['retry-after'], text: Buffer.concat(chunks).toString('utf8') });
          // Answered before its body was asked for: the connection is not fit for another request.
          if (!req.writableEnded) req.destroy();
        });
        res.on('error', (err) => reject(Object.assign(err, { answered: true })));
        res.on('close', () => {
          if (!res.complete) reject(Object.assign(new Error('the connection closed before the answer ended'), { code: 'ECONNRESET', answered: true }));
        });
      });
      req.setTimeout(o.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`the receiver was silent for ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', reject);
      if (!waits) return void req.end(out.body);
      // When the receiver asks for it, or after the wait; never once it has answered.
      const send = () => {
        clearTimeout(wait);
        if (!req.writableEnded && !req.destroyed) req.end(out.body);
      };
      const wait = setTimeout(send, Math.min(CONTINUE_WAIT_MS, o.timeoutMs / 2));
      req.once('continue', send);
      req.once('response', () => clearTimeout(wait));
      req.once('close', () => clearTimeout(wait));
    });
  }

  return {
    async send(out, signal) {
      try {
        return judge(await exchange(out, signal), out.answerKey);
      } catch (err) {
        if (signal?.aborted) return { status: 'retryable', reason: 'aborted' };
        const reason = `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
        if (isCertificateError(err)) return { status: 'untrusted', reason };
        if ((err as { answered?: boolean }).answered) return { status: 'retryable', reason: `reading the answer: ${reason}` };
        // Anything that failed before an answer is worth another try; the receiver dedups.
        return { status: 'retryable', reason: isRetryableError(err) ? reason : `unexpected ${reason}` };
      }
    },
    close: async () => agent.destroy(),
  };
}
