// The growth scenario's data: a command_log filled the way a fleet fills it,
// fast (one COPY without indexes, then the indexes built once), and the
// command lines whose ingest is measured on top of it.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { seededRandom } from '../../dev/random.js';
import { commandLines } from '../../dev/workload.js';
import { copyChunks, copyRow, copyText } from '../../receiver/ingest/copy-encode.js';
import { toUtcTimestamp } from '../../receiver/ingest/timestamp.js';
import { batchesOf, type Batch } from './post-streams.js';

/** The fleet generator's workspace names (bench/fleet-generator.ts), so its rows land among these. */
export const fleetWorkspace = (i: number) => `fleet-ws-${String(i).padStart(4, '0')}`;

export const COMMAND_COLUMNS = 'workspace_id, command, exit_code, "timestamp"';

/** Bytes of the indexes of every partition of `table` (or of the one partition `partition`). */
export const indexBytes = async (pool: pg.Pool, table: string) =>
  Number((await pool.query('SELECT coalesce(sum(pg_indexes_size(relid)), 0) AS b FROM pg_partition_tree($1::regclass) WHERE isleaf', [table])).rows[0].b);
const HOUR = 3_600_000;

const utc = (ms: number) => toUtcTimestamp(ms / 1000)!;

/** Rows in time order from `from` to `to`, each from a random workspace: what a fleet writes, interleaved. */
function* fleetRows(rows: number, workspaces: number, from: number, to: number): Generator<string> {
  const rand = seededRandom(20);
  const commands = commandLines(4096, 21);
  const step = (to - from) / rows;
  for (let i = 0; i < rows; i++) {
    const c = commands[i & 4095]!;
    yield copyRow([fleetWorkspace(Math.floor(rand() * workspaces)), copyText(c.command), String(c.exit_code), utc(from + i * step)]);
  }
}

export interface Preloaded {
  copySeconds: number;
  indexSeconds: number;
}

/**
 * Fills command_log with `rows` rows over [from, to): its primary key and
 * index are dropped, the rows copied, the indexes built (on every partition)
 * and the table vacuumed, so what follows reads it as a long-lived one.
 */
export async function preload(pool: pg.Pool, o: { rows: number; workspaces: number; from: number; to: number; progress(m: string): void }): Promise<Preloaded> {
  const client = await pool.connect();
  try {
    await client.query('ALTER TABLE command_log DROP CONSTRAINT command_log_pkey');
    await client.query('DROP INDEX idx_command_log_ws');
    let t = performance.now();
    let sent = 0;
    const counted = function* (): Generator<string> {
      for (const row of fleetRows(o.rows, o.workspaces, o.from, o.to)) {
        if (++sent % 2_000_000 === 0) o.progress(`preload: ${sent.toLocaleString()} of ${o.rows.toLocaleString()} rows`);
        yield row;
      }
    };
    await pipeline(Readable.from(copyChunks(counted())), client.query(copyFrom(`COPY command_log (${COMMAND_COLUMNS}) FROM STDIN`)));
    const copySeconds = (performance.now() - t) / 1000;
    o.progress('preload: building the indexes');
    t = performance.now();
    await client.query("SET maintenance_work_mem = '512MB'");
    await client.query('ALTER TABLE command_log ADD PRIMARY KEY (id, "timestamp")');
    await client.query('CREATE INDEX idx_command_log_ws ON command_log (workspace_id, "timestamp")');
    await client.query('VACUUM ANALYZE command_log');
    return { copySeconds, indexSeconds: (performance.now() - t) / 1000 };
  } finally {
    client.release();
  }
}

export interface MeasuredLines {
  /** Per stream: its workspace and its lines as request bodies. */
  streams: Array<{ workspaceId: string; batches: Batch[] }>;
  /** The same rows as COPY text, for psql \copy. */
  tsv: string;
  rows: number;
  ndjsonBytes: number;
}

/** `rows` commands over `streams` workspaces spread among the fleet's, stamped in the hour before `until`. */
export function measuredLines(rows: number, streams: number, workspaces: number, until: number, batchBytes: number): MeasuredLines {
  const perStream = Math.floor(rows / streams);
  const lines = commandLines(perStream * streams, 22);
  const out: MeasuredLines = { streams: [], tsv: '', rows: perStream * streams, ndjsonBytes: 0 };
  const tsv: string[] = [];
  for (let s = 0; s < streams; s++) {
    const workspaceId = fleetWorkspace(Math.floor((s * workspaces) / streams));
    const ndjson: string[] = [];
    for (let i = 0; i < perStream; i++) {
      const l = lines[s * perStream + i]!;
      const at = until - HOUR + (i * HOUR) / perStream;
      const line = `${JSON.stringify({ ...l, timestamp: new Date(at).toISOString() })}\n`;
      ndjson.push(line);
      out.ndjsonBytes += Buffer.byteLength(line);
      tsv.push(copyRow([workspaceId, copyText(l.command), String(l.exit_code), utc(at)]));
    }
    out.streams.push({ workspaceId, batches: batchesOf(ndjson, batchBytes) });
  }
  out.tsv = tsv.join('');
  return out;
}

/** The same rows as the fleet writes them (interleaved, in time order) and sorted by (workspace_id, time), as COPY text. */
export function interleavedAndSorted(rows: number, workspaces: number, until: number): { interleaved: string; sorted: string } {
  const all = [...fleetRows(rows, workspaces, until - HOUR, until)];
  const key = (row: string) => row.slice(0, row.indexOf('\t'));
  // Stable: within a workspace the rows stay in time order.
  const sorted = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { interleaved: all.join(''), sorted: sorted.join('') };
}
