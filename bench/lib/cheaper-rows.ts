// What a row costs, two ways to make it cheaper measured against each other
// in one run: COPY of the same command rows as a fleet writes them
// (workspaces interleaved) and sorted by (workspace_id, time); and tutor
// calls stored with pglz or with lz4 (where the server has it).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { seededRandom } from '../../dev/random.js';
import { llmLine } from '../../dev/workload.js';
import { tableBytes } from '../../receiver/db/partitions.js';
import { copyChunks } from '../../receiver/ingest/copy-encode.js';
import { TABLES } from '../../receiver/ingest/records.js';
import { psqlCopy, resetTables } from './bench-db.js';
import { COMMAND_COLUMNS, indexBytes, interleavedAndSorted } from './growth-data.js';
import type { Row } from '../scenario.js';

/** psql \copy of `rows` command rows in both orders, alternating for `rounds`; the median round of each. */
export async function sortedVersusInterleaved(pool: pg.Pool, url: string, o: { rows: number; workspaces: number; rounds: number; dir: string; progress(m: string): void }): Promise<Row[]> {
  const { interleaved, sorted } = interleavedAndSorted(o.rows, o.workspaces, Date.now());
  const files = { 'interleaved (as a fleet writes)': join(o.dir, 'interleaved.tsv'), 'sorted by (workspace_id, time)': join(o.dir, 'sorted.tsv') };
  await writeFile(files['interleaved (as a fleet writes)'], interleaved);
  await writeFile(files['sorted by (workspace_id, time)'], sorted);
  const runs: Record<string, Array<{ seconds: number; indexBytes: number }>> = {};
  for (let round = 1; round <= o.rounds; round++) {
    for (const [order, file] of Object.entries(files)) {
      o.progress(`cheaper rows, round ${round}/${o.rounds}: psql \\copy of ${o.rows.toLocaleString()} rows, ${order}`);
      await resetTables(pool);
      const t = performance.now();
      await psqlCopy(url, 'command_log', COMMAND_COLUMNS, file);
      (runs[order] ??= []).push({ seconds: (performance.now() - t) / 1000, indexBytes: await indexBytes(pool, 'command_log') });
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return Object.entries(runs).map(([order, rs]) => ({
    'command rows': order, rows: o.rows, 'seconds (median)': median(rs.map((r) => r.seconds)), 'rows/s': o.rows / median(rs.map((r) => r.seconds)),
    'index bytes per row': median(rs.map((r) => r.indexBytes)) / o.rows,
  }));
}

/** Tutor calls (5-50 KB prompts that compress like real ones) stored with each compression the server has. */
export async function tutorCallCompression(pool: pg.Pool, o: { calls: number; progress(m: string): void }): Promise<Row[]> {
  const methods = (await pool.query<{ methods: string[] }>("SELECT enumvals AS methods FROM pg_settings WHERE name = 'default_toast_compression'")).rows[0]!.methods;
  const rand = seededRandom(23);
  const now = Date.now();
  const rows = Array.from({ length: o.calls }, (_, i) => {
    const line = { ...llmLine(rand, i, 5_000 + Math.floor(rand() * 45_000), true), requested_at: new Date(now - 3_600_000 + i).toISOString() };
    return TABLES.llm.toRow(line, `fleet-ws-${String(i % 1000).padStart(4, '0')}`).row;
  });
  const out: Row[] = [];
  for (const method of methods) {
    o.progress(`cheaper rows: ${o.calls.toLocaleString()} tutor calls with ${method}`);
    await resetTables(pool);
    for (const { relid } of (await pool.query<{ relid: string }>("SELECT relid::text FROM pg_partition_tree('llm_interactions')")).rows) {
      await pool.query(`ALTER TABLE ${relid} ALTER COLUMN prompt_context SET COMPRESSION ${method}, ALTER COLUMN response SET COMPRESSION ${method}, ALTER COLUMN student_question SET COMPRESSION ${method}`);
    }
    const client = await pool.connect();
    const t = performance.now();
    try {
      await pipeline(Readable.from(copyChunks(rows)), client.query(copyFrom(TABLES.llm.copySql)));
    } finally {
      client.release();
    }
    const seconds = (performance.now() - t) / 1000;
    const t2 = performance.now();
    await pool.query('SELECT sum(octet_length(response)), sum(octet_length(prompt_context::text)) FROM llm_interactions');
    out.push({
      compression: method, 'tutor calls': o.calls, 'COPY s': seconds, 'read s': (performance.now() - t2) / 1000,
      'bytes per tutor call': (await tableBytes(pool)).llm_interactions / o.calls,
      'bytes as sent (COPY text) per call': rows.reduce((n, r) => n + Buffer.byteLength(r), 0) / o.calls,
    });
  }
  return out;
}
