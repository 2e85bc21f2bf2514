// POST /ingest/drains: a shipper's last request, after its drain: how it
// ended and the bytes it left per pipeline. A pod deleted before its shipper
// could ship everything then shows on the dashboard and in ingest_drains
// (one row per workspace, its latest drain), instead of going unnoticed.

import type { FastifyInstance } from 'fastify';
import { ANSWER_KEYS, DRAIN_OUTCOMES, HEADERS, PATHS, type DrainOutcome } from '../../shared/wire.js';
import { RequestError } from '../errors.js';
import { idHeader, jsonObject } from '../request.js';
import type { RouteContext } from './context.js';

const UPSERT = `
  INSERT INTO ingest_drains AS d (workspace_id, outcome, unshipped, unshipped_bytes, seconds)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (workspace_id) DO UPDATE SET
    outcome = EXCLUDED.outcome, unshipped = EXCLUDED.unshipped, unshipped_bytes = EXCLUDED.unshipped_bytes,
    seconds = EXCLUDED.seconds, reported_at = now() AT TIME ZONE 'utc'`;

/** Pipeline names as the shipper's PIPELINES allows them, and `recording`. */
const PIPELINE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

export function drainRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The workspace header was checked against the token before the body was read (access.ts).
  app.post(PATHS.drains, { config: { access: 'ingest' } }, async (req) => {
    const workspaceId = idHeader(req.headers, HEADERS.workspaceId, true);
    const report = jsonObject(req.body, 'a drain report');
    const outcome = report.outcome as DrainOutcome;
    if (!DRAIN_OUTCOMES.includes(outcome)) throw new RequestError('bad_body', `outcome must be one of ${DRAIN_OUTCOMES.join(', ')}`);
    const unshipped = report.unshipped;
    if (typeof unshipped !== 'object' || unshipped === null || Array.isArray(unshipped) || Object.keys(unshipped).length > 32
      || !Object.entries(unshipped).every(([k, v]) => PIPELINE_NAME.test(k) && Number.isSafeInteger(v) && (v as number) >= 0)) {
      throw new RequestError('bad_body', 'unshipped must map at most 32 pipeline names to non-negative byte counts');
    }
    const seconds = report.seconds;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw new RequestError('bad_body', 'seconds must be a non-negative number');
    const bytes = Object.values(unshipped as Record<string, number>).reduce((a, b) => a + b, 0);
    await ctx.pool.query(UPSERT, [workspaceId, outcome, JSON.stringify(unshipped), bytes, seconds]);
    ctx.events.onDrainReported(outcome, bytes);
    return { [ANSWER_KEYS.drains]: true };
  });
}
