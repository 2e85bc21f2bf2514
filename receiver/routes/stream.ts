// GET /stream: Server-Sent Events for dashboards (read token). One `batch`
// event per committed batch and workspace, from every replica's ingest;
// `?workspace=` (repeated or comma-separated) filters; Last-Event-ID (header,
// or ?last_event_id= for clients that cannot set it) resumes within the
// replay window.

import type { FastifyInstance } from 'fastify';
import { isValidId } from '../../shared/wire.js';
import { RequestError } from '../errors.js';
import { singleQuery } from '../request.js';
import { parsePosition, type Position } from '../stream/feed.js';
import type { RouteContext } from './context.js';

function workspaceFilter(raw: unknown): Set<string> | undefined {
  if (raw === undefined) return undefined;
  const ids = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
  const bad = ids.find((id) => !isValidId(id));
  if (bad !== undefined) throw new RequestError('bad_query', `workspace ${JSON.stringify(bad)} is not a valid workspace id`);
  return ids.length > 0 ? new Set(ids) : undefined;
}

function resumeFrom(header: string | string[] | undefined, query: Record<string, string | undefined>): Position | undefined {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query.last_event_id;
  if (raw === undefined || raw === '') return undefined;
  const p = parsePosition(raw);
  if (!p) throw new RequestError('bad_query', 'Last-Event-ID must be an id this stream sent (<digits>-<digits>)');
  return p;
}

export function streamRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/stream', { config: { access: 'read' } }, async (req, reply) => {
    const workspaces = workspaceFilter((req.query as Record<string, unknown>).workspace);
    const from = resumeFrom(req.headers['last-event-id'], singleQuery(req.query, ['workspace']));
    if (!ctx.state.streaming || ctx.state.shuttingDown) throw new RequestError('not_ready', 'the live stream is not running yet (database schema not ready)');
    reply.hijack();
    ctx.hub.attach(reply.raw, from, workspaces);
  });
}
