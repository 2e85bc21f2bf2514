// deliver (one attempt): one HTTP request to the receiver with undici. Returns
// what happened as data; throwing is for bugs.

import { Agent, request } from 'undici';
import { isRetryableError, isRetryableStatus, retryAfterMs } from './is-retryable.js';

export interface Outgoing {
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  path: string;
  contentType?: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  gzip?: boolean;
}

export type Delivery =
  | { status: 'delivered'; statusCode: number; answer: Record<string, unknown> }
  /** 409 offset_gap: the receiver is committed up to `nextOffset`; resend from there. */
  | { status: 'gap'; nextOffset: number }
  | { status: 'retryable'; reason: string; statusCode?: number; retryInMs?: number }
  /** A 4xx for the whole request: a configuration fault (token, limits, URL). */
  | { status: 'refused'; statusCode: number; reason: string };

export interface HttpTransport {
  send(out: Outgoing, signal?: AbortSignal): Promise<Delivery>;
  close(): Promise<void>;
}

export interface TransportOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  /** Concurrent connections: one per pipeline is enough (one request in flight each). */
  connections: number;
}

function parse(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function createHttpTransport(o: TransportOptions): HttpTransport {
  const agent = new Agent({ connections: o.connections, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs, keepAliveTimeout: 30_000 });
  return {
    async send(out, signal) {
      const headers: Record<string, string> = { ...out.headers, authorization: `Bearer ${o.token}` };
      if (out.contentType) headers['content-type'] = out.contentType;
      if (out.gzip) headers['content-encoding'] = 'gzip';
      let res;
      try {
        res = await request(`${o.baseUrl}${out.path}`, { method: out.method ?? 'POST', dispatcher: agent, headers, body: out.body, signal });
      } catch (err) {
        if (signal?.aborted) return { status: 'retryable', reason: 'aborted' };
        const reason = `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
        // Anything that failed before an answer is worth another try; the receiver dedups.
        return { status: 'retryable', reason: isRetryableError(err) ? reason : `unexpected ${reason}` };
      }
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        return { status: 'retryable', reason: `reading the answer: ${(err as Error).message}` };
      }
      const answer = parse(text);
      const code = res.statusCode;
      if (code >= 200 && code < 300) return { status: 'delivered', statusCode: code, answer };
      if (code === 409 && typeof answer.next_offset === 'number') return { status: 'gap', nextOffset: answer.next_offset };
      const reason = `HTTP ${code}${typeof answer.error === 'string' ? ` ${answer.error}: ${String(answer.message ?? '')}` : ''}`;
      if (isRetryableStatus(code)) return { status: 'retryable', reason, statusCode: code, retryInMs: retryAfterMs(res.headers['retry-after']) };
      return { status: 'refused', statusCode: code, reason };
    },
    close: () => agent.close(),
  };
}
