// feed: ferry_stream_events read in the one order every replica shares.
// Events are ordered by (transaction id, id) and read only below the oldest
// transaction still running: nothing can commit later with a smaller
// position, so "everything after position P" is a complete answer, and a
// client's Last-Event-ID is enough to resume it on any replica.

import type pg from 'pg';

/** A place in the stream: (transaction id, event id). */
export interface Position {
  tx: bigint;
  id: bigint;
}

export const ORIGIN: Position = { tx: 0n, id: 0n };

export interface FeedEvent {
  position: Position;
  workspaceId: string;
  /** The event's JSON, as stored. */
  body: string;
  /** When it was stored (epoch seconds): delivery delay is measured from here. */
  createdAt: number;
}

export interface FeedPage {
  events: FeedEvent[];
  /** Committed events exist beyond the horizon: read again once older transactions end. */
  held: boolean;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

/** The SSE id of a position. */
export function formatPosition(p: Position): string {
  return `${p.tx}-${p.id}`;
}

export function parsePosition(s: string): Position | undefined {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(s.trim());
  return m ? { tx: BigInt(m[1]!), id: BigInt(m[2]!) } : undefined;
}

// Positions leave as text (xid8 and bigint exceed JavaScript numbers) under
// other names: ORDER BY would otherwise sort by the text.
const READ = `
  SELECT tx::text AS tx_text, id::text AS id_text, workspace_id, body::text, extract(epoch FROM created_at)::float8 AS created_at, pg_snapshot_xmin(pg_current_snapshot())::text AS horizon
  FROM ferry_stream_events
  WHERE (tx, id) > ($1::text::xid8, $2::bigint)
  ORDER BY tx, id
  LIMIT $3`;
const LATEST = `
  SELECT tx::text AS tx_text, id::text AS id_text FROM ferry_stream_events
  WHERE tx < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY tx DESC, id DESC LIMIT 1`;
const OLDEST = 'SELECT tx::text AS tx_text, id::text AS id_text FROM ferry_stream_events ORDER BY tx, id LIMIT 1';
const PRUNE = `DELETE FROM ferry_stream_events WHERE created_at < clock_timestamp() - make_interval(secs => $1)`;

type Row = { tx_text: string; id_text: string };
const toPosition = (r: Row): Position => ({ tx: BigInt(r.tx_text), id: BigInt(r.id_text) });

/** Up to `limit` events after `after`, stopping at the first one that is not safe to deliver yet. */
export async function readAfter(db: pg.Pool, after: Position, limit: number): Promise<FeedPage> {
  const { rows } = await db.query<Row & { workspace_id: string; body: string; created_at: number; horizon: string }>(READ, [String(after.tx), String(after.id), limit]);
  const events: FeedEvent[] = [];
  for (const r of rows) {
    if (BigInt(r.tx_text) >= BigInt(r.horizon)) return { events, held: true };
    events.push({ position: toPosition(r), workspaceId: r.workspace_id, body: r.body, createdAt: r.created_at });
  }
  return { events, held: false };
}

/** The position of the newest event that is safe to deliver: where a new reader starts. */
export async function latestPosition(db: pg.Pool): Promise<Position> {
  const row = (await db.query<Row>(LATEST)).rows[0];
  return row ? toPosition(row) : ORIGIN;
}

/** The oldest event still kept; a client behind it may have missed pruned events. */
export async function oldestPosition(db: pg.Pool): Promise<Position | undefined> {
  const row = (await db.query<Row>(OLDEST)).rows[0];
  return row ? toPosition(row) : undefined;
}

/** Drops events older than the replay window. */
export async function prune(db: pg.Pool, windowSeconds: number): Promise<number> {
  return (await db.query(PRUNE, [windowSeconds])).rowCount ?? 0;
}
