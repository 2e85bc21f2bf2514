// An ingest transaction is one round trip to PostgreSQL, however many
// requests, streams, workspaces and rejects it carries: a connection never
// waits inside a transaction for the receiver's next statement. Only a stream
// that is not where its request starts (a resend, a gap, another replica
// first) costs two more. Counted as the ReadyForQuery messages PostgreSQL
// sends: one per round trip.

import { EventEmitter } from 'node:events';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../receiver/db/migrate.js';
import { partitionPolicy } from '../../receiver/db/partitions.js';
import { loadStreams, loadUnordered, type StreamRequest } from '../../receiver/ingest/load.js';
import { parseNdjson, type ParseLimits } from '../../receiver/ingest/parse.js';
import { TABLES } from '../../receiver/ingest/records.js';
import { createTimeWindow } from '../../receiver/ingest/time-window.js';
import { parseVectorArray } from '../../receiver/ingest/vector.js';
import type { LineStream } from '../../shared/wire.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase } from '../helpers/database.js';
import { KEEP_FOREVER } from '../helpers/receiver.js';

const POLICY = partitionPolicy({ ...KEEP_FOREVER, partitionIntervalHours: 24, maxFutureSeconds: 86_400 });
const LIMITS: ParseLimits = { maxLineBytes: 1 << 20, maxRequestLines: 10_000, rejectRawBytes: 64, window: createTimeWindow(POLICY, () => []).current() };
const AT = '2026-11-23T10:00:00Z';

let pool: pg.Pool;
let roundTrips = 0;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(), max: 2 });
  atEnd(() => pool.end());
  pool.on('connect', (client) => (client as unknown as { connection: EventEmitter }).connection.on('readyForQuery', () => roundTrips++));
  await migrate(pool);
});

async function counted<T>(work: () => Promise<T>): Promise<{ out: T; roundTrips: number }> {
  const before = roundTrips;
  const out = await work();
  return { out, roundTrips: roundTrips - before };
}

const ndjson = (objects: object[]) => objects.map((o) => `${JSON.stringify(o)}\n`).join('');

async function request(stream: LineStream, workspaceId: string, body: string, offset = 0, sourceId = 'gen-1'): Promise<StreamRequest> {
  const bytes = Buffer.from(body);
  const parsed = await parseNdjson(bytes, offset, TABLES[stream], workspaceId, LIMITS);
  return { key: { workspaceId, stream, sourceId }, ...parsed, endOffset: offset + bytes.length };
}

const command = (name: string) => ({ command: name, exit_code: 0, timestamp: AT });
const event = (type: string, step?: string) => ({ event_type: type, step_id: step, timestamp: AT, workshop_name: 'w' });

describe('round trips per ingest transaction', () => {
  it('is one for a group of requests from several workspaces and streams, with rejects', async () => {
    const group = [
      await request('commands', 'rt-a', ndjson([command('a1'), command('a2')])),
      await request('commands', 'rt-b', `${ndjson([command('b1')])}not json\n`),
      await request('commands', 'rt-c', ndjson([command('c1')]), 0, 'gen-c'),
      await request('commands', 'rt-c', ndjson([command('c2')]), 0, 'gen-c2'),
    ];
    const { out, roundTrips: n } = await counted(() => loadStreams(pool, TABLES.commands, group));
    expect(n).toBe(1);
    expect(out.map((l) => l.kind === 'loaded' && [l.result.accepted, l.result.rejected])).toEqual([[2, 0], [1, 1], [1, 0], [1, 0]]);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id LIKE 'rt-%'");
    expect(rows[0].n).toBe(5);
  });

  it('is one for state events folded into several workspaces', async () => {
    const group = [
      await request('events', 'rt-e1', ndjson([event('connected'), event('step_started', 's1')])),
      await request('events', 'rt-e2', ndjson([event('step_completed', 's0')])),
    ];
    const { roundTrips: n } = await counted(() => loadStreams(pool, TABLES.events, group));
    expect(n).toBe(1);
    const { rows } = await pool.query("SELECT workspace_id, current_step, connected, steps_completed FROM workspace_status WHERE workspace_id LIKE 'rt-e%' ORDER BY 1");
    expect(rows).toEqual([
      { workspace_id: 'rt-e1', current_step: 's1', connected: true, steps_completed: null },
      { workspace_id: 'rt-e2', current_step: null, connected: false, steps_completed: ['s0'] },
    ]);
  });

  it('is one for a continuation of a stream, and for a Vector array', async () => {
    const first = ndjson([command('x1')]);
    await loadStreams(pool, TABLES.commands, [await request('commands', 'rt-x', first)]);
    const next = await request('commands', 'rt-x', ndjson([command('x2')]), Buffer.byteLength(first));
    expect((await counted(() => loadStreams(pool, TABLES.commands, [next]))).roundTrips).toBe(1);
    const vector = parseVectorArray(Buffer.from(JSON.stringify([{ ...command('v1'), workspace_id: 'rt-v' }])), TABLES.commands, undefined, LIMITS);
    expect((await counted(() => loadUnordered(pool, TABLES.commands, vector))).roundTrips).toBe(1);
  });

  it('is three for a resend and for a gap, which store nothing', async () => {
    const body = ndjson([command('r1'), command('r2')]);
    await loadStreams(pool, TABLES.commands, [await request('commands', 'rt-r', body)]);
    const again = await request('commands', 'rt-r', body);
    const resend = await counted(() => loadStreams(pool, TABLES.commands, [again]));
    expect(resend.roundTrips).toBe(3);
    expect(resend.out[0]).toMatchObject({ kind: 'loaded', result: { accepted: 0, duplicates: 2 } });
    const beyond = await request('commands', 'rt-r', ndjson([command('r9')]), 1_000);
    const gap = await counted(() => loadStreams(pool, TABLES.commands, [beyond]));
    expect(gap.roundTrips).toBe(3);
    expect(gap.out[0]).toEqual({ kind: 'gap', nextOffset: Buffer.byteLength(body) });
    const { rows } = await pool.query("SELECT command FROM command_log WHERE workspace_id = 'rt-r' ORDER BY id");
    expect(rows.map((r) => r.command)).toEqual(['r1', 'r2']);
  });
});
