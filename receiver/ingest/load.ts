// load: one transaction per request. For a native stream the transaction locks
// the stream's row in ingest_offsets, skips what is already committed, folds
// state events into workspace_status, COPYs the rows, stores the rejects,
// publishes the batch to the live stream and advances the offset; it commits
// before the client hears "accepted". A retried or duplicated request
// therefore changes nothing, and a crash anywhere loses nothing.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { IngestResult, LineStream } from '../../shared/wire.js';
import { inTransaction } from '../db/transaction.js';
import { publishBatch, type BatchCount } from '../stream/publish.js';
import { copyChunks } from './copy-encode.js';
import { foldStatus } from './fold-status.js';
import type { LineOutcome } from './parse.js';
import type { TableSpec } from './records.js';

export interface StreamKey {
  workspaceId: string;
  stream: LineStream;
  sourceId: string;
}

export interface Loaded {
  result: IngestResult;
  /** The lines this request stored (rows and rejects), excluding duplicates. */
  fresh: LineOutcome[];
  copySeconds: number;
}

export type StreamLoad = ({ kind: 'loaded' } & Loaded) | { kind: 'gap'; nextOffset: number };

const LOCK_STREAM = `
  INSERT INTO ingest_offsets AS o (workspace_id, stream, source_id) VALUES ($1, $2, $3)
  ON CONFLICT (workspace_id, stream, source_id) DO UPDATE SET next_offset = o.next_offset
  RETURNING next_offset`;
const ADVANCE_STREAM = `
  UPDATE ingest_offsets SET next_offset = $4, updated_at = now() AT TIME ZONE 'utc'
  WHERE workspace_id = $1 AND stream = $2 AND source_id = $3`;
const INSERT_REJECTS = `
  INSERT INTO ingest_rejects (workspace_id, stream, source_id, source_offset, reason, detail, raw, raw_length)
  SELECT w, $1, $2, o, r, d, b, n
  FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bigint[]) AS t(w, o, r, d, b, n)`;

/** Loads lines of one stream of one file generation, exactly once. */
export async function loadStream(pool: pg.Pool, table: TableSpec, key: StreamKey, lines: LineOutcome[], endOffset: number): Promise<StreamLoad> {
  const firstOffset = lines[0]?.offset ?? endOffset;
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ next_offset: string }>(LOCK_STREAM, [key.workspaceId, key.stream, key.sourceId]);
    const committed = Number(rows[0]!.next_offset);
    if (firstOffset > committed) return { kind: 'gap', nextOffset: committed };
    const fresh = lines.filter((l) => l.offset! >= committed);
    const copySeconds = await store(client, table, key.sourceId, fresh);
    const nextOffset = Math.max(committed, endOffset);
    if (nextOffset !== committed) await client.query(ADVANCE_STREAM, [key.workspaceId, key.stream, key.sourceId, nextOffset]);
    return { kind: 'loaded', fresh, copySeconds, result: { ...counts(fresh), duplicates: lines.length - fresh.length, next_offset: nextOffset } };
  });
}

/** Loads lines that carry no offsets (Vector arrays): at-least-once, but all or nothing. */
export async function loadUnordered(pool: pg.Pool, table: TableSpec, lines: LineOutcome[]): Promise<Loaded> {
  return inTransaction(pool, async (client) => {
    const copySeconds = await store(client, table, null, lines);
    return { fresh: lines, copySeconds, result: { ...counts(lines), duplicates: 0, next_offset: null } };
  });
}

function counts(lines: LineOutcome[]): { accepted: number; rejected: number } {
  const rejected = lines.filter((l) => l.reject).length;
  return { accepted: lines.length - rejected, rejected };
}

/** Status fold first: it locks the workspace, so timeline ids follow fold order. */
async function store(client: pg.PoolClient, table: TableSpec, sourceId: string | null, lines: LineOutcome[]): Promise<number> {
  await foldIntoStatus(client, lines);
  const started = performance.now();
  const rows = lines.filter((l) => l.row !== undefined).map((l) => l.row!);
  if (rows.length > 0) await pipeline(Readable.from(copyChunks(rows)), client.query(copyFrom(table.copySql)));
  const copySeconds = (performance.now() - started) / 1000;
  await insertRejects(client, table.stream, sourceId, lines.filter((l) => l.reject));
  await publishBatch(client, table.stream, countsByWorkspace(lines));
  return copySeconds;
}

function countsByWorkspace(lines: LineOutcome[]): BatchCount[] {
  const counts = new Map<string, BatchCount>();
  for (const line of lines) {
    const c = counts.get(line.workspaceId) ?? { workspaceId: line.workspaceId, stored: 0, rejected: 0 };
    if (line.reject) c.rejected++;
    else c.stored++;
    counts.set(line.workspaceId, c);
  }
  return [...counts.values()];
}

async function foldIntoStatus(client: pg.PoolClient, lines: LineOutcome[]): Promise<void> {
  const byWorkspace = new Map<string, LineOutcome[]>();
  for (const line of lines) {
    if (!line.status) continue;
    const list = byWorkspace.get(line.workspaceId) ?? [];
    list.push(line);
    byWorkspace.set(line.workspaceId, list);
  }
  // Sorted, so two requests touching the same workspaces lock them in one order.
  for (const ws of [...byWorkspace.keys()].sort()) {
    const patch = foldStatus(byWorkspace.get(ws)!.map((l) => l.status!));
    await client.query('SELECT ferry_fold_status($1, $2::jsonb)', [ws, JSON.stringify(patch)]);
  }
}

/** PostgreSQL text cannot hold U+0000 or lone surrogates; details may quote the bad line. */
function storable(text: string): string {
  return text.replaceAll('\0', '\\u0000').toWellFormed();
}

async function insertRejects(client: pg.PoolClient, stream: LineStream, sourceId: string | null, lines: LineOutcome[]): Promise<void> {
  if (lines.length === 0) return;
  await client.query(INSERT_REJECTS, [
    stream,
    sourceId,
    lines.map((l) => storable(l.workspaceId)),
    lines.map((l) => l.offset),
    lines.map((l) => l.reject!.reason),
    lines.map((l) => storable(l.reject!.detail)),
    lines.map((l) => l.reject!.raw),
    lines.map((l) => l.reject!.rawLength),
  ]);
}
