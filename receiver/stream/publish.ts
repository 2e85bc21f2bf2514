// publish: inside an ingest transaction, one compact event per workspace of
// the batch goes into ferry_stream_events; it becomes visible at commit, never
// for a rollback. After the commit the hub wakes every replica (notifier.ts).
// The event carries what a dashboard needs to update a row without a query
// (the workspace's new status, its last command, ...), read back from the
// tables the batch has just written.

import type pg from 'pg';
import type { BatchStream } from '../../shared/wire.js';
import type { SqlStep } from '../db/batch.js';
import { isoTime, lastCommandOf, STATUS_JSON } from '../db/json-sql.js';

/** An event larger than this (JSON bytes) loses its detail fields and says `truncated`. */
export const STREAM_EVENT_MAX_BYTES = 4096;
/** Commands are cut to this many characters in events (the read API has them whole). */
const COMMAND_PREVIEW_CHARS = 500;

/**
 * Per stream: the detail of workspace `t.w`, read after the batch's writes.
 * `$4` is a time every workspace of the batch has a row at least as new as,
 * so its newest row is at least that new: the partitioned tables are planned
 * from there on, not over every partition.
 */
const DETAIL: Record<BatchStream, string> = {
  commands: `SELECT jsonb_build_object('last_command', ${lastCommandOf('t.w', COMMAND_PREVIEW_CHARS, '$4::timestamp')})`,
  events: `SELECT jsonb_build_object('status', ${STATUS_JSON}) FROM workspace_status s WHERE s.workspace_id = t.w`,
  llm: `SELECT jsonb_build_object('last_llm', jsonb_build_object('step_id', step_id, 'model', model, 'requested_at', ${isoTime('requested_at')}))
    FROM llm_interactions WHERE workspace_id = t.w AND requested_at >= $4::timestamp ORDER BY requested_at DESC LIMIT 1`,
  recordings: `SELECT jsonb_build_object('recording', jsonb_build_object('storage_path', storage_path, 'last_sync_byte', last_sync_byte))
    FROM recording_refs WHERE workspace_id = t.w`,
};
const DETAIL_KEYS = `ARRAY['status', 'last_command', 'last_llm', 'recording']`;

/** The statement inside each stream's function; `$4` as above. */
export const publishSql = (stream: BatchStream) => `
  INSERT INTO ferry_stream_events (workspace_id, body)
  SELECT t.w, CASE WHEN octet_length(e.body::text) <= ${STREAM_EVENT_MAX_BYTES} THEN e.body
                   ELSE e.body - ${DETAIL_KEYS} || '{"truncated": true}' END
  FROM unnest($1::text[], $2::int[], $3::int[]) AS t(w, n, r),
  LATERAL (SELECT jsonb_build_object('workspace_id', t.w, 'stream', '${stream}', 'count', t.n, 'rejected', t.r,
                                     'at', ${isoTime("clock_timestamp() AT TIME ZONE 'utc'")})
                  || coalesce((${DETAIL[stream]}), '{}') AS body) e`;
const STREAMS = Object.keys(DETAIL) as BatchStream[];
const BOUNDED = new Set<BatchStream>(['commands', 'llm']);
const params = (stream: BatchStream) => ['TEXT[]', 'INT[]', 'INT[]', ...(BOUNDED.has(stream) ? ['TIMESTAMP'] : [])];

/**
 * Each stream's statement as a PL/pgSQL function, which keeps one generic
 * plan for the session (the partitions older than `since` are pruned when it
 * runs). Sent on its own, the statement was parsed and planned again in
 * every ingest transaction, most of what it cost PostgreSQL, paid in each
 * transaction's latency and by the database's CPU at fleet rates; left to
 * choose, PostgreSQL kept planning it for each call too, as a generic plan
 * over every partition looks dearer than a custom one. The migrations
 * (re)create the functions, so their SQL is always this receiver's.
 */
export const PUBLISH_FUNCTIONS = STREAMS.map((stream) => `
  CREATE OR REPLACE FUNCTION ferry_publish_${stream}(${params(stream).join(', ')}) RETURNS VOID LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan AS $publish$
  BEGIN ${publishSql(stream)};
  END $publish$`);

const PUBLISH = Object.fromEntries(STREAMS.map((stream) => [
  stream, `SELECT ferry_publish_${stream}(${params(stream).map((type, i) => `$${i + 1}::${type}`).join(', ')})`,
])) as Record<BatchStream, string>;

export interface BatchCount {
  workspaceId: string;
  stored: number;
  rejected: number;
}

/**
 * The statement that writes the batch's events (none for an empty batch):
 * the last of the transaction that stored the batch; `published()` after its
 * commit. `since`: a time every workspace of the batch has a row at least as
 * new as (unknown: all partitions are planned).
 */
export function publishStep(stream: BatchStream, counts: BatchCount[], since?: string): SqlStep | undefined {
  if (counts.length === 0) return undefined;
  const values: unknown[] = [counts.map((c) => c.workspaceId), counts.map((c) => c.stored), counts.map((c) => c.rejected)];
  if (BOUNDED.has(stream)) values.push(since ?? '-infinity');
  return { sql: PUBLISH[stream], values };
}

/** Writes the batch's events, as the last statement of the transaction that stored the batch. */
export async function publishBatch(client: pg.ClientBase, stream: BatchStream, counts: BatchCount[]): Promise<void> {
  const step = publishStep(stream, counts);
  if (step) await client.query(step.sql, step.values);
}
