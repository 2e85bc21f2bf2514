// The benchmark's PostgreSQL: embedded, durable settings (fsync on), the
// receiver's schema, and the resets between runs.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../dev/embedded-postgres.js';
import { migrate } from '../../receiver/db/migrate.js';

const exec = promisify(execFile);

export interface BenchDb {
  server: PostgresServer;
  url: string;
  pool: pg.Pool;
  /** Empties the data tables, checkpoints and waits for the kernel's writeback, so each run starts alike. */
  reset(): Promise<void>;
  count(table: string): Promise<number>;
  /** Rows and distinct commands in command_log: lines carry a unique `#seq`, so doubles show. */
  commandRows(): Promise<{ rows: number; distinct: number }>;
  /** Transactions committed in this database so far (pg_stat_database; flushed by backends within a second or so). */
  commits(): Promise<number>;
  /** The postmaster's pid, to sample PostgreSQL's CPU and memory. */
  postmasterPid(): Promise<number>;
  /** `psql \copy` of a COPY text file into a table: the ceiling. */
  psqlCopy(table: string, columns: string, file: string): Promise<void>;
  close(): Promise<void>;
}

/** Empties the data tables, checkpoints and waits for the kernel's writeback, so each run starts alike. */
export async function resetTables(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE command_log, state_timeline, llm_interactions, workspace_status, workspace_status_clock, recording_refs, ingest_offsets, ingest_rejects, ferry_stream_events RESTART IDENTITY');
  await settle(pool);
}

/** A checkpoint, then the kernel's writeback: the last run's dirty pages would otherwise be written during the next one. */
export async function settle(pool: pg.Pool): Promise<void> {
  await pool.query('CHECKPOINT');
  await exec('sync');
}

/** `psql \\copy` of a COPY text file into a table of the database at `url`. */
export async function psqlCopy(url: string, table: string, columns: string, file: string): Promise<void> {
  await exec('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${table} (${columns}) FROM '${file}'`], { maxBuffer: 1 << 20 });
}

export async function startBenchDb(): Promise<BenchDb> {
  const server = await startPostgres({ fast: false });
  const url = await server.createDatabase('bench');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await migrate(pool);
  return {
    server, url, pool,
    reset: () => resetTables(pool),
    async count(table) {
      return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    },
    async commandRows() {
      const { rows } = await pool.query('SELECT count(*) AS rows, count(DISTINCT command) AS distinct FROM command_log');
      return { rows: Number(rows[0].rows), distinct: Number(rows[0].distinct) };
    },
    async commits() {
      return Number((await pool.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0].xact_commit);
    },
    async postmasterPid() {
      const backend = Number((await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      return Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${backend}/status`, 'utf8'))![1]);
    },
    psqlCopy: (table, columns, file) => psqlCopy(url, table, columns, file),
    async close() {
      await pool.end();
      await server.destroy();
    },
  };
}
