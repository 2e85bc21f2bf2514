// Migrations run on startup, versioned, under an advisory lock: twice is a
// no-op, and several processes at once apply each version exactly once.

import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { loadMigrations, migrate } from '../../receiver/db/migrate.js';
import { applyRetention, ensurePartitions, partitionPolicy } from '../../receiver/db/partitions.js';
import { freshDatabase } from '../helpers/database.js';

const SEED_INDEXES = ['idx_command_log_ws', 'idx_llm_ws', 'idx_state_timeline_ws'];

it('creates the seed schema exactly, and a second run applies nothing', async () => {
  const pool = new pg.Pool({ connectionString: await freshDatabase() });
  try {
    const all = (await loadMigrations()).map((m) => m.version);
    expect(await migrate(pool)).toEqual(all);
    expect(await migrate(pool)).toEqual([]);
    const { rows } = await pool.query(`
      SELECT table_name, column_name, data_type, is_nullable, column_default
      FROM information_schema.columns WHERE table_name = 'workspace_status' ORDER BY ordinal_position`);
    expect(rows.map((r) => [r.column_name, r.data_type, r.is_nullable])).toEqual([
      ['workspace_id', 'text', 'NO'], ['workshop_name', 'text', 'NO'], ['current_step', 'text', 'YES'], ['connected', 'boolean', 'NO'],
      ['last_active_at', 'timestamp without time zone', 'YES'], ['steps_completed', 'ARRAY', 'YES'], ['last_goss_passed', 'boolean', 'YES'],
      ['updated_at', 'timestamp without time zone', 'NO'],
    ]);
    const idx = await pool.query("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'idx_%' ORDER BY indexname");
    expect(idx.rows.map((r) => r.indexname)).toEqual(SEED_INDEXES);
    expect(idx.rows[0].indexdef).toContain('(workspace_id, "timestamp")');
  } finally {
    await pool.end();
  }
});

