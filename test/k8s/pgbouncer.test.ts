// The receiver through PgBouncer in transaction pooling mode (the pgbouncer
// overlay's own pgbouncer.ini), where consecutive transactions of one client
// connection may run on different server connections: migrations at startup,
// exactly-once loading with its offsets, the status fold, and a real shipper
// that loses its checkpoint, all work and store every line once.

import { mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { spanPartitions } from '../../dev/partition-span.js';
import { loadMigrations, migrate } from '../../receiver/db/migrate.js';
import { applyRetention, ensurePartitions, partitionPolicy, RETENTION_GRACE_MS } from '../../receiver/db/partitions.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { KEEP_FOREVER, startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { startPgBouncer, type PgBouncer } from './lib/pgbouncer.js';

/** Few server connections for many client connections, so transactions really change hands. */
const SERVER_CONNECTIONS = 2;
const RECEIVER_CONNECTIONS = 10;

let bouncer: PgBouncer;

beforeAll(async () => {
  bouncer = await startPgBouncer(inject('pgAdminUrl'), { default_pool_size: String(SERVER_CONNECTIONS) });
});

/** A receiver whose every query goes through PgBouncer; LISTEN (a session) goes straight to PostgreSQL. */
async function receiverBehindBouncer(direct: string) {
  return startTestReceiver(bouncer.url(direct), { poolMax: RECEIVER_CONNECTIONS, streamDatabaseUrl: direct });
}

const commands = (from: number, count: number) =>
  ndjson(Array.from({ length: count }, (_, i) => ({ command: `cmd ${from + i}`, exit_code: 0, timestamp: 1763892000 + from + i })));

it('runs in the pooling mode the overlay ships: transaction', async () => {
  const config = Object.fromEntries((await bouncer.show('CONFIG')).map((r) => [r.key, r.value]));
  expect(config.pool_mode).toBe('transaction');
});

it('migrates at startup through PgBouncer, two receivers at once applying each version once', async () => {
  const direct = await freshDatabase();
  await Promise.all([receiverBehindBouncer(direct), receiverBehindBouncer(direct)]);
  const { rows } = await queryPool(direct).query('SELECT version FROM ferry_migrations ORDER BY version');
  expect(rows.map((r) => r.version)).toEqual((await loadMigrations()).map((m) => m.version));
});

describe('ingest through PgBouncer', () => {
  let direct: string;
  let base: string;
  let db: pg.Pool;

  beforeAll(async () => {
    direct = await freshDatabase();
    base = (await receiverBehindBouncer(direct)).url;
    db = queryPool(direct);
  });

  it('stores a request once, skips its resend as duplicates, answers a gap 409 and reports the offset', async () => {
    const body = commands(0, 50);
    const first = await postLines(base, 'commands', body, { workspace: 'ws-a', source: 'g1' });
    expect(first.body).toEqual({ accepted: 50, duplicates: 0, rejected: 0, next_offset: body.length });
    const again = await postLines(base, 'commands', body, { workspace: 'ws-a', source: 'g1' });
    expect(again.body).toEqual({ accepted: 0, duplicates: 50, rejected: 0, next_offset: body.length });
    const gap = await postLines(base, 'commands', commands(60, 1), { workspace: 'ws-a', source: 'g1', offset: body.length + 100 });
    expect(gap.status).toBe(409);
    expect(gap.body).toMatchObject({ error: 'offset_gap', next_offset: body.length });
    const offsets = await request(`${base}/ingest/offsets?workspace_id=ws-a&stream=commands`);
    expect(offsets.body.offsets).toEqual([expect.objectContaining({ source_id: 'g1', next_offset: body.length })]);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'ws-a'");
    expect(rows[0].n).toBe(50);
  });

  it('keeps each request one transaction while many streams share two server connections', async () => {
    const streams = Array.from({ length: 8 }, (_, i) => `ws-many-${i}`);
    const batches = 10;
    await Promise.all(streams.map(async (workspace) => {
      let offset = 0;
      for (let b = 0; b < batches; b++) {
        const body = commands(b * 20, 20);
        const res = await postLines(base, 'commands', body, { workspace, offset });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        offset += Buffer.byteLength(body);
        expect(res.body.next_offset).toBe(offset);
      }
    }));
    const { rows } = await db.query("SELECT workspace_id, count(*)::int AS n, count(DISTINCT command)::int AS d FROM command_log WHERE workspace_id LIKE 'ws-many-%' GROUP BY 1");
    expect(rows).toHaveLength(streams.length);
    for (const r of rows) expect([r.n, r.d]).toEqual([batches * 20, batches * 20]);
    const database = new URL(direct).pathname.slice(1);
    const servers = (await bouncer.show('SERVERS')).filter((s) => s.database === database);
    expect(servers.length).toBeGreaterThan(0);
    expect(servers.length).toBeLessThanOrEqual(SERVER_CONNECTIONS);
    // More client connections than server ones: transactions changed hands.
    const clients = (await bouncer.show('CLIENTS')).filter((c) => c.database === database);
    expect(clients.length).toBeGreaterThan(SERVER_CONNECTIONS);
  });

  it('folds state events into workspace_status', async () => {
    const events = ndjson([
      { event_type: 'step_started', step_id: 'one', workshop_name: 'k8s-101', timestamp: 1763892000 },
      { event_type: 'step_completed', step_id: 'one', timestamp: 1763892010 },
      { event_type: 'step_started', step_id: 'two', timestamp: 1763892020 },
    ]);
    expect((await postLines(base, 'events', events, { workspace: 'ws-fold' })).status).toBe(200);
    const { rows } = await db.query("SELECT workshop_name, current_step, steps_completed FROM workspace_status WHERE workspace_id = 'ws-fold'");
    expect(rows).toEqual([{ workshop_name: 'k8s-101', current_step: 'two', steps_completed: ['one'] }]);
  });

  it('serves a real shipper that loses its checkpoint: it resumes from the receiver\'s offsets, every line once', async () => {
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const file = join(dirs.runtimeDir, 'command-log.jsonl');
    await writeFile(file, commands(0, 300));
    const stored = async () => (await db.query("SELECT count(*)::int AS n, count(DISTINCT command)::int AS d FROM command_log WHERE workspace_id = 'ws-shipper'")).rows[0];
    const first = await startShipper(shipperEnv(base, dirs, 'ws-shipper'));
    await waitFor(async () => (await stored()).n === 300, 'the first 300 lines');
    first.child.kill('SIGKILL');
    await first.exited;
    await rm(dirs.stateDir, { recursive: true, force: true });
    await appendFile(file, commands(300, 200));
    await startShipper(shipperEnv(base, dirs, 'ws-shipper'));
    await waitFor(async () => (await stored()).n >= 500, 'all 500 lines');
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored()).toEqual({ n: 500, d: 500 });
  });
});

