// The request for one batch: the native protocol (exact bytes, offsets in
// headers) or, as an option, the JSON array Vector's http sink sent.

import { ANSWER_KEYS, CONTENT_TYPES, HEADERS, PATHS, type LineStream } from '../../shared/wire.js';
import type { Outgoing } from './http-transport.js';

/**
 * zlib only with GZIP=true. Not node:util's promisify either: on Node 24 an
 * import of node:util loads worker_threads and assert with it (1.3 MiB).
 */
const gzip = (body: Buffer) => new Promise<Buffer>((resolve, reject) => {
  process.getBuiltinModule('node:zlib').gzip(body, (err, out) => (err ? reject(err) : resolve(out)));
});

export interface BatchRef {
  stream: LineStream;
  workspaceId: string;
  generation: string;
  offset: number;
  /** The batch's bytes: complete lines, newlines included. */
  bytes: Buffer;
}

export async function nativeRequest(b: BatchRef, compress: boolean): Promise<Outgoing> {
  return {
    path: PATHS.ingest(b.stream),
    contentType: CONTENT_TYPES.ndjson,
    headers: { [HEADERS.workspaceId]: b.workspaceId, [HEADERS.sourceId]: b.generation, [HEADERS.sourceOffset]: String(b.offset) },
    body: compress ? await gzip(b.bytes) : b.bytes,
    gzip: compress,
    answerKey: ANSWER_KEYS.ingest,
  };
}

/** Vector's file source event, as its http sink with `encoding.codec = "json"` sent it. */
export async function vectorRequest(b: BatchRef, file: string, host: string, compress: boolean): Promise<Outgoing> {
  const timestamp = new Date().toISOString();
  const events = b.bytes.toString('utf8').split('\n').slice(0, -1).map((line) => ({
    file, host, message: line.endsWith('\r') ? line.slice(0, -1) : line, source_type: 'file', timestamp, workspace_id: b.workspaceId,
  }));
  const body = Buffer.from(JSON.stringify(events));
  return { path: PATHS.ingest(b.stream), contentType: CONTENT_TYPES.json, headers: {}, body: compress ? await gzip(body) : body, gzip: compress };
}