it('five processes migrating at once apply each version once', async () => {
  const url = await freshDatabase();
  const pools = Array.from({ length: 5 }, () => new pg.Pool({ connectionString: url, max: 1 }));
  try {
    const applied = await Promise.all(pools.map((p) => migrate(p)));
    const all = (await loadMigrations()).map((m) => m.version);
    expect(applied.flat().sort()).toEqual(all);
    const { rows } = await pools[0]!.query('SELECT version FROM ferry_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

it('adopts a database where the Vector-era dashboard already created the seed tables', async () => {
  const pool = new pg.Pool({ connectionString: await freshDatabase() });
  try {
    await pool.query("CREATE TABLE command_log (id SERIAL PRIMARY KEY, workspace_id TEXT NOT NULL, command TEXT NOT NULL, exit_code INTEGER NOT NULL, timestamp TIMESTAMP NOT NULL); INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('old', 'ls', 0, now())");
    await migrate(pool);
    expect((await pool.query('SELECT count(*)::int AS n FROM command_log')).rows[0].n).toBe(1);
  } finally {
    await pool.end();
  }
});

describe('upgrading a database that holds data in the unpartitioned layout', () => {
  const DAY = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();

  it('keeps every row and id, attaches the old table as the history partition without rewriting it, and the history ages out with the retention', async () => {
    const notices: string[] = [];
    // DEBUG1 says whether ATTACH PARTITION had to scan the table.
    const pool = new pg.Pool({ connectionString: await freshDatabase(), options: '-c client_min_messages=debug1' });
    pool.on('connect', (c) => c.on('notice', (n) => notices.push(n.message ?? "")));
    try {
      await migrate(pool, 3);
      expect((await pool.query("SELECT format_type(atttypid, NULL) AS t FROM pg_attribute WHERE attrelid = 'command_log'::regclass AND attname = 'id'")).rows[0].t).toBe('integer');
      const now = Date.now();
      await pool.query(`INSERT INTO command_log (workspace_id, command, exit_code, timestamp)
        SELECT 'ws-' || (i % 20), 'cmd ' || i, i % 3, $1::timestamp + i * interval '3 minutes' FROM generate_series(1, 9000) i`, [iso(now - 20 * DAY)]);
      // The old receiver took any future timestamp.
      await pool.query("INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('ws-f', 'in three days', 0, $1), ('ws-f', 'next year', 0, $2)", [iso(now + 3 * DAY), iso(now + 400 * DAY)]);
      await pool.query("INSERT INTO state_timeline (workspace_id, event_type, timestamp) SELECT 'ws-1', 'step_started', $1::timestamp + i * interval '1 hour' FROM generate_series(1, 100) i", [iso(now - 10 * DAY)]);
      await pool.query("INSERT INTO llm_interactions (workspace_id, step_id, prompt_context, response, model, requested_at) VALUES ('ws-1', 's', '{}', 'r', 'm', $1)", [iso(now - DAY)]);
      await pool.query("INSERT INTO ingest_rejects (workspace_id, stream, reason, detail, raw, raw_length) VALUES ('ws-1', 'commands', 'bad_json', 'x', '\\x00', 1)");
      const rows = async (table: string) => (await pool.query(`SELECT * FROM ${table} ORDER BY id`)).rows;
      const before = { commands: await rows('command_log'), timeline: await rows('state_timeline'), llm: await rows('llm_interactions'), rejects: await rows('ingest_rejects') };

      await migrate(pool, 4);
      const file = async (table: string) => (await pool.query('SELECT pg_relation_filenode($1::regclass) AS f', [table])).rows[0].f;
      const rewritten = await file('command_log');
      notices.length = 0;
      await migrate(pool);

      expect(await rows('command_log')).toEqual(before.commands.map((r) => ({ ...r, id: String(r.id) })));
      expect(await rows('state_timeline')).toEqual(before.timeline.map((r) => ({ ...r, id: String(r.id) })));
      expect(await rows('llm_interactions')).toEqual(before.llm.map((r) => ({ ...r, id: String(r.id) })));
      expect(await rows('ingest_rejects')).toEqual(before.rejects);
      // The partitioning migration renamed the table; it did not write it again.
      expect(await file('command_log_history')).toBe(rewritten);
      expect(notices).toContain('partition constraint for table "command_log_history" is implied by existing constraints');
      const where = await pool.query("SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM command_log GROUP BY 1 ORDER BY 1");
      const day = (ms: number) => iso(ms).slice(0, 10).replaceAll('-', '');
      expect(where.rows).toEqual([
        { part: 'command_log_history', n: 9000 },
        { part: `command_log_p${day(now + 3 * DAY)}_0000`, n: 1 },
        { part: `command_log_p${day(now + 400 * DAY)}_0000`, n: 1 },
      ]);
      // The ids go on from where they were.
      const next = await pool.query("INSERT INTO command_log (workspace_id, command, exit_code, timestamp) VALUES ('ws-n', 'new', 0, now() AT TIME ZONE 'utc') RETURNING id");
      expect(Number(next.rows[0].id)).toBe(9003);

      // A week later, with a retention of one day, the history partition is gone and the days after it stay.
      const policy = partitionPolicy({ partitionIntervalHours: 24, maxFutureSeconds: 86_400, commandLogRetentionDays: 1, stateTimelineRetentionDays: 0, llmInteractionsRetentionDays: 0, ingestRejectsRetentionDays: 0 });
      await ensurePartitions(pool, policy, now);
      const dropped = await applyRetention(pool, policy, now + 7 * DAY);
      expect(dropped.map((d) => d.partition)).toContain('command_log_history');
      expect((await pool.query("SELECT to_regclass('command_log_history') AS t")).rows[0].t).toBeNull();
      expect((await pool.query("SELECT command FROM command_log WHERE workspace_id = 'ws-f' ORDER BY id")).rows.map((r) => r.command)).toEqual(['next year']);
      // The sequence belongs to the table, not to the history partition it was made with.
      expect((await pool.query("SELECT pg_get_serial_sequence('command_log', 'id') AS s")).rows[0].s).toBe('public.command_log_id_seq');
    } finally {
      await pool.end();
    }
  });
});
