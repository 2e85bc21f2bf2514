// The log tables' time partitions (migration 005): what exists, what must be
// created ahead, what the retention drops. Times are UTC milliseconds, the
// wall time the TIMESTAMP columns hold.
//
// Creating runs in one transaction under the migrations' advisory lock, so
// replicas (and PgBouncer in transaction mode) never race. Dropping cannot:
// DETACH PARTITION ... CONCURRENTLY, which keeps ingest and reads running,
// refuses a transaction block. So the decision is taken under the lock and
// written to ferry_retired_partitions, and each partition is then detached
// and dropped by statements of their own. A concurrent run (another replica)
// finds the partition already detaching or gone, and leaves it; a run that
// stops half-way leaves the work listed for the next one.

import type pg from 'pg';
import type { ReceiverConfig } from '../config.js';
import { withMigrationLock } from './migrate.js';
import { inTransaction } from './transaction.js';

export const PARTITIONED_TABLES = ['command_log', 'state_timeline', 'llm_interactions', 'ingest_rejects'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export interface Partition {
  table: PartitionedTable;
  name: string;
  /** Inclusive lower bound; -Infinity for MINVALUE (the history partition). */
  from: number;
  /** Exclusive upper bound; Infinity for MAXVALUE. */
  to: number;
  /** Detached concurrently, not finished yet: no longer used for new rows or queries. */
  detaching: boolean;
}

export interface PartitionPolicy {
  intervalMs: number;
  /** Rows stamped further ahead of the receiver's clock are rejected. */
  maxFutureMs: number;
  /** Per table; 0 keeps rows forever. */
  retentionMs: Record<PartitionedTable, number>;
}

const DAY_MS = 86_400_000;
/** Created this far beyond the furthest timestamp accepted, so a maintenance run that fails now and then costs nothing. */
export const aheadMs = (p: PartitionPolicy) => Math.max(2 * DAY_MS, 3 * p.intervalMs);
/** A partition is dropped only this long after the retention passed its end: a request judged a moment before still finds it. */
export const RETENTION_GRACE_MS = 3_600_000;
/** Maintenance gives up on a lock after this; the next run tries again. */
const LOCK_TIMEOUT = '5s';

/** ferry's partitions of the log tables, read in ISO date style so the bounds parse alike on every server. */
const LIST = `
  SELECT p.relname AS table, c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, i.inhdetachpending AS detaching
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
  WHERE i.inhparent = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)
  ORDER BY p.relname, c.relname`;
const BOUND = /^FOR VALUES FROM \((MINVALUE|'([^']+)')\) TO \((MAXVALUE|'([^']+)')\)$/;

function boundMs(text: string | undefined, infinite: number): number {
  return text === undefined ? infinite : Date.parse(`${text.replace(' ', 'T')}Z`);
}

export async function listPartitions(client: pg.ClientBase): Promise<Partition[]> {
  await client.query("SET LOCAL datestyle = 'ISO, YMD'");
  const { rows } = await client.query<{ table: PartitionedTable; name: string; bound: string | null; detaching: boolean }>(LIST, [PARTITIONED_TABLES]);
  return rows.flatMap((r) => {
    // The rows come from the statement's snapshot, but pg_get_expr looks the
    // relation up as it is now: a partition another replica dropped since
    // then has no bound, and is gone.
    if (r.bound === null) return [];
    const m = BOUND.exec(r.bound);
    if (!m) throw new Error(`partition ${r.name} has a bound ferry did not make: ${r.bound}`);
    return [{ table: r.table, name: r.name, from: boundMs(m[2], -Infinity), to: boundMs(m[4], Infinity), detaching: r.detaching }];
  });
}

const live = (parts: readonly Partition[], table: PartitionedTable) => parts.filter((p) => p.table === table && !p.detaching);

/**
 * The oldest timestamp a row of `table` may have: the retention's horizon,
 * and never before the oldest partition (with retention 0, once the history
 * partition is gone, older rows would have nowhere to go).
 */
export function oldestAccepted(parts: readonly Partition[], policy: PartitionPolicy, table: PartitionedTable, now: number): number {
  const retention = policy.retentionMs[table];
  const horizon = retention > 0 ? now - retention : -Infinity;
  const mine = live(parts, table);
  const firstStart = mine.length === 0 ? -Infinity : Math.min(...mine.map((p) => p.from));
  return Math.max(horizon, firstStart);
}

/** Where the partitions that run unbroken from `now` end: rows up to there have a place. */
export function coveredUntil(parts: readonly Partition[], table: PartitionedTable, now: number): number {
  const mine = live(parts, table).sort((a, b) => a.from - b.from);
  let at = now;
  for (const p of mine) if (p.from <= at && at < p.to) at = p.to;
  return at;
}

/**
 * The ranges to create: every interval (aligned on multiples of the interval
 * since the epoch, so midnight UTC for days) from the oldest accepted time to
 * beyond the furthest accepted one, less what existing partitions cover.
 */
export function missingRanges(parts: readonly Partition[], policy: PartitionPolicy, table: PartitionedTable, now: number): Array<{ from: number; to: number }> {
  const mine = live(parts, table);
  const history = mine.find((p) => p.from === -Infinity);
  let start = oldestAccepted(parts, policy, table, now);
  if (history) start = Math.max(start, history.to);
  if (start === -Infinity) start = now;
  const end = now + policy.maxFutureMs + aheadMs(policy);
  const step = policy.intervalMs;
  const out: Array<{ from: number; to: number }> = [];
  for (let slot = Math.floor(start / step) * step; slot < end; slot += step) {
    // The slot, less every partition overlapping it, from left to right.
    let from = slot;
    for (const p of mine.filter((q) => q.from < slot + step && q.to > slot).sort((a, b) => a.from - b.from)) {
      if (p.from > from) out.push({ from, to: p.from });
      from = Math.max(from, p.to);
    }
    if (from < slot + step) out.push({ from, to: slot + step });
  }
  return out;
}

const sqlTime = (ms: number) => new Date(ms).toISOString();

/** Creates what is missing ahead (and any gap a long outage left); returns the partitions as they now are. */
export async function ensurePartitions(pool: pg.Pool, policy: PartitionPolicy, now: number): Promise<{ partitions: Partition[]; created: Partition[] }> {
  return withMigrationLock(pool, async (client) => {
    await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    const before = await listPartitions(client);
    const created: string[] = [];
    for (const table of PARTITIONED_TABLES) {
      for (const range of missingRanges(before, policy, table, now)) {
        const { rows } = await client.query<{ name: string }>('SELECT ferry_create_partition($1::regclass, $2::timestamp, $3::timestamp) AS name', [table, sqlTime(range.from), sqlTime(range.to)]);
        created.push(rows[0]!.name);
      }
    }
    const partitions = await listPartitions(client);
    return { partitions, created: partitions.filter((p) => created.includes(p.name)) };
  });
}

export interface Retired {
  partition: string;
  parent: PartitionedTable;
}

/** Lists for dropping the partitions past their table's retention (and any a stopped run left); returns everything listed. */
async function retire(pool: pg.Pool, policy: PartitionPolicy, now: number): Promise<Retired[]> {
  return withMigrationLock(pool, async (client) => {
    const parts = await listPartitions(client);
    const expired = parts.filter((p) => {
      const retention = policy.retentionMs[p.table];
      return p.detaching || (retention > 0 && p.to <= now - retention - RETENTION_GRACE_MS);
    });
    await client.query(`
      INSERT INTO ferry_retired_partitions (partition, parent) SELECT * FROM unnest($1::text[], $2::text[])
      ON CONFLICT (partition) DO NOTHING`, [expired.map((p) => p.name), expired.map((p) => p.table)]);
    return (await client.query<Retired>('SELECT partition, parent FROM ferry_retired_partitions ORDER BY retired_at, partition')).rows;
  });
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
/** SQLSTATEs of a detach another run is doing or has done: "already pending detach", "not a partition" or gone. */
const DETACH_RACES = new Set(['55000', '42P01']);
const sqlState = (err: unknown) => String((err as { code?: unknown }).code ?? '');

/**
 * Detaches (or finishes detaching) one retired partition and drops it.
 * `busy`: another run is detaching a partition of the same table (only one
 * may be pending at a time), so this one waits for the next run; `gone`:
 * another run dropped it first.
 */
async function drop(pool: pg.Pool, r: Retired): Promise<'dropped' | 'gone' | 'busy'> {
  const state = async () => (await pool.query<{ exists: boolean; attached: boolean; detaching: boolean }>(`
    SELECT to_regclass($1) IS NOT NULL AS exists, i.inhrelid IS NOT NULL AS attached, coalesce(i.inhdetachpending, false) AS detaching
    FROM (SELECT 1) AS one LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass($1) AND i.inhparent = to_regclass($2)`, [r.partition, r.parent])).rows[0]!;
  let s = await state();
  if (s.attached) {
    try {
      await pool.query(`ALTER TABLE ${ident(r.parent)} DETACH PARTITION ${ident(r.partition)} ${s.detaching ? 'FINALIZE' : 'CONCURRENTLY'}`);
    } catch (err) {
      if (!DETACH_RACES.has(sqlState(err))) throw err;
    }
    s = await state();
    if (s.attached) return 'busy';
  }
  const outcome = s.exists ? await dropTable(pool, r.partition) : 'gone';
  await pool.query('DELETE FROM ferry_retired_partitions WHERE partition = $1', [r.partition]);
  return outcome;
}

/** Drops a detached table, which nobody uses: it gives up rather than queue for a lock. */
async function dropTable(pool: pg.Pool, name: string): Promise<'dropped' | 'gone'> {
  try {
    await inTransaction(pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await client.query(`DROP TABLE ${ident(name)}`);
    });
    return 'dropped';
  } catch (err) {
    if (sqlState(err) === '42P01') return 'gone';
    throw err;
  }
}

/**
 * Drops every partition past its table's retention, oldest first. Ingest
 * never waits on it: a concurrent detach only waits for the transactions
 * that started before it (a COPY in flight), while new ones go on.
 */
export async function applyRetention(pool: pg.Pool, policy: PartitionPolicy, now: number): Promise<Retired[]> {
  const dropped: Retired[] = [];
  for (const r of await retire(pool, policy, now)) if ((await drop(pool, r)) === 'dropped') dropped.push(r);
  return dropped;
}

/** Bytes on disk per log table, all partitions with their indexes and TOAST. */
export async function tableBytes(pool: pg.Pool): Promise<Record<PartitionedTable, number>> {
  const { rows } = await pool.query<{ table: PartitionedTable; bytes: string }>(`
    SELECT t AS table, coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(to_regclass(t)) WHERE isleaf), 0) AS bytes
    FROM unnest($1::text[]) AS t`, [PARTITIONED_TABLES]);
  return Object.fromEntries(rows.map((r) => [r.table, Number(r.bytes)])) as Record<PartitionedTable, number>;
}

type PolicySettings = Pick<ReceiverConfig, 'partitionIntervalHours' | 'maxFutureSeconds' | 'commandLogRetentionDays' | 'stateTimelineRetentionDays' | 'llmInteractionsRetentionDays' | 'ingestRejectsRetentionDays'>;

export function partitionPolicy(c: PolicySettings): PartitionPolicy {
  return {
    intervalMs: c.partitionIntervalHours * 3_600_000,
    maxFutureMs: c.maxFutureSeconds * 1000,
    retentionMs: {
      command_log: c.commandLogRetentionDays * DAY_MS,
      state_timeline: c.stateTimelineRetentionDays * DAY_MS,
      llm_interactions: c.llmInteractionsRetentionDays * DAY_MS,
      ingest_rejects: c.ingestRejectsRetentionDays * DAY_MS,
    },
  };
}
