// The log tables are partitioned by time: partitions are made ahead, by one
// replica at a time, without making ingest wait; the retention drops whole
// partitions, concurrently with ingest, and a run that two replicas start at
// once, or that stopped half-way, still ends with each partition dropped
// once. Lines outside the time window are rejects with their own reasons.

import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { spanPartitions } from '../../dev/partition-span.js';
import { migrate } from '../../receiver/db/migrate.js';
import {
  aheadMs, applyRetention, ensurePartitions, listPartitions, partitionPolicy, PARTITIONED_TABLES, RETENTION_GRACE_MS,
  type PartitionPolicy,
} from '../../receiver/db/partitions.js';
import { inTransaction } from '../../receiver/db/transaction.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { KEEP_FOREVER, READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
const KEEP: PartitionPolicy = partitionPolicy({ ...KEEP_FOREVER, partitionIntervalHours: 24, maxFutureSeconds: 86_400 });
const withRetention = (days: number): PartitionPolicy => ({ ...KEEP, retentionMs: { ...KEEP.retentionMs, command_log: days * DAY } });
const iso = (ms: number) => new Date(ms).toISOString();
const dayName = (table: string, ms: number) => `${table}_p${iso(ms).slice(0, 10).replaceAll('-', '')}_0000`;

async function partitionsOf(pool: pg.Pool, table: string) {
  return (await inTransaction(pool, listPartitions)).filter((p) => p.table === table);
}

/** A database as a receiver leaves it after running `days` days: a partition per day back to then. */
async function spannedDatabase(days: number): Promise<{ url: string; db: pg.Pool }> {
  const url = await freshDatabase();
  const db = queryPool(url);
  await migrate(db);
  await spanPartitions(db, KEEP, days);
  return { url, db };
}

describe('a new database', () => {
  let db: pg.Pool;
  beforeAll(async () => {
    db = queryPool(await freshDatabase());
    await migrate(db);
  });

  it('partitions each log table by its time column, with 64-bit ids and a primary key that includes the time', async () => {
    const { rows } = await db.query(`
      SELECT c.relname AS table, pg_get_partkeydef(c.oid) AS key, pg_get_constraintdef(k.oid) AS pk, format_type(a.atttypid, a.atttypmod) AS id_type
      FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
      JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'
      ORDER BY c.relname`);
    expect(rows).toEqual([
      { table: 'command_log', key: 'RANGE ("timestamp")', pk: 'PRIMARY KEY (id, "timestamp")', id_type: 'bigint' },
      { table: 'ingest_rejects', key: 'RANGE (received_at)', pk: 'PRIMARY KEY (id, received_at)', id_type: 'bigint' },
      { table: 'llm_interactions', key: 'RANGE (requested_at)', pk: 'PRIMARY KEY (id, requested_at)', id_type: 'bigint' },
      { table: 'state_timeline', key: 'RANGE ("timestamp")', pk: 'PRIMARY KEY (id, "timestamp")', id_type: 'bigint' },
    ]);
    const seqs = await db.query("SELECT seqrelid::regclass::text AS seq, format_type(seqtypid, NULL) AS type FROM pg_sequence WHERE seqrelid::regclass::text LIKE '%_id_seq' ORDER BY 1");
    expect(seqs.rows.filter((r) => r.seq !== 'ferry_stream_events_id_seq')).toEqual(
      ['command_log', 'ingest_rejects', 'llm_interactions', 'state_timeline'].map((t) => ({ seq: `${t}_id_seq`, type: 'bigint' })));
  });

  it('starts with one history partition per table, up to the next midnight UTC', async () => {
    const parts = await inTransaction(db, listPartitions);
    const midnight = Math.floor(Date.now() / DAY) * DAY + DAY;
    expect(parts.map((p) => [p.table, p.name, p.from, p.to]).sort()).toEqual(
      PARTITIONED_TABLES.map((t) => [t, `${t}_history`, -Infinity, midnight]).sort());
  });
});

