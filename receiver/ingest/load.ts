// load: one transaction for a group of requests to one table (ingest-queue.ts
// forms the groups). For native streams the transaction locks each stream's
// row in ingest_offsets, checks it is where the plan starts, advances it,
// folds state events into workspace_status, COPYs the rows, stores the
// rejects and publishes the batch to the live stream; it commits before any
// client hears "accepted". A retried or duplicated request therefore changes
// nothing, and a crash anywhere loses nothing.
//
// The whole transaction is one round trip (db/batch.ts): everything is
// planned and encoded before a connection is taken, on the assumption that
// each stream is committed up to where its first request starts, which is so
// unless a request is a resend, starts beyond the committed offset, or another
// replica got there first. The statement that advances the offsets checks the
// assumption under the row locks; when it fails, the transaction aborts before
// the COPY runs and is done again in two round trips: lock and read the
// offsets, then plan from them and store.

import type pg from 'pg';
import type { IngestResult, LineStream } from '../../shared/wire.js';
import { runBatch, type SqlStep, type Step, type StepResult } from '../db/batch.js';
import { onConnection } from '../db/transaction.js';
import { publishStep, type BatchCount } from '../stream/publish.js';
import { foldStatus, type StatusEvent } from './fold-status.js';
import type { LineOutcome, ParsedLines } from './parse.js';
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
  /** performance.now() when its transaction had a connection and was sent, and when its commit was answered. */
  sentAt: number;
  committedAt: number;
}

export type StreamLoad = ({ kind: 'loaded' } & Loaded) | { kind: 'gap'; nextOffset: number };

const BEGIN: SqlStep = { sql: 'BEGIN' };
const COMMIT: SqlStep = { sql: 'COMMIT' };
const ROLLBACK: SqlStep = { sql: 'ROLLBACK' };
/** ferry_advance_offsets(): a stream was not where the plan started (migration 007). */
const OFFSETS_MOVED = 'YF409';
const LOCK_STREAMS = 'SELECT workspace_id, stream, source_id, next_offset FROM ferry_lock_offsets($1::text[], $2::text[], $3::text[])';
const ADVANCE_STREAMS = 'SELECT ferry_advance_offsets($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])';
const FOLD_STATUSES = 'SELECT ferry_fold_statuses($1::text[], $2::jsonb[])';
const INSERT_REJECTS = `
  INSERT INTO ingest_rejects (workspace_id, stream, source_id, source_offset, reason, detail, raw, raw_length)
  SELECT w, $1, s, o, r, d, b, n
  FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bigint[]) AS t(w, s, o, r, d, b, n)`;

/** A request's lines, in order, each with its offset, and their rows (parse.ts). */
export interface StreamRequest extends ParsedLines {
  key: StreamKey;
  /** Offset just past the request's last byte. */
  endOffset: number;
}

type Planned = { kind: 'gap'; nextOffset: number } | { kind: 'fresh'; request: StreamRequest; fresh: ParsedLines; nextOffset: number };

/** Committed offsets, by streamId(). */
type Offsets = Map<string, number>;

interface Plan {
  /** The statements that check and advance the offsets and store the lines. */
  steps: Step[];
  /** Each request's answer, once the steps have committed; `sentAt` as in Loaded. */
  answer(results: StepResult[], sentAt: number): StreamLoad[];
}

/**
 * Loads requests for one table in one transaction, each exactly once. A
 * request keeps the lines past its stream's committed offset, as advanced by
 * the requests before it in the group, so a retry grouped with its original
 * stores nothing twice.
 */
export async function loadStreams(pool: pg.Pool, table: TableSpec, requests: StreamRequest[], deadlineMs = 0): Promise<StreamLoad[]> {
  const keys = new Map(requests.map((r) => [streamId(r.key), r.key]));
  const hoped = plan(table, requests, keys, startsOf(requests));
  return onConnection(pool, async (client) => {
    const sentAt = performance.now();
    try {
      return hoped.answer(await runBatch(client, [BEGIN, ...hoped.steps, COMMIT]), sentAt);
    } catch (err) {
      if ((err as { code?: unknown }).code !== OFFSETS_MOVED) throw err;
    }
    const locked = (await runBatch(client, [ROLLBACK, BEGIN, lockStep([...keys.values()])]))[2]!;
    const exact = plan(table, requests, keys, new Map(locked.rows.map((r) => [streamId({ workspaceId: r.workspace_id!, stream: r.stream as LineStream, sourceId: r.source_id! }), Number(r.next_offset)])));
    return exact.answer(await runBatch(client, [...exact.steps, COMMIT]), sentAt);
  }, deadlineMs);
}

