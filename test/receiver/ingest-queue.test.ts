// The ingest queue: requests that wait for a transaction slot share the next
// one, and each is still answered for itself, exactly once.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { migrate } from '../../receiver/db/migrate.js';
import { partitionPolicy } from '../../receiver/db/partitions.js';
import { createIngestQueue, type IngestQueue } from '../../receiver/ingest/ingest-queue.js';
import type { StreamLoad, StreamRequest } from '../../receiver/ingest/load.js';
import { parseNdjson, type ParseLimits } from '../../receiver/ingest/parse.js';
import { TABLES } from '../../receiver/ingest/records.js';
import { createTimeWindow } from '../../receiver/ingest/time-window.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { KEEP_FOREVER } from '../helpers/receiver.js';

const POLICY = partitionPolicy({ ...KEEP_FOREVER, partitionIntervalHours: 24, maxFutureSeconds: 86_400 });
const LIMITS: ParseLimits = { maxLineBytes: 1 << 20, maxRequestLines: 10_000, rejectRawBytes: 64, window: createTimeWindow(POLICY, () => []).current() };

let db: pg.Pool;
let groups: number[];
let queue: IngestQueue;

beforeAll(async () => {
  db = queryPool(await freshDatabase());
  await migrate(db);
  groups = [];
  queue = createIngestQueue(db, { concurrency: 1, groupLines: 1_000, deadlineMs: 0, onGroup: (n) => groups.push(n) });
});

function commands(...names: string[]): string {
  return names.map((command) => `${JSON.stringify({ command, exit_code: 0, timestamp: '2026-11-23T10:00:00Z' })}\n`).join('');
}

async function request(workspaceId: string, body: string, offset = 0): Promise<StreamRequest> {
  const bytes = Buffer.from(body);
  const parsed = await parseNdjson(bytes, offset, TABLES.commands, workspaceId, LIMITS);
  return { key: { workspaceId, stream: 'commands', sourceId: 'gen-1' }, ...parsed, endOffset: offset + bytes.length };
}

/** The first request takes the free slot; the others arrive while it runs. */
function loadTogether(requests: StreamRequest[]): Promise<StreamLoad[]> {
  return Promise.all(requests.map((r) => queue.load(TABLES.commands, r)));
}

async function stored(workspaceId: string): Promise<string[]> {
  const { rows } = await db.query<{ command: string }>('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [workspaceId]);
  return rows.map((r) => r.command);
}

describe('the ingest queue', () => {
  it('groups the requests that wait behind a running transaction, and answers each for itself', async () => {
    groups.length = 0;
    const first = commands('a1', 'a2');
    const loads = await loadTogether([
      await request('q-a', first),
      await request('q-b', commands('b1')),
      await request('q-c', commands('c1', 'c2', 'c3')),
      // The same stream again: a retry of the first request, and its continuation.
      await request('q-a', first),
      await request('q-a', commands('a3'), Buffer.byteLength(first)),
    ]);
    expect(groups).toEqual([1, 4]);
    expect(loads.map((l) => l.kind === 'loaded' && { accepted: l.result.accepted, duplicates: l.result.duplicates })).toEqual([
      { accepted: 2, duplicates: 0 },
      { accepted: 1, duplicates: 0 },
      { accepted: 3, duplicates: 0 },
      { accepted: 0, duplicates: 2 },
      { accepted: 1, duplicates: 0 },
    ]);
    expect(await stored('q-a')).toEqual(['a1', 'a2', 'a3']);
    expect(await stored('q-b')).toEqual(['b1']);
    expect(await stored('q-c')).toEqual(['c1', 'c2', 'c3']);
  });

  it("writes a group's rows workspace by workspace, each workspace's in file order", async () => {
    groups.length = 0;
    await loadTogether([
      await request('o-0', commands('first')),
      await request('o-c', commands('c1', 'c2')),
      await request('o-a', commands('a1', 'a2', 'a3')),
      await request('o-b', commands('b1')),
    ]);
    expect(groups).toEqual([1, 3]);
    const { rows } = await db.query("SELECT workspace_id, command FROM command_log WHERE workspace_id LIKE 'o-%' ORDER BY id");
    expect(rows.map((r) => r.command)).toEqual(['first', 'a1', 'a2', 'a3', 'b1', 'c1', 'c2']);
  });

  it('answers a gap inside a group to that request alone', async () => {
    groups.length = 0;
    const loads = await loadTogether([
      await request('g-a', commands('x')),
      await request('g-b', commands('y'), 500),
      await request('g-c', commands('z')),
    ]);
    expect(groups).toEqual([1, 2]);
    expect(loads.map((l) => l.kind)).toEqual(['loaded', 'gap', 'loaded']);
    expect(await stored('g-c')).toEqual(['z']);
    expect(await stored('g-b')).toEqual([]);
  });

  it('retries a failed group one request at a time, so that one bad request fails alone', async () => {
    groups.length = 0;
    const bad = await request('f-bad', commands('will not fit'));
    bad.rows = Buffer.from('f-bad\tcommand\tnot-a-number\t2026-11-23 10:00:00\n'); // PostgreSQL refuses it in COPY
    bad.lines[0]!.rowEnd = bad.rows.length;
    const requests = [await request('f-a', commands('first')), await request('f-b', commands('grouped')), bad, await request('f-c', commands('also grouped'))];
    const settled = await Promise.allSettled(requests.map((r) => queue.load(TABLES.commands, r)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22P02' });
    expect([await stored('f-a'), await stored('f-b'), await stored('f-c'), await stored('f-bad')]).toEqual([['first'], ['grouped'], ['also grouped'], []]);
    const { rows } = await db.query("SELECT workspace_id, next_offset FROM ingest_offsets WHERE workspace_id LIKE 'f-%' ORDER BY 1");
    expect(rows.map((r) => r.workspace_id)).toEqual(['f-a', 'f-b', 'f-c']);
  });
});