describe('partitions made ahead', () => {
  it('five replicas at once: the days up to the window and beyond are made once each, with the seed\'s indexes on every one', async () => {
    const url = await freshDatabase();
    const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: url, max: 1 }));
    try {
      await migrate(pools[0]!);
      const now = Date.now();
      const results = await Promise.all(pools.map((p) => ensurePartitions(p, KEEP, now)));
      const created = results.flatMap((r) => r.created.map((p) => p.name));
      expect(new Set(created).size).toBe(created.length);
      const parts = await partitionsOf(pools[0]!, 'command_log');
      const days = parts.filter((p) => p.name !== 'command_log_history');
      expect(days.length).toBeGreaterThanOrEqual(3);
      // Contiguous from the history partition to beyond the furthest accepted timestamp.
      const sorted = parts.sort((a, b) => a.from - b.from);
      sorted.slice(1).forEach((p, i) => expect(p.from).toBe(sorted[i]!.to));
      expect(sorted.at(-1)!.to).toBeGreaterThanOrEqual(now + KEEP.maxFutureMs + aheadMs(KEEP));
      const idx = await pools[0]!.query(`SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`, [days[0]!.name]);
      expect(idx.rows.map((r) => r.indexdef.replace(/ ON .* USING /, ' '))).toEqual([
        `CREATE INDEX ${days[0]!.name}_idx_command_log_ws btree (workspace_id, "timestamp")`,
        `CREATE UNIQUE INDEX ${days[0]!.name}_pkey btree (id, "timestamp")`,
      ]);
      // A second round finds nothing to do.
      expect((await ensurePartitions(pools[1]!, KEEP, now)).created).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('does not wait for ingest: a COPY transaction left open does not hold up making the next days', async () => {
    const url = await freshDatabase();
    const db = queryPool(url);
    await migrate(db);
    const open = await db.connect();
    try {
      await open.query('BEGIN');
      await open.query("INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('w', 'ls', 0, now() AT TIME ZONE 'utc')");
      await open.query("SELECT count(*) FROM command_log WHERE workspace_id = 'w'");
      const started = performance.now();
      const { created } = await ensurePartitions(db, KEEP, Date.now() + 20 * DAY);
      expect(created.length).toBeGreaterThan(20);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await open.query('ROLLBACK');
      open.release();
    }
  });

  it('fills the days a long outage left without partitions', async () => {
    const { db } = await spannedDatabase(3);
    const before = await partitionsOf(db, 'command_log');
    const { created } = await ensurePartitions(db, KEEP, Date.now() + 30 * DAY);
    const after = (await partitionsOf(db, 'command_log')).sort((a, b) => a.from - b.from);
    after.slice(1).forEach((p, i) => expect(p.from, p.name).toBe(after[i]!.to));
    expect(created.filter((p) => p.table === 'command_log').length).toBe(after.length - before.length);
  });
});

