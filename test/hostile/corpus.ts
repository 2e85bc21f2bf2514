// The hostile-input corpus: cases kept as data in corpus/*.jsonl, each with the
// outcome it must have. This module reads them and turns a case into bytes;
// the large bodies come from generate.ts, named by the case.

import { readFileSync } from 'node:fs';
import type { LineStream } from '../../shared/wire.js';
import { generate, type Generated } from './generate.js';

export { goodLine, TABLE, TAG_COLUMN } from './good-lines.js';

/** A line as the workspace wrote it (without its newline) and what must become of it. */
export interface LineCase {
  case: string;
  category: string;
  stream: LineStream;
  /** The line as text (UTF-8); `hex` instead when it is not valid UTF-8. */
  line?: string;
  hex?: string;
  /** `loaded`, or the reject reason. */
  expect: string;
  /** Columns of the stored row, as PostgreSQL prints them. */
  stored?: Record<string, unknown>;
}

export type Body = { text: string } | { hex: string } | Generated;

/** One request, described by how it differs from a good native request of two command lines. */
export interface HttpCase {
  case: string;
  category: string;
  request?: {
    method?: string;
    path?: string;
    /** Replaces or (null) removes a default header. `{{...}}` names a token or the case's workspace. */
    headers?: Record<string, string | null>;
    body?: Body | null;
    gzip?: boolean;
  };
  /** Sent over a bare socket, for what fetch will not send: lying lengths, slow bodies. */
  raw?: RawPlan;
  expect: {
    /** null: the connection closes without an answer. */
    status: number | null;
    /** The server may also close the connection before its answer is read (it races its own close). */
    mayClose?: boolean;
    error?: string;
    answer?: Record<string, unknown>;
    /** Rows stored for the case's workspace. */
    stored: number;
    rejects?: string[];
    /** Where the rows go, when not the case's own workspace id. */
    workspace?: string;
  };
}

export interface RawPlan {
  contentLength?: number;
  contentLengthText?: string;
  then?: 'wait' | 'close';
  cutInSecondLine?: boolean;
  alsoChunked?: boolean;
  chunkedBytes?: number;
  dribble?: { pieces: number; everyMs: number };
  slowHeaders?: boolean;
}

function read<T>(name: string): T[] {
  const text = readFileSync(new URL(`corpus/${name}`, import.meta.url), 'utf8');
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}

export const LINE_CASES = read<LineCase>('lines.jsonl');
export const HTTP_CASES = read<HttpCase>('http.jsonl');

export function lineBytes(c: LineCase): Buffer {
  return c.hex !== undefined ? Buffer.from(c.hex, 'hex') : Buffer.from(c.line!, 'utf8');
}

export function bodyBytes(body: Body, fill: (text: string) => string): Buffer {
  if ('generate' in body) return generate(body, fill);
  if ('hex' in body) return Buffer.from(body.hex, 'hex');
  return Buffer.from(fill(body.text), 'utf8');
}
