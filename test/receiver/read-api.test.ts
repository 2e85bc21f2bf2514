// The read API: dashboards page through the seed's tables with stable
// ordering, filter by time, and never make PostgreSQL scan a whole table.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { spanPartitions } from '../../dev/partition-span.js';
import { migrate } from '../../receiver/db/migrate.js';
import { partitionPolicy } from '../../receiver/db/partitions.js';
import { TABLES, WORKSPACE, WORKSPACES } from '../../receiver/routes/read-api.js';
import { timePageQuery } from '../../receiver/read/time-page.js';
import { publishSql } from '../../receiver/stream/publish.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { INGEST_TOKEN, KEEP_FOREVER, READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;
const T0 = Date.UTC(2026, 10, 23, 9, 0, 0) / 1000;
const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', '.000000Z');

const read = (path: string, token: string | null = READ_TOKEN) => request(`${base}${path}`, { token });

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
  // 30 workspaces with a status; ws-07 gets a full history.
  for (let w = 0; w < 30; w++) {
    const ws = `ws-${String(w).padStart(2, '0')}`;
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: `step-${w % 5}`, workshop_name: 'k8s-101', timestamp: T0 + w }]), { workspace: ws });
    await postLines(base, 'commands', ndjson([{ command: `echo ${ws}`, exit_code: 0, timestamp: T0 + w }]), { workspace: ws });
  }
  // 25 commands at one second each, and 3 more sharing one timestamp (ties are broken by id).
  const cmds = Array.from({ length: 25 }, (_, i) => ({ command: `cmd ${i}`, exit_code: i % 3 === 0 ? 1 : 0, timestamp: T0 + 100 + i }));
  cmds.push(...[0, 1, 2].map((i) => ({ command: `tie ${i}`, exit_code: 0, timestamp: T0 + 200 })));
  await postLines(base, 'commands', ndjson(cmds), { workspace: 'ws-07', source: 'g2' });
  const events = Array.from({ length: 12 }, (_, i) => ({ event_type: i % 2 ? 'step_completed' : 'step_started', step_id: `step-${i}`, workshop_name: 'k8s-101', timestamp: T0 + 100 + i * 10 }));
  await postLines(base, 'events', ndjson(events), { workspace: 'ws-07', source: 'g2' });
  const llm = Array.from({ length: 6 }, (_, i) => ({ step_id: `step-${i % 2}`, student_question: `why ${i}?`, prompt_context: { files: i }, response: `because ${i}`, model: 'tutor-1', requested_at: T0 + 100 + i }));
  await postLines(base, 'llm', ndjson(llm), { workspace: 'ws-07' });
  await request(`${base}/ingest/recordings`, { method: 'POST', body: JSON.stringify({ storage_path: 's3://b/recordings/ws-07/session.cast', last_sync_byte: 1234 }), headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-07' } });
});

