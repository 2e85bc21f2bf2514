// Reading what a request says about itself: its media type and the native
// protocol's headers, each checked with an answer that names what is wrong.

import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { HEADERS, isValidId } from '../shared/wire.js';
import { RequestError } from './errors.js';

export function mediaType(headers: IncomingHttpHeaders): string {
  return (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function idHeader(headers: IncomingHttpHeaders, name: string, required: true): string;
export function idHeader(headers: IncomingHttpHeaders, name: string, required: false): string | undefined;
export function idHeader(headers: IncomingHttpHeaders, name: string, required: boolean): string | undefined {
  const raw = single(headers, name);
  if (raw === undefined || raw === '') {
    if (required) throw new RequestError('missing_header', `${name} is required`);
    return undefined;
  }
  // Header values arrive as latin1; ids are UTF-8 on the wire, and bytes that
  // are not UTF-8 would otherwise become U+FFFD: another workspace's name.
  const bytes = Buffer.from(raw, 'latin1');
  const value = bytes.toString('utf8');
  if (!isUtf8(bytes) || !isValidId(value)) throw new RequestError('bad_header', `${name} must be 1-253 printable characters`);
  return value;
}

export function offsetHeader(headers: IncomingHttpHeaders): number {
  const raw = single(headers, HEADERS.sourceOffset);
  if (raw === undefined || raw === '') throw new RequestError('missing_header', `${HEADERS.sourceOffset} is required`);
  const n = /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n)) throw new RequestError('bad_header', `${HEADERS.sourceOffset} must be a non-negative integer`);
  return n;
}

export function jsonObject(body: unknown, what: string): Record<string, unknown> {
  const buf = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new RequestError('bad_body', `${what} must be a JSON object`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError('bad_body', `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** The query as single values: a parameter given twice is ambiguous, and answered 400. */
export function singleQuery(query: unknown, repeatable: readonly string[] = []): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (repeatable.includes(name)) continue;
    if (typeof value !== 'string') throw new RequestError('bad_query', `${name} may be given once`);
    out[name] = value;
  }
  return out;
}
