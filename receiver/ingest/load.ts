// load: one transaction for a group of requests to one table (ingest-queue.ts
// forms the groups). For native streams the transaction locks each stream's
// row in ingest_offsets, skips what is already committed, folds state events
// into workspace_status, COPYs the rows, stores the rejects, publishes the
// batch to the live stream and advances the offsets; it commits before any
// client hears "accepted". A retried or duplicated request therefore changes
// nothing, and a crash anywhere loses nothing.

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

export interface StreamRequest {
  key: StreamKey;
  /** The request's lines, in order, each with its offset. */
  lines: LineOutcome[];
  /** Offset just past the request's last byte. */
  endOffset: number;
}

type Planned = { kind: 'gap'; nextOffset: number } | { kind: 'fresh'; request: StreamRequest; fresh: LineOutcome[]; nextOffset: number };

/**
 * Loads requests for one table in one transaction, each exactly once. A
 * request keeps the lines past its stream's committed offset, as advanced by
 * the requests before it in the group, so a retry grouped with its original
 * stores nothing twice.
 */
export async function loadStreams(pool: pg.Pool, table: TableSpec, requests: StreamRequest[], deadlineMs = 0): Promise<StreamLoad[]> {
  return inTransaction(pool, async (client) => {
    const locked = await lockStreams(client, requests.map((r) => r.key));
    const committed = new Map(locked);
    const planned = requests.map((request): Planned => {
      const id = streamId(request.key);
      const from = committed.get(id)!;
      if ((request.lines[0]?.offset ?? request.endOffset) > from) return { kind: 'gap', nextOffset: from };
      const nextOffset = Math.max(from, request.endOffset);
      committed.set(id, nextOffset);
      return { kind: 'fresh', request, fresh: request.lines.filter((l) => l.offset! >= from), nextOffset };
    });
    const stored = planned.filter((p) => p.kind === 'fresh');
    const copySeconds = await store(client, table, stored.map((p) => ({ sourceId: p.request.key.sourceId, lines: p.fresh })));
    for (const request of requests) {
      const id = streamId(request.key);
      if (committed.get(id) === locked.get(id)) continue;
      await client.query(ADVANCE_STREAM, [request.key.workspaceId, request.key.stream, request.key.sourceId, committed.get(id)]);
      locked.set(id, committed.get(id)!);
    }
    return planned.map((p): StreamLoad => p.kind === 'gap' ? p : {
      kind: 'loaded', fresh: p.fresh, copySeconds,
      result: { ...counts(p.fresh), duplicates: p.request.lines.length - p.fresh.length, next_offset: p.nextOffset },
    });
  }, deadlineMs);
}

function streamId(key: StreamKey): string {
  return JSON.stringify([key.workspaceId, key.stream, key.sourceId]);
}

/** Each stream's committed offset, its row locked; in one order, so that concurrent groups cannot deadlock. */
async function lockStreams(client: pg.PoolClient, keys: StreamKey[]): Promise<Map<string, number>> {
  const byId = new Map(keys.map((k) => [streamId(k), k]));
  const committed = new Map<string, number>();
  for (const id of [...byId.keys()].sort()) {
    const key = byId.get(id)!;
    const { rows } = await client.query<{ next_offset: string }>(LOCK_STREAM, [key.workspaceId, key.stream, key.sourceId]);
    committed.set(id, Number(rows[0]!.next_offset));
  }
  return committed;
}

/** Loads lines that carry no offsets (Vector arrays): at-least-once, but all or nothing. */
export async function loadUnordered(pool: pg.Pool, table: TableSpec, lines: LineOutcome[], deadlineMs = 0): Promise<Loaded> {
  return inTransaction(pool, async (client) => {
    const copySeconds = await store(client, table, [{ sourceId: null, lines }]);
    return { fresh: lines, copySeconds, result: { ...counts(lines), duplicates: 0, next_offset: null } };
  }, deadlineMs);
}

function counts(lines: LineOutcome[]): { accepted: number; rejected: number } {
  const rejected = lines.filter((l) => l.reject).length;
  return { accepted: lines.length - rejected, rejected };
}

interface SourceLines {
  /** The file generation the lines came from; null for Vector arrays. */
  sourceId: string | null;
  lines: LineOutcome[];
}

/** Status fold first: it locks the workspaces, so timeline ids follow fold order. */
async function store(client: pg.PoolClient, table: TableSpec, sources: SourceLines[]): Promise<number> {
  const lines = sources.flatMap((s) => s.lines);
  await foldIntoStatus(client, lines);
  const started = performance.now();
  const rows = inIndexOrder(sources).filter((l) => l.row !== undefined).map((l) => l.row!);
  if (rows.length > 0) await pipeline(Readable.from(copyChunks(rows)), client.query(copyFrom(table.copySql)));
  const copySeconds = (performance.now() - started) / 1000;
  for (const source of sources) await insertRejects(client, table.stream, source.sourceId, source.lines.filter((l) => l.reject));
  await publishBatch(client, table.stream, countsByWorkspace(lines));
  return copySeconds;
}

const byWorkspace = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * The lines of a group by workspace, so the COPY walks the (workspace_id,
 * time) index once instead of jumping between workspaces. A native request
 * is one workspace's lines, so ordering the requests is enough; a Vector
 * array's lines are sorted themselves. Both sorts are stable: within a
 * workspace the rows keep their file order, and so their ids (a file is
 * written in time order, so this is the index order too).
 */
function inIndexOrder(sources: SourceLines[]): LineOutcome[] {
  if (sources.length === 1 && sources[0]!.sourceId !== null) return sources[0]!.lines;
  if (sources.every((s) => s.sourceId !== null)) return [...sources].sort(byWorkspace((s) => s.lines[0]?.workspaceId ?? '')).flatMap((s) => s.lines);
  return sources.flatMap((s) => s.lines).sort(byWorkspace((l) => l.workspaceId));
}

function countsByWorkspace(lines: LineOutcome[]): BatchCount[] {
  const counts = new Map<string, BatchCount>();
  for (const line of lines) {
    const c = counts.get(line.workspaceId) ?? { workspaceId: line.workspaceId, stored: 0, rejected: 0 };
    if (line.reject) c.rejected++;
    else c.stored++;
    if (line.time !== undefined && (c.newest === undefined || line.time > c.newest)) c.newest = line.time;
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
