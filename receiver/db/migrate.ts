// Versioned migrations, applied on startup. The whole run is one transaction
// under a transaction-scoped advisory lock, so replicas starting together
// apply each version once, and it works through PgBouncer in transaction
// pooling mode (session locks would not).

import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';
import { PUBLISH_FUNCTIONS } from '../stream/publish.js';
import { inTransaction } from './transaction.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
/** Arbitrary, fixed: the advisory lock key for ferry's migrations ("ferry" in ASCII). */
const LOCK_KEY = 0x6665727279;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (name) => ({
    version: Number.parseInt(name, 10),
    name,
    sql: await readFile(new URL(name, MIGRATIONS_DIR), 'utf8'),
  })));
}

/** Runs `work` in one transaction holding the migrations' advisory lock (also taken by partition maintenance). */
export async function withMigrationLock<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    return work(client);
  });
}

/** Applies what is missing (up to version `upTo`, for tests of an upgrade); returns the versions this call applied. */
export async function migrate(pool: pg.Pool, upTo = Infinity): Promise<number[]> {
  const migrations = (await loadMigrations()).filter((m) => m.version <= upTo);
  return withMigrationLock(pool, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS ferry_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM ferry_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO ferry_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    // Functions whose SQL the receiver's code writes: replaced by every receiver that migrates, under this lock.
    if (upTo === Infinity) for (const sql of PUBLISH_FUNCTIONS) await client.query(sql);
    return applied;
  });
}
