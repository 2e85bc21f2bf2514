// One workspace's rows of a time-ordered table, a page at a time: keyset
// pagination on (time, id), so pages are stable while rows arrive, and every
// query is a range scan of the seed's (workspace_id, ...) index, never a scan
// of the table. The tables are partitioned by that time: a bound on it
// (from, to, or the cursor's time) leaves out the partitions outside it, and
// without one, the newest (or oldest) first order reads the partitions in
// that order and stops at the page's end.

import type pg from 'pg';
import type { Page } from '../../shared/wire.js';
import { isoTime } from '../db/json-sql.js';
import { RequestError } from '../errors.js';

export interface TimeTable {
  table: string;
  /** The TIMESTAMP column rows are ordered and filtered by. */
  time: string;
  /** Columns returned besides id and the time (which leaves as ISO 8601). */
  columns: string[];
  /** Optional equality filters: query parameter → column. */
  filters?: Record<string, string>;
}

export interface PageQuery {
  from?: string;
  to?: string;
  after?: string;
  limit?: string;
  order?: string;
  [filter: string]: string | undefined;
}

export const PAGE_LIMITS = { default: 100, max: 1_000 };

/** ISO 8601 (with Z or an offset, or none meaning UTC) → the UTC wall time the seed's columns hold. */
function utcTimestamp(raw: string, name: string): string {
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(raw) || !raw.includes('T') ? raw : `${raw}Z`);
  if (Number.isNaN(ms)) throw new RequestError('bad_query', `${name} must be an ISO 8601 time, got ${JSON.stringify(raw)}`);
  return new Date(ms).toISOString().replace('Z', '');
}

export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return PAGE_LIMITS.default;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > PAGE_LIMITS.max) throw new RequestError('bad_query', `limit must be an integer from 1 to ${PAGE_LIMITS.max}`);
  return n;
}

export function encodeCursor(parts: unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The parts of a cursor this API made, checked by `valid`; anything else is a 400. */
export function decodeCursor(raw: string, valid: (parts: unknown[]) => boolean): unknown[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && valid(parts)) return parts;
  } catch { /* answered below */ }
  throw new RequestError('bad_query', 'after must be a cursor from a previous page (its `next`)');
}

/** A page from rows fetched with one more than the limit: that extra row says there is a next page. */
export function toPage<R, T>(rows: R[], limit: number, item: (row: R) => T, cursorOf: (last: R) => unknown[]): Page<T> {
  const items = rows.slice(0, limit);
  return { items: items.map(item), next: rows.length > limit ? encodeCursor(cursorOf(items.at(-1)!)) : null };
}

/** The query of one page (one row more than the limit: its presence says there is a next page). */
export function timePageQuery(t: TimeTable, workspaceId: string, q: PageQuery): { sql: string; params: unknown[]; limit: number } {
  const limit = pageLimit(q.limit);
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') throw new RequestError('bad_query', 'order must be asc or desc');
  const desc = q.order === 'desc';
  const params: unknown[] = [workspaceId];
  const where = ['workspace_id = $1'];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (q.from !== undefined) add((p) => `${t.time} >= ${p}::timestamp`, utcTimestamp(q.from, 'from'));
  if (q.to !== undefined) add((p) => `${t.time} < ${p}::timestamp`, utcTimestamp(q.to, 'to'));
  for (const [param, column] of Object.entries(t.filters ?? {})) if (q[param] !== undefined) add((p) => `${column} = ${p}`, q[param]);
  if (q.after !== undefined) {
    const [time, id] = decodeCursor(q.after, ([t, i]) => typeof t === 'string' && Number.isSafeInteger(i));
    // The plain bound on the time keeps the scan on the index; the row comparison breaks ties by id.
    add((p) => `${t.time} ${desc ? '<=' : '>='} ${p}::timestamp`, time);
    add((p) => `(${t.time}, id) ${desc ? '<' : '>'} (${p}::timestamp, ${Number(id)})`, time);
  }
  params.push(limit + 1);
  const dir = desc ? 'DESC' : 'ASC';
  // The table's own column, not the text output column of the same name: only the column's order is the index's (and the partitions').
  const sql = `SELECT id, ${t.columns.join(', ')}, ${isoTime(t.time)} AS ${t.time}, ${t.time}::text AS cursor_time
    FROM ${t.table} WHERE ${where.join(' AND ')} ORDER BY ${t.table}.${t.time} ${dir}, id ${dir} LIMIT $${params.length}`;
  return { sql, params, limit };
}

export async function timePage(db: pg.Pool, t: TimeTable, workspaceId: string, q: PageQuery): Promise<Page<Record<string, unknown>>> {
  const { sql, params, limit } = timePageQuery(t, workspaceId, q);
  const rows = (await db.query<Record<string, unknown> & { id: string; cursor_time: string }>(sql, params)).rows;
  // Ids are bigint, which node-postgres returns as text; they stay JSON numbers (exact below 2^53).
  return toPage(rows, limit, ({ cursor_time: _, ...item }) => ({ ...item, id: Number(item.id) }), (last) => [last.cursor_time, Number(last.id)]);
}
