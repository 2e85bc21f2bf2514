// GET /ingest/offsets: where each stream of a workspace is committed, so a
// shipper that lost its checkpoint resumes exactly there.

import type { FastifyInstance } from 'fastify';
import { isLineStream, isValidId, PATHS, type OffsetsResponse, type StreamOffset } from '../../shared/wire.js';
import { grantOf } from '../access.js';
import { assertMayWrite } from '../auth.js';
import { RequestError } from '../errors.js';
import { singleQuery } from '../request.js';
import type { RouteContext } from './context.js';

const SELECT_OFFSETS = `
  SELECT stream, source_id, next_offset, to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at
  FROM ingest_offsets
  WHERE workspace_id = $1 AND ($2::text IS NULL OR stream = $2) AND ($3::text IS NULL OR source_id = $3)
  ORDER BY stream, updated_at DESC`;

export function offsetRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(PATHS.offsets, { config: { access: 'ingest' } }, async (req): Promise<OffsetsResponse> => {
    const q = singleQuery(req.query);
    const workspaceId = q.workspace_id ?? '';
    if (!isValidId(workspaceId)) throw new RequestError('bad_query', 'workspace_id is required (1-253 printable characters)');
    if (q.stream !== undefined && !isLineStream(q.stream)) throw new RequestError('bad_query', 'stream must be commands, events or llm');
    if (q.source_id !== undefined && !isValidId(q.source_id)) throw new RequestError('bad_query', 'source_id must be 1-253 printable characters');
    assertMayWrite(grantOf(req), workspaceId);
    const { rows } = await ctx.pool.query<StreamOffset & { next_offset: string }>(SELECT_OFFSETS, [workspaceId, q.stream ?? null, q.source_id ?? null]);
    return { workspace_id: workspaceId, offsets: rows.map((r) => ({ ...r, next_offset: Number(r.next_offset) })) };
  });
}