function streamId(key: StreamKey): string {
  return JSON.stringify([key.workspaceId, key.stream, key.sourceId]);
}

/** Where each stream's first request starts. */
function startsOf(requests: StreamRequest[]): Offsets {
  const starts: Offsets = new Map();
  for (const r of requests) {
    const id = streamId(r.key);
    if (!starts.has(id)) starts.set(id, r.lines[0]?.offset ?? r.endOffset);
  }
  return starts;
}

/** The group's requests from the offsets `from`: which lines each stores, and the statements that do it. */
function plan(table: TableSpec, requests: StreamRequest[], keys: Map<string, StreamKey>, from: Offsets): Plan {
  const committed = new Map(from);
  const planned = requests.map((request): Planned => {
    const id = streamId(request.key);
    const start = committed.get(id)!;
    if ((request.lines[0]?.offset ?? request.endOffset) > start) return { kind: 'gap', nextOffset: start };
    const nextOffset = Math.max(start, request.endOffset);
    committed.set(id, nextOffset);
    return { kind: 'fresh', request, fresh: linesFrom(request, start), nextOffset };
  });
  const stored = planned.filter((p) => p.kind === 'fresh');
  const ids = [...keys.keys()];
  const advance: SqlStep = {
    sql: ADVANCE_STREAMS,
    values: [ids.map((id) => keys.get(id)!.workspaceId), ids.map((id) => keys.get(id)!.stream), ids.map((id) => keys.get(id)!.sourceId), ids.map((id) => from.get(id)), ids.map((id) => committed.get(id))],
  };
  return {
    steps: [advance, ...storeSteps(table, stored.map((p) => ({ sourceId: p.request.key.sourceId, ...p.fresh })))],
    answer: (results, sentAt) => planned.map((p): StreamLoad => p.kind === 'gap' ? p : {
      kind: 'loaded', fresh: p.fresh.lines, copySeconds: copySeconds(results), sentAt, committedAt: performance.now(),
      result: { ...counts(p.fresh.lines), duplicates: p.request.lines.length - p.fresh.lines.length, next_offset: p.nextOffset },
    }),
  };
}

/** A request's lines at or past `offset` (a suffix: lines are in file order), and their rows. */
function linesFrom(request: StreamRequest, offset: number): ParsedLines {
  const first = request.lines.findIndex((l) => l.offset! >= offset);
  if (first === 0) return request;
  if (first === -1) return { lines: [], rows: request.rows.subarray(request.rows.length) };
  const before = request.lines.slice(0, first).findLast((l) => l.rowEnd !== undefined);
  // The request's oldest stays a bound: the rows before `first` are stored already.
  return { lines: request.lines.slice(first), rows: request.rows.subarray(before?.rowEnd ?? 0), oldest: request.oldest };
}

function lockStep(keys: StreamKey[]): SqlStep {
  return { sql: LOCK_STREAMS, values: [keys.map((k) => k.workspaceId), keys.map((k) => k.stream), keys.map((k) => k.sourceId)] };
}

/** Loads lines that carry no offsets (Vector arrays): at-least-once, but all or nothing. */
export async function loadUnordered(pool: pg.Pool, table: TableSpec, parsed: ParsedLines, deadlineMs = 0): Promise<Loaded> {
  const { lines } = parsed;
  const steps = storeSteps(table, [{ sourceId: null, ...parsed }]);
  return onConnection(pool, async (client) => {
    const sentAt = performance.now();
    const results = await runBatch(client, [BEGIN, ...steps, COMMIT]);
    return { fresh: lines, copySeconds: copySeconds(results), sentAt, committedAt: performance.now(), result: { ...counts(lines), duplicates: 0, next_offset: null } };
  }, deadlineMs);
}

function counts(lines: LineOutcome[]): { accepted: number; rejected: number } {
  const rejected = lines.filter((l) => l.reject).length;
  return { accepted: lines.length - rejected, rejected };
}

/** PostgreSQL's time for the COPY: from the answer to the statement before it to its own. */
function copySeconds(results: StepResult[]): number {
  const i = results.findIndex((r) => r.command.startsWith('COPY'));
  return i > 0 ? (results[i]!.doneAt - results[i - 1]!.doneAt) / 1000 : 0;
}

