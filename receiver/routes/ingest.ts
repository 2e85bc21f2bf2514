// route: POST /ingest/{commands,events,llm} → parse → load → answer.

import type { FastifyInstance } from 'fastify';
import { CONTENT_TYPES, HEADERS, LINE_STREAMS, NDJSON_ALIASES, PATHS, type IngestResult, type LineStream } from '../../shared/wire.js';
import { grantOf } from '../access.js';
import { assertMayWrite, type IngestGrant } from '../auth.js';
import { RequestError } from '../errors.js';
import type { RequestMarks } from '../events.js';
import { parseNdjson, type ParseLimits } from '../ingest/parse.js';
import { TABLES } from '../ingest/records.js';
import { parseVectorArray } from '../ingest/vector.js';
import { idHeader, mediaType, offsetHeader } from '../request.js';
import type { RouteContext } from './context.js';

export function ingestRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { maxLineBytes, maxRequestLines, rejectRawBytes } = ctx.config;
  for (const stream of LINE_STREAMS) {
    // Vector's http sink health check sends HEAD to the sink URI; it learns nothing but that the route exists.
    app.head(PATHS.ingest(stream), { config: { access: 'public' } }, async (_req, reply) => reply.code(200).send());
    app.post(PATHS.ingest(stream), { config: { access: 'ingest' } }, async (req, reply) => {
      const read = performance.now();
      const marks = { received: read - reply.elapsedTime, read };
      const grant = grantOf(req);
      const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
      ctx.events.onBodyRead(stream, body.length);
      const type = mediaType(req.headers);
      const limits: ParseLimits = { maxLineBytes, maxRequestLines, rejectRawBytes, window: ctx.window.current() };
      if (NDJSON_ALIASES.includes(type)) return reply.send(await ingestNative(ctx, limits, stream, req.headers, body, marks));
      if (type === CONTENT_TYPES.json) return reply.send(await ingestVector(ctx, limits, stream, grant, req.headers, body, marks));
      throw new RequestError('unsupported_media_type', `Content-Type must be ${CONTENT_TYPES.ndjson} (native) or ${CONTENT_TYPES.json} (Vector array), got ${JSON.stringify(type)}`);
    });
  }
}

type Headers = Parameters<typeof idHeader>[0];

/** The workspace header was checked against the token before the body was read (access.ts). */
async function ingestNative(ctx: RouteContext, limits: ParseLimits, stream: LineStream, headers: Headers, body: Buffer, marks: Omit<RequestMarks, 'parsed'>): Promise<IngestResult> {
  const workspaceId = idHeader(headers, HEADERS.workspaceId, true);
  const sourceId = idHeader(headers, HEADERS.sourceId, true);
  const offset = offsetHeader(headers);
  const table = TABLES[stream];
  const parsed = await parseNdjson(body, offset, table, workspaceId, limits);
  const parsedAt = performance.now();
  const loaded = await ctx.ingest.load(table, { key: { workspaceId, stream, sourceId }, ...parsed, endOffset: offset + body.length });
  if (loaded.kind === 'gap') {
    ctx.events.onOffsetGap(stream, workspaceId, sourceId, loaded.nextOffset);
    throw new RequestError('offset_gap', `this stream is committed up to byte ${loaded.nextOffset}; resend from there`, { next_offset: loaded.nextOffset });
  }
  ctx.events.onLoaded(stream, table.table, loaded, { ...marks, parsed: parsedAt });
  if (loaded.fresh.length > 0) ctx.hub.published();
  return loaded.result;
}

/** Each event names its workspace, or takes the header's, or the token's own: a workspace token writes nothing else, not even ''. */
async function ingestVector(ctx: RouteContext, limits: ParseLimits, stream: LineStream, grant: IngestGrant, headers: Headers, body: Buffer, marks: Omit<RequestMarks, 'parsed'>): Promise<IngestResult> {
  const fallback = idHeader(headers, HEADERS.workspaceId, false) ?? (grant.scope === 'workspace' ? grant.workspaceId : undefined);
  const table = TABLES[stream];
  const parsed = parseVectorArray(body, table, fallback, limits);
  for (const ws of new Set(parsed.lines.map((l) => l.workspaceId))) assertMayWrite(grant, ws);
  const parsedAt = performance.now();
  const loaded = await ctx.ingest.loadUnordered(table, parsed);
  ctx.events.onLoaded(stream, table.table, loaded, { ...marks, parsed: parsedAt });
  if (loaded.fresh.length > 0) ctx.hub.published();
  return loaded.result;
}
