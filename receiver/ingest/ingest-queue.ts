// The ingest queue: a receiver runs at most INGEST_CONCURRENCY ingest
// transactions at once, native and Vector-format alike. Requests that arrive
// meanwhile wait here, and the next free slot takes every waiting native
// request for one table into one transaction (group commit). Concurrent COPYs
// into one table cost PostgreSQL CPU in lock contention (four at once took 60%
// more than one, for the same rows), while grouping keeps the number of
// transactions, and of commits to flush, low when many small requests arrive
// together. What waits here is bounded in bytes by the memory budget, and is
// answered 503 at once when the database is known to be unreachable.

import type pg from 'pg';
import { isDatabaseUnavailable } from '../db/pool.js';
import { loadStreams, loadUnordered, type Loaded, type StreamLoad, type StreamRequest } from './load.js';
import type { ParsedLines } from './parse.js';
import type { TableSpec } from './records.js';

export interface IngestQueue {
  /** Loads one request, alone or with others, and answers for it alone. */
  load(table: TableSpec, request: StreamRequest): Promise<StreamLoad>;
  /** Loads lines without offsets (Vector arrays) in a slot of their own. */
  loadUnordered(table: TableSpec, parsed: ParsedLines): Promise<Loaded>;
  /** Answers every waiting request with `err` (the database is gone: waiting would only hold their memory). */
  abandon(err: unknown): void;
}

export interface IngestQueueOptions {
  concurrency: number;
  /** A group takes further requests only while their lines add up to at most this. */
  groupLines: number;
  /** A transaction that takes longer has its connection dropped (0: no deadline). */
  deadlineMs: number;
  onGroup(requests: number): void;
}

type Work =
  | { kind: 'stream'; table: TableSpec; request: StreamRequest; resolve(load: StreamLoad): void; reject(err: unknown): void }
  | { kind: 'unordered'; table: TableSpec; parsed: ParsedLines; resolve(load: Loaded): void; reject(err: unknown): void };
type Waiting = Extract<Work, { kind: 'stream' }>;

export function createIngestQueue(pool: pg.Pool, o: IngestQueueOptions): IngestQueue {
  const waiting: Work[] = [];
  let running = 0;

  function pump(): void {
    while (running < o.concurrency && waiting.length > 0) {
      running++;
      const first = waiting.shift()!;
      const done = first.kind === 'unordered'
        ? loadUnordered(pool, first.table, first.parsed, o.deadlineMs).then(first.resolve, first.reject)
        : run(takeGroup(first, waiting, o.groupLines));
      void done.finally(() => {
        running--;
        pump();
      });
    }
  }

  async function run(group: Waiting[]): Promise<void> {
    o.onGroup(group.length);
    const table = group[0]!.table;
    try {
      const loads = await loadStreams(pool, table, group.map((w) => w.request), o.deadlineMs);
      group.forEach((w, i) => w.resolve(loads[i]!));
    } catch (err) {
      // An unreachable database fails every member alike: retrying them one by one would hold the slot for minutes.
      if (group.length === 1 || isDatabaseUnavailable(err)) return group.forEach((w) => w.reject(err));
      // Whatever else failed the group is retried one request per transaction, so that one request's problem stays its own.
      for (const w of group) await loadStreams(pool, table, [w.request], o.deadlineMs).then(([load]) => w.resolve(load!), w.reject);
    }
  }

  return {
    load: (table, request) => new Promise((resolve, reject) => {
      waiting.push({ kind: 'stream', table, request, resolve, reject });
      pump();
    }),
    loadUnordered: (table, parsed) => new Promise((resolve, reject) => {
      waiting.push({ kind: 'unordered', table, parsed, resolve, reject });
      pump();
    }),
    abandon(err) {
      for (const w of waiting.splice(0)) w.reject(err);
    },
  };
}

/** The oldest waiting request, and the later native ones for its table that fit. */
function takeGroup(first: Waiting, waiting: Work[], groupLines: number): Waiting[] {
  const group = [first];
  let lines = first.request.lines.length;
  for (let i = 0; i < waiting.length;) {
    const w = waiting[i]!;
    if (w.kind === 'stream' && w.table === first.table && lines + w.request.lines.length <= groupLines) {
      group.push(w);
      lines += w.request.lines.length;
      waiting.splice(i, 1);
    } else {
      i++;
    }
  }
  return group;
}