describe('GET /api/workspaces', () => {
  it('lists workspaces by id with their status and last command, a page at a time', async () => {
    const first = await read('/api/workspaces?limit=12');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(12);
    expect(first.body.items[0]).toMatchObject({ workspace_id: 'ws-00', workshop_name: 'k8s-101', current_step: 'step-0', last_command: { command: 'echo ws-00', exit_code: 0, timestamp: iso(T0) } });
    const seen = [...first.body.items];
    let next = first.body.next;
    while (next) {
      const page = await read(`/api/workspaces?limit=12&after=${next}`);
      seen.push(...page.body.items);
      next = page.body.next;
    }
    expect(seen.map((w) => w.workspace_id)).toEqual(Array.from({ length: 30 }, (_, w) => `ws-${String(w).padStart(2, '0')}`));
    expect(seen.find((w) => w.workspace_id === 'ws-07').last_command.command).toBe('tie 2');
  });

  it('a page exactly at the end says there is no next page', async () => {
    const all = await read('/api/workspaces?limit=30');
    expect(all.body.items).toHaveLength(30);
    expect(all.body.next).toBeNull();
  });

  it('refuses bad limits and cursors with 400', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'after=%%%', 'after=bm90LWpzb24']) {
      const res = await read(`/api/workspaces?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('bad_query');
    }
  });
});

describe('GET /api/workspaces/:id', () => {
  it('gives the status, the last command and the recording', async () => {
    const res = await read('/api/workspaces/ws-07');
    expect(res.body).toMatchObject({
      workspace_id: 'ws-07',
      status: { current_step: 'step-10', steps_completed: expect.arrayContaining(['step-1', 'step-11']) },
      last_command: { command: 'tie 2' },
      recording: { storage_path: 's3://b/recordings/ws-07/session.cast', last_sync_byte: 1234 },
      recording_url: '/recordings/ws-07',
    });
  });

  it('answers 404 for a workspace nothing is known of', async () => {
    expect((await read('/api/workspaces/nobody')).status).toBe(404);
  });
});

describe('timelines, commands and LLM calls', () => {
  async function all(path: string, limit: number): Promise<any[]> {
    const items: any[] = [];
    let next: string | null = null;
    do {
      const page = await read(`${path}${path.includes('?') ? '&' : '?'}limit=${limit}${next ? `&after=${next}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.body.items);
      next = page.body.next;
    } while (next);
    return items;
  }

  it('pages cover every row once, in time order, ties split across pages by id', async () => {
    const cmds = await all('/api/workspaces/ws-07/commands', 2);
    expect(cmds.map((c) => c.command)).toEqual(['echo ws-07', ...Array.from({ length: 25 }, (_, i) => `cmd ${i}`), 'tie 0', 'tie 1', 'tie 2']);
    expect(cmds[1]).toMatchObject({ command: 'cmd 0', exit_code: 1, timestamp: iso(T0 + 100) });
    const desc = await all('/api/workspaces/ws-07/commands?order=desc', 4);
    expect(desc.map((c) => c.command)).toEqual(cmds.map((c) => c.command).reverse());
  });

  it('filters by a time range: from inclusive, to exclusive', async () => {
    const some = await all(`/api/workspaces/ws-07/commands?from=${iso(T0 + 110)}&to=${iso(T0 + 115)}`, 100);
    expect(some.map((c) => c.command)).toEqual(['cmd 10', 'cmd 11', 'cmd 12', 'cmd 13', 'cmd 14']);
    const timeline = await all(`/api/workspaces/ws-07/timeline?from=${new Date((T0 + 150) * 1000).toISOString()}`, 3);
    expect(timeline.map((e) => e.step_id)).toEqual(['step-5', 'step-6', 'step-7', 'step-8', 'step-9', 'step-10', 'step-11']);
    expect(timeline[0]).toMatchObject({ event_type: 'step_completed', timestamp: iso(T0 + 150) });
  });

  it('LLM calls, filtered by step', async () => {
    const calls = await all('/api/workspaces/ws-07/llm?step=step-1', 2);
    expect(calls.map((c) => c.student_question)).toEqual(['why 1?', 'why 3?', 'why 5?']);
    expect(calls[0]).toMatchObject({ response: 'because 1', model: 'tutor-1', prompt_context: { files: 1 }, requested_at: iso(T0 + 101) });
  });

  it('refuses bad times and orders with 400', async () => {
    for (const q of ['from=yesterday', 'to=2026-13-45', 'order=sideways']) {
      expect((await read(`/api/workspaces/ws-07/commands?${q}`)).status, q).toBe(400);
    }
  });
});

describe('auth', () => {
  it('the read token works as a bearer token, as ?token= and as the page cookie; nothing else does', async () => {
    expect((await read('/api/workspaces', null)).status).toBe(401);
    expect((await read('/api/workspaces', INGEST_TOKEN)).status).toBe(401);
    expect((await read(`/api/workspaces?token=${READ_TOKEN}`, null)).status).toBe(200);
    const page = await fetch(`${base}/?token=${READ_TOKEN}`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const withCookie = await fetch(`${base}/api/workspaces/ws-07`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    expect((await fetch(`${base}/?token=wrong`, { redirect: 'manual' })).status).toBe(401);
  });
});

async function explain(pool: pg.Pool, sql: string, params: unknown[], options = ''): Promise<string> {
  const rows = (await pool.query(`EXPLAIN ${options} ${sql}`, params)).rows as Array<{ 'QUERY PLAN': string }>;
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** No sequential scan of a table that holds rows: the empty partitions made ahead are scanned for nothing, which is the planner's right choice. */
async function expectNoTableScan(pool: pg.Pool, plan: string): Promise<void> {
  for (const [, table] of plan.matchAll(/Seq Scan on (\S+)/g)) {
    expect((await pool.query(`SELECT count(*)::int AS n FROM ONLY ${table}`)).rows[0].n, `Seq Scan on ${table}`).toBe(0);
  }
}

describe('query plans', () => {
  beforeAll(async () => {
    // Enough rows that a sequential scan would be the planner's choice if no index served.
    await db.query(`INSERT INTO command_log (workspace_id, command, exit_code, timestamp)
      SELECT 'bulk-' || (i % 500), 'ls', 0, timestamp '2026-11-23' + i * interval '1 second' FROM generate_series(1, 200000) i`);
    await db.query(`INSERT INTO state_timeline (workspace_id, event_type, step_id, timestamp)
      SELECT 'bulk-' || (i % 500), 'step_started', 's', timestamp '2026-11-23' + i * interval '1 second' FROM generate_series(1, 100000) i`);
    await db.query(`INSERT INTO llm_interactions (workspace_id, step_id, prompt_context, response, model, requested_at)
      SELECT 'bulk-' || (i % 500), 's' || (i % 7), '{}', 'r', 'm', timestamp '2026-11-23' + i * interval '1 second' FROM generate_series(1, 50000) i`);
    await db.query(`INSERT INTO workspace_status (workspace_id, workshop_name, updated_at)
      SELECT 'bulk-' || i, 'k', now() FROM generate_series(1, 20000) i`);
    await db.query(`INSERT INTO recording_refs (workspace_id, storage_path, last_sync_byte, updated_at)
      SELECT 'bulk-' || i, 's3://b/k', 1, now() FROM generate_series(1, 20000) i`);
    await db.query('ANALYZE');
  });

  const plan = (sql: string, params: unknown[]) => explain(db, sql, params);

  it('the workspace list walks the primary key and finds each last command by index', async () => {
    const p = await plan(WORKSPACES, ['bulk-1', 101]);
    await expectNoTableScan(db, p);
    expect(p).toMatch(/workspace_status_pkey/);
    expect(p).toMatch(/idx_command_log_ws/);
  });

  it('one workspace: status and recording by key, last command by index', async () => {
    const p = await plan(WORKSPACE, ['bulk-7']);
    await expectNoTableScan(db, p);
    expect(p).toMatch(/idx_command_log_ws/);
    expect(p).toMatch(/recording_refs_pkey/);
  });

  it.each([
    ['commands', 'idx_command_log_ws', { from: '2026-11-23T01:00:00Z', after: undefined }],
    ['commands', 'idx_command_log_ws', { order: 'desc', after: Buffer.from(JSON.stringify(['2026-11-23 10:00:00', 5])).toString('base64url') }],
    ['timeline', 'idx_state_timeline_ws', { from: '2026-11-23T01:00:00Z', to: '2026-11-23T05:00:00Z' }],
    ['llm', 'idx_llm_ws', { step: 's3' }],
    ['llm', 'idx_llm_ws', {}],
  ] as const)('%s pages use %s', async (name, index, q) => {
    const { sql, params } = timePageQuery(TABLES[name], 'bulk-42', q as Record<string, string | undefined>);
    const p = await plan(sql, params);
    await expectNoTableScan(db, p);
    expect(p).toMatch(new RegExp(index));
  });
});

describe('query plans over partitions spanning 30 days', () => {
  let part: pg.Pool;
  const DAY = 86_400_000;
  const now = Date.now();
  const daysAgo = (d: number) => new Date(now - d * DAY).toISOString();
  const POLICY = partitionPolicy({ ...KEEP_FOREVER, partitionIntervalHours: 24, maxFutureSeconds: 86_400 });

  beforeAll(async () => {
    part = queryPool(await freshDatabase());
    await migrate(part);
    await spanPartitions(part, POLICY, 30, now);
    // 500 workspaces, rows spread evenly over the 30 days up to now.
    const spread = (n: number) => `(now() AT TIME ZONE 'utc') - interval '30 days' + i * interval '30 days' / ${n}`;
    await part.query(`INSERT INTO command_log (workspace_id, command, exit_code, timestamp)
      SELECT 'bulk-' || (i % 500), 'ls', 0, ${spread(300_000)} FROM generate_series(1, 300000) i`);
    await part.query(`INSERT INTO state_timeline (workspace_id, event_type, step_id, timestamp)
      SELECT 'bulk-' || (i % 500), 'step_started', 's', ${spread(150_000)} FROM generate_series(1, 150000) i`);
    await part.query(`INSERT INTO llm_interactions (workspace_id, step_id, prompt_context, response, model, requested_at)
      SELECT 'bulk-' || (i % 500), 's' || (i % 7), '{}', 'r', 'm', ${spread(30_000)} FROM generate_series(1, 30000) i`);
    await part.query(`INSERT INTO workspace_status (workspace_id, workshop_name, updated_at)
      SELECT 'bulk-' || i, 'k', now() FROM generate_series(0, 499) i`);
    await part.query('ANALYZE');
  });

  const partitionsIn = (plan: string, table: string) => new Set([...plan.matchAll(new RegExp(`on (${table}_p\\d{8}_\\d{4})`, 'g'))].map((m) => m[1]!));
  /** Partition scans that ran, in an EXPLAIN ANALYZE. */
  const executed = (plan: string, table: string) => new Set([...plan.matchAll(new RegExp(`on (${table}_p\\d{8}_\\d{4}) \\S+ \\(actual`, 'g'))].map((m) => m[1]!));
  const dayOf = (iso: string) => iso.slice(0, 10).replaceAll('-', '');

  it('has a partition per day, 30 days back and days ahead', async () => {
    const { rows } = await part.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'command_log'::regclass");
    expect(rows[0].n).toBeGreaterThanOrEqual(33);
  });

  it('a newest-first page reads the newest partitions in order and stops: the older ones never run', async () => {
    const { sql, params } = timePageQuery(TABLES.commands, 'bulk-42', { order: 'desc', limit: '10' });
    const p = await explain(part, sql, params, '(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)');
    await expectNoTableScan(part, p);
    expect(p).not.toMatch(/Merge Append|Seq Scan on command_log_p/);
    expect(p).toMatch(/idx_command_log_ws/);
    const ran = executed(p, 'command_log');
    const listed = partitionsIn(p, 'command_log');
    expect(listed.size).toBeGreaterThanOrEqual(31);
    // The (empty) partitions ahead, then today's: everything older never runs.
    expect(ran.size).toBeLessThanOrEqual(6);
    expect([...ran].every((name) => name.slice(-13, -5) >= dayOf(daysAgo(1)))).toBe(true);
  });

  it("a page between two times plans only those days' partitions", async () => {
    const { sql, params } = timePageQuery(TABLES.commands, 'bulk-42', { from: daysAgo(10), to: daysAgo(9) });
    const p = await explain(part, sql, params);
    await expectNoTableScan(part, p);
    expect([...partitionsIn(p, 'command_log')].sort()).toEqual([`command_log_p${dayOf(daysAgo(10))}_0000`, `command_log_p${dayOf(daysAgo(9))}_0000`].filter((v, i, a) => a.indexOf(v) === i));
  });

  it("a cursor's time prunes the partitions the page cannot reach", async () => {
    const after = Buffer.from(JSON.stringify([daysAgo(20).replace('T', ' ').replace('Z', ''), 1])).toString('base64url');
    const { sql, params } = timePageQuery(TABLES.commands, 'bulk-42', { order: 'desc', after });
    const p = await explain(part, sql, params);
    await expectNoTableScan(part, p);
    const days = [...partitionsIn(p, 'command_log')].map((name) => name.slice(-13, -5));
    expect(days.length).toBeGreaterThan(0);
    expect(days.every((d) => d <= dayOf(daysAgo(20)))).toBe(true);
  });

  it.each([
    ['timeline', 'state_timeline', { from: daysAgo(5), to: daysAgo(4) }],
    ['llm', 'llm_interactions', { from: daysAgo(5), to: daysAgo(4), step: 's3' }],
  ] as const)('%s pages between two times plan only those days', async (name, table, q) => {
    const { sql, params } = timePageQuery(TABLES[name], 'bulk-42', q);
    const p = await explain(part, sql, params);
    await expectNoTableScan(part, p);
    expect(partitionsIn(p, table).size).toBeLessThanOrEqual(2);
  });

  it("a workspace's last command reads only the newest partitions", async () => {
    const p = await explain(part, WORKSPACE, ['bulk-7'], '(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)');
    await expectNoTableScan(part, p);
    expect(executed(p, 'command_log').size).toBeLessThanOrEqual(6);
    expect(p).toMatch(/never executed/);
  });

  it("a batch's stream event runs on one generic plan per session that reads only the partitions from the batch's oldest row on", async () => {
    // As its function runs it (force_generic_plan): the partitions are pruned as it starts, not when planned.
    const client = await part.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await client.query(`PREPARE publish_commands (TEXT[], INT[], INT[], TIMESTAMP) AS ${publishSql('commands')}`);
      const plan = (await client.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE publish_commands('{bulk-7}', '{1}', '{0}', '${daysAgo(1)}')`)).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Subplans Removed: \d+/);
      expect(executed(plan, 'command_log').size).toBeLessThanOrEqual(6);
      await expectNoTableScan(part, plan);
    } finally {
      await client.query('ROLLBACK');
      await client.query('DEALLOCATE ALL');
      client.release();
    }
  });

  it('the workspace list finds each last command in the newest partitions', async () => {
    const p = await explain(part, WORKSPACES, ['', 101], '(ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)');
    await expectNoTableScan(part, p);
    expect(executed(p, 'command_log').size).toBeLessThanOrEqual(6);
  });
});