it('maintains the partitions through PgBouncer: two replicas make them ahead once, and retention detaches concurrently and drops', async () => {
  const DAY = 86_400_000;
  const direct = await freshDatabase();
  const db = queryPool(direct);
  await migrate(db);
  const keep = partitionPolicy({ ...KEEP_FOREVER, partitionIntervalHours: 24, maxFutureSeconds: 86_400 });
  await spanPartitions(db, keep, 10);
  const replicas = [0, 1].map(() => new pg.Pool({ connectionString: bouncer.url(direct), max: 2 }));
  try {
    const later = Date.now() + 5 * DAY;
    const made = (await Promise.all(replicas.map((r) => ensurePartitions(r, keep, later)))).flatMap((r) => r.created.map((p) => p.name));
    expect(made.length).toBeGreaterThan(0);
    expect(new Set(made).size).toBe(made.length);

    const retention = { ...keep, retentionMs: { ...keep.retentionMs, command_log: 3 * DAY } };
    const expired = (await db.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'command_log'::regclass AND c.relname < $1`, [`command_log_p${new Date(Date.now() - 3 * DAY - RETENTION_GRACE_MS).toISOString().slice(0, 10).replaceAll('-', '')}`])).rows.map((r) => r.relname);
    const dropped = (await Promise.all(replicas.map((r) => applyRetention(r, retention, Date.now())))).flat();
    dropped.push(...await applyRetention(replicas[0]!, retention, Date.now()));
    expect(dropped.map((d) => d.partition).sort()).toEqual(expired.sort());
    expect((await db.query('SELECT relname FROM pg_class WHERE relname = ANY($1)', [expired])).rows).toEqual([]);
  } finally {
    await Promise.all(replicas.map((r) => r.end()));
  }
});
