// The ingest queue: a receiver runs at most INGEST_CONCURRENCY ingest
// transactions at once. Requests that arrive meanwhile wait here, and the next
// free slot takes every waiting request for one table into one transaction
// (group commit). Concurrent COPYs into one table cost PostgreSQL CPU in lock
// contention (four at once took 60% more than one, for the same rows), while
// grouping keeps the number of transactions, and of commits to flush, low when
// many small requests arrive together.

import type pg from 'pg';
import { loadStreams, type StreamLoad, type StreamRequest } from './load.js';
import type { TableSpec } from './records.js';

export interface IngestQueue {
  /** Loads one request, alone or with others, and answers for it alone. */
  load(table: TableSpec, request: StreamRequest): Promise<StreamLoad>;
}

export interface IngestQueueOptions {
  concurrency: number;
  /** A group takes further requests only while their lines add up to at most this. */
  groupLines: number;
  onGroup(requests: number): void;
}

interface Waiting {
  table: TableSpec;
  request: StreamRequest;
  resolve(load: StreamLoad): void;
  reject(err: unknown): void;
}

export function createIngestQueue(pool: pg.Pool, o: IngestQueueOptions): IngestQueue {
  const waiting: Waiting[] = [];
  let running = 0;

  function pump(): void {
    while (running < o.concurrency && waiting.length > 0) {
      running++;
      void run(takeGroup(waiting, o.groupLines)).finally(() => {
        running--;
        pump();
      });
    }
  }

  async function run(group: Waiting[]): Promise<void> {
    o.onGroup(group.length);
    const table = group[0]!.table;
    try {
      const loads = await loadStreams(pool, table, group.map((w) => w.request));
      group.forEach((w, i) => w.resolve(loads[i]!));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      // Whatever failed the group is retried one request per transaction, so
      // that one request's problem stays its own.
      for (const w of group) await loadStreams(pool, table, [w.request]).then(([load]) => w.resolve(load!), w.reject);
    }
  }

  return {
    load: (table, request) => new Promise((resolve, reject) => {
      waiting.push({ table, request, resolve, reject });
      pump();
    }),
  };
}

/** The oldest waiting request, and the later ones for its table that fit. */
function takeGroup(waiting: Waiting[], groupLines: number): Waiting[] {
  const group = [waiting.shift()!];
  let lines = group[0]!.request.lines.length;
  for (let i = 0; i < waiting.length;) {
    const w = waiting[i]!;
    if (w.table === group[0]!.table && lines + w.request.lines.length <= groupLines) {
      group.push(w);
      lines += w.request.lines.length;
      waiting.splice(i, 1);
    } else {
      i++;
    }
  }
  return group;
}
