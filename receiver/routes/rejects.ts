// POST /ingest/rejects: a line the shipper will not send (over its line limit).
// It is stored like any rejected line, inside the stream's exactly-once
// transaction, and the stream's offset moves past it.

import type { FastifyInstance } from 'fastify';
import { HEADERS, isLineStream, isValidId, PATHS, type IngestResult } from '../../shared/wire.js';
import { RequestError } from '../errors.js';
import { TABLES } from '../ingest/records.js';
import { idHeader, jsonObject } from '../request.js';
import type { RouteContext } from './context.js';

function nonNegative(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RequestError('bad_body', `${name} must be a non-negative integer`);
  return v;
}

export function rejectRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The workspace header was checked against the token before the body was read (access.ts).
  app.post(PATHS.rejects, { config: { access: 'ingest' } }, async (req): Promise<IngestResult> => {
    const workspaceId = idHeader(req.headers, HEADERS.workspaceId, true);
    const report = jsonObject(req.body, 'a reject report');
    const stream = String(report.stream);
    if (!isLineStream(stream)) throw new RequestError('bad_body', 'stream must be commands, events or llm');
    const sourceId = String(report.source_id ?? '');
    if (!isValidId(sourceId)) throw new RequestError('bad_body', 'source_id must be 1-253 printable characters');
    const offset = nonNegative(report.offset, 'offset');
    const length = nonNegative(report.length, 'length');
    if (length === 0) throw new RequestError('bad_body', 'length must be positive');
    if (report.reason !== 'line_too_long') throw new RequestError('bad_body', 'reason must be line_too_long');
    const prefix = Buffer.from(typeof report.prefix_base64 === 'string' ? report.prefix_base64 : '', 'base64').subarray(0, ctx.config.rejectRawBytes);

    const line = {
      offset, end: offset + length, workspaceId,
      reject: { reason: 'line_too_long' as const, detail: `${length} bytes, over the shipper's line limit`, raw: prefix, rawLength: length },
    };
    const loaded = await ctx.ingest.load(TABLES[stream], { key: { workspaceId, stream, sourceId }, lines: [line], rows: Buffer.alloc(0), endOffset: offset + length });
    if (loaded.kind === 'gap') {
      ctx.events.onOffsetGap(stream, workspaceId, sourceId, loaded.nextOffset);
      throw new RequestError('offset_gap', `this stream is committed up to byte ${loaded.nextOffset}`, { next_offset: loaded.nextOffset });
    }
    ctx.events.onLoaded(stream, TABLES[stream].table, loaded);
    return loaded.result;
  });
}