describe('retention', () => {
  it('drops the partitions past it, oldest first, while ingest goes on without waiting, and every line arrives once', async () => {
    const { url, db } = await spannedDatabase(10);
    // The receiver keeps everything: the test runs the retention itself, at a moment it chooses.
    const receiver = await startTestReceiver(url);
    const old = Date.now() - 8 * DAY;
    await db.query("INSERT INTO command_log (workspace_id, command, exit_code, timestamp) SELECT 'old', 'ls', 0, $1::timestamp + i * interval '1 minute' FROM generate_series(1, 1000) i", [iso(old)]);
    const expired = (await partitionsOf(db, 'command_log')).filter((p) => p.to <= Date.now() - 3 * DAY - RETENTION_GRACE_MS).map((p) => p.name).sort();
    expect(expired.length).toBeGreaterThanOrEqual(6);

    // A transaction that started before the retention: the concurrent detach waits for it, and for nothing else.
    const open = await db.connect();
    await open.query('BEGIN');
    await open.query("INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('open', 'ls', 0, now() AT TIME ZONE 'utc')");
    let retentionDone = false;
    const retention = applyRetention(db, withRetention(3), Date.now()).finally(() => { retentionDone = true; });
    await waitFor(async () => (await db.query("SELECT 1 FROM pg_inherits WHERE inhdetachpending")).rowCount === 1, 'a partition detaching');

    // Ingest meanwhile: 40 requests of 50 lines, each answered promptly.
    const lines = Array.from({ length: 2000 }, (_, i) => ({ command: `live ${i}`, exit_code: 0, timestamp: iso(Date.now() - 60_000 + i) }));
    let offset = 0;
    for (let r = 0; r < 40; r++) {
      const body = ndjson(lines.slice(r * 50, r * 50 + 50));
      const started = performance.now();
      const res = await postLines(receiver.url, 'commands', body, { workspace: 'live', offset });
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(2_000);
      offset += Buffer.byteLength(body);
    }
    expect(retentionDone).toBe(false);
    await open.query('COMMIT');
    open.release();
    const dropped = await retention;

    expect(dropped.map((d) => d.partition).sort()).toEqual(expired);
    const left = await db.query('SELECT relname FROM pg_class WHERE relname = ANY($1)', [expired]);
    expect(left.rows).toEqual([]);
    expect((await db.query('SELECT * FROM ferry_retired_partitions')).rows).toEqual([]);
    expect((await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'old'")).rows[0].n).toBe(0);
    const live = await db.query("SELECT command FROM command_log WHERE workspace_id = 'live' ORDER BY id");
    expect(live.rows.map((r) => r.command)).toEqual(lines.map((l) => l.command));
    expect((await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'open'")).rows[0].n).toBe(1);
    // Oldest first: what is left starts where the retention ends.
    const first = (await partitionsOf(db, 'command_log')).sort((a, b) => a.from - b.from)[0]!;
    expect(first.to).toBeGreaterThan(Date.now() - 3 * DAY - RETENTION_GRACE_MS);
  });

  it('two replicas running it at once drop each partition once, without an error', async () => {
    const { url, db } = await spannedDatabase(10);
    const expired = (await partitionsOf(db, 'command_log')).filter((p) => p.to <= Date.now() - 3 * DAY - RETENTION_GRACE_MS).map((p) => p.name);
    const pools = [new pg.Pool({ connectionString: url }), new pg.Pool({ connectionString: url })];
    try {
      const runs = await Promise.all(pools.map((p) => applyRetention(p, withRetention(3), Date.now())));
      // A run skips a partition it finds another detaching; what both skipped is gone after one more run.
      runs.push(await applyRetention(db, withRetention(3), Date.now()));
      expect(runs.flat().map((d) => d.partition).sort()).toEqual([...expired].sort());
      expect((await db.query('SELECT relname FROM pg_class WHERE relname = ANY($1)', [expired])).rows).toEqual([]);
      expect((await db.query('SELECT * FROM ferry_retired_partitions')).rows).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('a listing whose snapshot still holds a partition another replica has just dropped leaves it out', async () => {
    const { db } = await spannedDatabase(10);
    const [oldest] = (await partitionsOf(db, 'command_log')).sort((a, b) => a.from - b.from);
    const lister = await db.connect();
    try {
      // The catalog rows come from the snapshot; the partition's bound is read from the catalog as it is now.
      await lister.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await lister.query('SELECT 1');
      await db.query(`ALTER TABLE command_log DETACH PARTITION ${oldest!.name}`);
      await db.query(`DROP TABLE ${oldest!.name}`);
      const listed = await listPartitions(lister);
      expect(listed.map((p) => p.name)).not.toContain(oldest!.name);
      expect(listed.filter((p) => p.table === 'command_log').length).toBeGreaterThan(0);
    } finally {
      await lister.query('ROLLBACK');
      lister.release();
    }
  });

  it('finishes a concurrent detach that was interrupted, and drops a partition a stopped run detached but left', async () => {
    const { db } = await spannedDatabase(10);
    const [oldest, second] = (await partitionsOf(db, 'command_log')).sort((a, b) => a.from - b.from);
    // A detach interrupted while it waited for an older snapshot stays pending.
    const reader = await db.connect();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT count(*) FROM command_log');
    const detacher = await db.connect();
    const pid = (await detacher.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const detaching = detacher.query(`ALTER TABLE command_log DETACH PARTITION ${oldest!.name} CONCURRENTLY`).catch((e: Error) => e);
    await waitFor(async () => (await db.query('SELECT 1 FROM pg_inherits WHERE inhdetachpending')).rowCount === 1, 'the detach pending');
    await db.query('SELECT pg_cancel_backend($1)', [pid]);
    expect(String(await detaching)).toMatch(/canceling statement/);
    detacher.release();
    await reader.query('COMMIT');
    reader.release();
    // A run that detached a partition and stopped before dropping it.
    await db.query(`ALTER TABLE command_log DETACH PARTITION ${second!.name}`);
    await db.query("INSERT INTO ferry_retired_partitions (partition, parent) VALUES ($1, 'command_log')", [second!.name]);

    // With no retention at all, the next run still completes the work it finds.
    const dropped = await applyRetention(db, KEEP, Date.now());
    expect(dropped.map((d) => d.partition).sort()).toEqual([oldest!.name, second!.name].sort());
    expect((await db.query('SELECT relname FROM pg_class WHERE relname = ANY($1)', [[oldest!.name, second!.name]])).rows).toEqual([]);
  });

  it('with retention 0 keeps everything', async () => {
    const { db } = await spannedDatabase(10);
    const before = (await partitionsOf(db, 'command_log')).length;
    expect(await applyRetention(db, KEEP, Date.now() + 365 * DAY)).toEqual([]);
    expect((await partitionsOf(db, 'command_log')).length).toBe(before);
  });
});

describe('the time window', () => {
  let base: string;
  let db: pg.Pool;
  beforeAll(async () => {
    const spanned = await spannedDatabase(10);
    db = spanned.db;
    // commands keep 3 days; the timeline keeps everything its partitions hold (10 days back).
    base = (await startTestReceiver(spanned.url, { commandLogRetentionDays: 3, maxFutureSeconds: 3600 })).url;
  });

  const rejects = async (ws: string) => (await db.query('SELECT reason, detail FROM ingest_rejects WHERE workspace_id = $1 ORDER BY source_offset', [ws])).rows;

  it('rejects a line older than the retention, or stamped further ahead than MAX_FUTURE_SECONDS, each with its reason', async () => {
    const now = Date.now();
    const lines = [
      { command: 'four days old', exit_code: 0, timestamp: iso(now - 4 * DAY) },
      { command: 'two days old', exit_code: 0, timestamp: iso(now - 2 * DAY) },
      { command: 'in half an hour', exit_code: 0, timestamp: iso(now + 1_800_000) },
      { command: 'in two hours', exit_code: 0, timestamp: iso(now + 7_200_000) },
    ];
    const res = await postLines(base, 'commands', ndjson(lines), { workspace: 'window' });
    expect(res.body).toMatchObject({ accepted: 2, rejected: 2 });
    const stored = await db.query("SELECT command FROM command_log WHERE workspace_id = 'window' ORDER BY id");
    expect(stored.rows.map((r) => r.command)).toEqual(['two days old', 'in half an hour']);
    const why = await rejects('window');
    expect(why.map((r) => r.reason)).toEqual(['timestamp_too_old', 'timestamp_too_far_ahead']);
    expect(why[0].detail).toMatch(/command_log takes rows from/);
    expect(why[1].detail).toMatch(/MAX_FUTURE_SECONDS \(3600\)/);
  });

  it('with retention 0, a line older than the oldest partition is too old; within it, it is stored', async () => {
    const now = Date.now();
    const lines = [
      { event_type: 'step_started', step_id: 'a', timestamp: iso(now - 30 * DAY) },
      { event_type: 'step_started', step_id: 'b', timestamp: iso(now - 8 * DAY) },
    ];
    const res = await postLines(base, 'events', ndjson(lines), { workspace: 'window-0' });
    expect(res.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect((await rejects('window-0')).map((r) => r.reason)).toEqual(['timestamp_too_old']);
  });

  it('a future timestamp does not hold the status: a later event at the right time still moves it', async () => {
    const now = Date.now();
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 'from the future', workshop_name: 'w', timestamp: iso(now + 365 * DAY) }]), { workspace: 'frozen' });
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 'now', workshop_name: 'w', timestamp: iso(now) }]), { workspace: 'frozen', source: 'gen-2' });
    const status = await request(`${base}/api/workspaces/frozen`, { token: READ_TOKEN });
    expect(status.body.status.current_step).toBe('now');
    expect((await rejects('frozen')).map((r) => r.reason)).toEqual(['timestamp_too_far_ahead']);
  });
});

describe('64-bit ids', () => {
  it('ids beyond 2^31 are stored, and the read API returns and pages them as numbers', async () => {
    const url = await freshDatabase();
    const base = (await startTestReceiver(url)).url;
    const db = queryPool(url);
    await db.query("SELECT setval('command_log_id_seq', 3000000000)");
    const now = Date.now();
    const lines = Array.from({ length: 5 }, (_, i) => ({ command: `big ${i}`, exit_code: 0, timestamp: iso(now - 5000 + i) }));
    expect((await postLines(base, 'commands', ndjson(lines), { workspace: 'big' })).body).toMatchObject({ accepted: 5 });
    const first = await request(`${base}/api/workspaces/big/commands?limit=3`, { token: READ_TOKEN });
    expect(first.body.items.map((c: { id: number }) => c.id)).toEqual([3000000001, 3000000002, 3000000003]);
    const second = await request(`${base}/api/workspaces/big/commands?limit=3&after=${first.body.next}`, { token: READ_TOKEN });
    expect(second.body.items.map((c: { command: string }) => c.command)).toEqual(['big 3', 'big 4']);
  });
});

describe('metrics', () => {
  it('report the partitions per table, the oldest one\'s age, the headroom ahead and bytes per table', async () => {
    const { url } = await spannedDatabase(5);
    const receiver = await startTestReceiver(url);
    const page = await waitFor(async () => {
      const text = await (await fetch(`${receiver.url}/metrics`)).text();
      return /ferry_receiver_table_bytes\{table="command_log"\}/.test(text) && text;
    }, 'the first maintenance report');
    const value = (name: string) => Number(new RegExp(`^${name}\\{table="command_log"\\} (\\S+)$`, 'm').exec(page)?.[1]);
    expect(value('ferry_receiver_partitions')).toBeGreaterThanOrEqual(8);
    expect(value('ferry_receiver_partition_oldest_age_seconds')).toBeGreaterThan(3 * 86_400);
    expect(value('ferry_receiver_partition_headroom_seconds')).toBeGreaterThan(86_400);
    expect(value('ferry_receiver_table_bytes')).toBeGreaterThan(0);
  });
});