interface SourceLines extends ParsedLines {
  /** The file generation the lines came from; null for Vector arrays. */
  sourceId: string | null;
}

/** Status fold first: it locks the workspaces, so timeline ids follow fold order. */
function storeSteps(table: TableSpec, sources: SourceLines[]): Step[] {
  // concat, not flatMap: V8's flatMap took 200 ns a line, concat 26.
  const lines = ([] as LineOutcome[]).concat(...sources.map((s) => s.lines));
  const data = inIndexOrder(sources);
  const steps: Array<Step | undefined> = [
    foldStep(lines),
    data.length > 0 ? { copy: table.copySql, data } : undefined,
    rejectsStep(table.stream, sources),
    publishStep(table.stream, countsByWorkspace(lines), oldestOf(sources)),
  ];
  return steps.filter((s) => s !== undefined);
}

const byWorkspace = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/**
 * The rows of a group by workspace, so the COPY walks the (workspace_id,
 * time) index once instead of jumping between workspaces. A native request
 * is one workspace's lines, so ordering the requests is enough; a Vector
 * array's rows are sorted themselves. Both sorts are stable: within a
 * workspace the rows keep their file order, and so their ids (a file is
 * written in time order, so this is the index order too).
 */
function inIndexOrder(sources: SourceLines[]): Buffer[] {
  const ordered = sources.every((s) => s.sourceId !== null)
    ? [...sources].sort(byWorkspace((s) => s.lines[0]?.workspaceId ?? '')).map((s) => s.rows)
    : sources.map(rowsByWorkspace);
  return ordered.filter((rows) => rows.length > 0);
}

function rowsByWorkspace({ lines, rows }: ParsedLines): Buffer {
  const ranges: Array<{ workspaceId: string; from: number; to: number }> = [];
  for (const l of lines) if (l.rowEnd !== undefined) ranges.push({ workspaceId: l.workspaceId, from: ranges.at(-1)?.to ?? 0, to: l.rowEnd });
  if (ranges.every((r) => r.workspaceId === ranges[0]!.workspaceId)) return rows;
  return Buffer.concat(ranges.sort(byWorkspace((r) => r.workspaceId)).map((r) => rows.subarray(r.from, r.to)));
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

/** A time every workspace of the group has a row at least as new as, once stored (ParsedLines.oldest). */
function oldestOf(sources: SourceLines[]): string | undefined {
  const stored = sources.filter((s) => s.lines.length > 0);
  if (!stored.every((s) => s.oldest !== undefined)) return undefined;
  return stored.map((s) => s.oldest!).sort()[0];
}

function foldStep(lines: LineOutcome[]): SqlStep | undefined {
  const byWorkspace = new Map<string, StatusEvent[]>();
  for (const line of lines) {
    if (!line.status) continue;
    const list = byWorkspace.get(line.workspaceId);
    if (list) list.push(line.status);
    else byWorkspace.set(line.workspaceId, [line.status]);
  }
  if (byWorkspace.size === 0) return undefined;
  // Sorted, so two transactions touching the same workspaces lock them in one order.
  const workspaces = [...byWorkspace.keys()].sort();
  return { sql: FOLD_STATUSES, values: [workspaces, workspaces.map((ws) => JSON.stringify(foldStatus(byWorkspace.get(ws)!)))] };
}

/** PostgreSQL text cannot hold U+0000 or lone surrogates; details may quote the bad line. */
function storable(text: string): string {
  return text.replaceAll('\0', '\\u0000').toWellFormed();
}

function rejectsStep(stream: LineStream, sources: SourceLines[]): SqlStep | undefined {
  const lines = sources.flatMap((s) => s.lines.filter((l) => l.reject).map((l) => ({ sourceId: s.sourceId, line: l })));
  if (lines.length === 0) return undefined;
  return {
    sql: INSERT_REJECTS,
    values: [
      stream,
      lines.map((r) => storable(r.line.workspaceId)),
      lines.map((r) => r.sourceId),
      lines.map((r) => r.line.offset),
      lines.map((r) => r.line.reject!.reason),
      lines.map((r) => storable(r.line.reject!.detail)),
      lines.map((r) => r.line.reject!.raw),
      lines.map((r) => r.line.reject!.rawLength),
    ],
  };
}
