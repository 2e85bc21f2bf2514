// Migrations run on startup, versioned, under an advisory lock: twice is a
// no-op, and several processes at once apply each version exactly once.

import { expect, it } from 'vitest';
import pg from 'pg';
import { loadMigrations, migrate } from '../../receiver/db/migrate.js';
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
