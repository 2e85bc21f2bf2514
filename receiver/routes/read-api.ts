// The read API for dashboards (read token), JSON over the seed's tables:
//   GET /api/workspaces                     workspaces with status and last command, by id
//   GET /api/workspaces/:id                 one workspace: status, last command, recording
//   GET /api/workspaces/:id/timeline        state events  } ?from=&to= (ISO 8601), ?order=asc|desc,
//   GET /api/workspaces/:id/commands        commands      } ?limit= (1-1000), ?after=<next>
//   GET /api/workspaces/:id/llm             LLM calls     } (llm also ?step=)
// Lists are pages ({items, next}); `next` is passed back as ?after=.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Page } from '../../shared/wire.js';
import { isValidId } from '../../shared/wire.js';
import { lastCommandOf, STATUS_JSON } from '../db/json-sql.js';
import { RequestError } from '../errors.js';
import { singleQuery } from '../request.js';
import { decodeCursor, pageLimit, timePage, toPage, type PageQuery, type TimeTable } from '../read/time-page.js';
import type { RouteContext } from './context.js';

export const WORKSPACES = `
  SELECT s.workspace_id, ${STATUS_JSON} || jsonb_build_object('last_command', ${lastCommandOf('s.workspace_id')}) AS item
  FROM workspace_status s
  WHERE s.workspace_id > $1
  ORDER BY s.workspace_id
  LIMIT $2`;
export const WORKSPACE = `
  SELECT (SELECT ${STATUS_JSON} FROM workspace_status s WHERE s.workspace_id = $1) AS status,
         ${lastCommandOf('$1')} AS last_command,
         (SELECT jsonb_build_object('storage_path', storage_path, 'last_sync_byte', last_sync_byte) FROM recording_refs WHERE workspace_id = $1) AS recording`;

export const TABLES: Record<'timeline' | 'commands' | 'llm', TimeTable> = {
  timeline: { table: 'state_timeline', time: 'timestamp', columns: ['event_type', 'step_id', 'data'] },
  commands: { table: 'command_log', time: 'timestamp', columns: ['command', 'exit_code'] },
  llm: { table: 'llm_interactions', time: 'requested_at', columns: ['step_id', 'student_question', 'prompt_context', 'response', 'model'], filters: { step: 'step_id' } },
};

function workspaceParam(req: FastifyRequest): string {
  const ws = (req.params as { id: string }).id;
  if (!isValidId(ws)) throw new RequestError('bad_query', 'the workspace id must be 1-253 printable characters');
  return ws;
}

export function readApiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const read = { config: { access: 'read' as const } };

  app.get('/api/workspaces', read, async (req): Promise<Page<unknown>> => {
    const q: PageQuery = singleQuery(req.query);
    const limit = pageLimit(q.limit);
    const after = q.after === undefined ? '' : decodeCursor(q.after, ([id]) => typeof id === 'string')[0];
    const rows = (await ctx.pool.query<{ workspace_id: string; item: unknown }>(WORKSPACES, [after, limit + 1])).rows;
    return toPage(rows, limit, (r) => r.item, (last) => [last.workspace_id]);
  });

  app.get('/api/workspaces/:id', read, async (req) => {
    const ws = workspaceParam(req);
    const row = (await ctx.pool.query<{ status: unknown; last_command: unknown; recording: unknown }>(WORKSPACE, [ws])).rows[0]!;
    if (row.status === null && row.last_command === null && row.recording === null) throw new RequestError('not_found', `nothing is known of workspace ${ws}`);
    return { workspace_id: ws, ...row, recording_url: row.recording === null ? null : `/recordings/${encodeURIComponent(ws)}` };
  });

  for (const [name, table] of Object.entries(TABLES)) {
    app.get(`/api/workspaces/:id/${name}`, read, async (req) => timePage(ctx.pool, table, workspaceParam(req), singleQuery(req.query)));
  }
}
