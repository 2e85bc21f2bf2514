// The receiver's other endpoints, and the whole-request answers of its error catalogue.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url, { maxBodyBytes: 64 * 1024 })).url;
  db = queryPool(url);
});

const json = (body: unknown, workspace = 'ws-e') => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-workspace-id': workspace } });

describe('GET /ingest/offsets', () => {
  it('lists committed offsets per stream and generation', async () => {
    const body = ndjson([{ command: 'a', exit_code: 0, timestamp: 1 }]);
    await postLines(base, 'commands', body, { workspace: 'ws-off', source: 'g1' });
    await postLines(base, 'commands', body + body, { workspace: 'ws-off', source: 'g2' });
    const res = await request(`${base}/ingest/offsets?workspace_id=ws-off&stream=commands`);
    expect(res.status).toBe(200);
    expect(res.body.workspace_id).toBe('ws-off');
    const bySource = Object.fromEntries(res.body.offsets.map((o: { source_id: string; next_offset: number }) => [o.source_id, o.next_offset]));
    expect(bySource).toEqual({ g1: body.length, g2: 2 * body.length });
    const one = await request(`${base}/ingest/offsets?workspace_id=ws-off&source_id=g2`);
    expect(one.body.offsets).toHaveLength(1);
  });

  it('answers 400 without a workspace', async () => {
    const res = await request(`${base}/ingest/offsets`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_query');
  });
});

describe('POST /ingest/rejects', () => {
  it('stores the shipper\'s oversize line and moves the stream past it', async () => {
    const before = ndjson([{ command: 'before', exit_code: 0, timestamp: 1 }]);
    await postLines(base, 'commands', before, { workspace: 'ws-rej', source: 'g' });
    const report = { stream: 'commands', source_id: 'g', offset: before.length, length: 5_000_000, reason: 'line_too_long', prefix_base64: Buffer.from('{"command":"xxxx').toString('base64') };
    const res = await request(`${base}/ingest/rejects`, json(report, 'ws-rej'));
    expect(res.body).toEqual({ accepted: 0, duplicates: 0, rejected: 1, next_offset: before.length + 5_000_000 });
    // The next line continues after the skipped one, with no gap.
    const after = await postLines(base, 'commands', ndjson([{ command: 'after', exit_code: 0, timestamp: 1 }]), { workspace: 'ws-rej', source: 'g', offset: before.length + 5_000_000 });
    expect(after.body).toMatchObject({ accepted: 1 });
    // Reported twice (a retry): stored once.
    const again = await request(`${base}/ingest/rejects`, json(report, 'ws-rej'));
    expect(again.body).toMatchObject({ duplicates: 1, rejected: 0 });
    const { rows } = await db.query("SELECT reason, source_offset, raw, raw_length FROM ingest_rejects WHERE workspace_id = 'ws-rej'");
    expect(rows).toEqual([{ reason: 'line_too_long', source_offset: String(before.length), raw: Buffer.from('{"command":"xxxx'), raw_length: '5000000' }]);
  });

  it('answers 400 for a malformed report', async () => {
    const res = await request(`${base}/ingest/rejects`, json({ stream: 'nope' }));
    expect(res.status).toBe(400);
  });
});

describe('POST /ingest/recordings', () => {
  it('upserts recording_refs and never moves last_sync_byte back', async () => {
    const post = (path: string, n: number) => request(`${base}/ingest/recordings`, json({ storage_path: `s3://bucket/${path}`, last_sync_byte: n }, 'ws-rec'));
    expect((await post('recordings/ws-rec/seg-1', 100)).body).toMatchObject({ last_sync_byte: 100, updated: true });
    expect((await post('recordings/ws-rec/seg-2', 250)).body).toMatchObject({ last_sync_byte: 250, updated: true });
    expect((await post('recordings/ws-rec/seg-1', 100)).body).toMatchObject({ storage_path: 's3://bucket/recordings/ws-rec/seg-2', last_sync_byte: 250, updated: false });
    expect((await post('recordings/ws-rec/session.cast', 250)).body).toMatchObject({ storage_path: 's3://bucket/recordings/ws-rec/session.cast', updated: true });
    const { rows } = await db.query("SELECT storage_path, last_sync_byte FROM recording_refs WHERE workspace_id = 'ws-rec'");
    expect(rows).toEqual([{ storage_path: 's3://bucket/recordings/ws-rec/session.cast', last_sync_byte: '250' }]);
  });

  it('refuses a path outside the workspace\'s own prefix (403), and stores nothing', async () => {
    const post = (path: string) => request(`${base}/ingest/recordings`, json({ storage_path: path, last_sync_byte: 999 }, 'ws-rec2'));
    for (const path of ['s3://bucket/recordings/ws-other/session.cast', 's3://bucket/recordings/ws-rec2x/session.cast', 's3://bucket/recordings/ws-rec2/../ws-other/session.cast', 'recordings/ws-rec2/session.cast', 's3://bucket/elsewhere/ws-rec2/x']) {
      const res = await post(path);
      expect(res.status, path).toBe(403);
      expect(res.body.error).toBe('forbidden');
    }
    expect((await db.query("SELECT 1 FROM recording_refs WHERE workspace_id = 'ws-rec2'")).rows).toEqual([]);
  });

  it('answers 400 for a negative byte count', async () => {
    expect((await request(`${base}/ingest/recordings`, json({ storage_path: 'x', last_sync_byte: -1 }))).status).toBe(400);
  });
});

describe('health and metrics', () => {
  it('/healthz and /readyz answer 200 when migrated and connected', async () => {
    expect((await request(`${base}/healthz`, { token: null })).status).toBe(200);
    const ready = await request(`${base}/readyz`, { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ migrated: true, accepting: true, database: true });
  });

  it('/metrics exposes the receiver figures under ferry_receiver_', async () => {
    await postLines(base, 'commands', 'bad\n', { workspace: 'ws-metrics' });
    const text = (await request(`${base}/metrics`, { token: null })).body as string;
    for (const name of ['rows_total', 'rejects_total', 'duplicates_total', 'copy_duration_seconds_bucket', 'http_request_duration_seconds_bucket', 'pool_in_use_connections', 'pool_waiting_requests', 'database_up', 'process_resident_memory_bytes']) {
      expect(text).toContain(`ferry_receiver_${name}`);
    }
    expect(text).toMatch(/ferry_receiver_rejects_total\{stream="commands",reason="bad_json"\} [1-9]/);
  });
});

describe('whole-request errors', () => {
  const headers = { 'content-type': 'application/x-ndjson', 'x-workspace-id': 'w', 'x-source-id': 's', 'x-source-offset': '0' };

  it('400 for each missing native header', async () => {
    for (const missing of ['x-workspace-id', 'x-source-id', 'x-source-offset']) {
      const h: Record<string, string> = { ...headers };
      delete h[missing];
      const res = await request(`${base}/ingest/commands`, { method: 'POST', body: 'x\n', headers: h });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'missing_header' });
      expect(res.body.message).toContain(missing);
    }
  });

  it('400 for a bad offset', async () => {
    const res = await request(`${base}/ingest/commands`, { method: 'POST', body: 'x\n', headers: { ...headers, 'x-source-offset': '-4' } });
    expect(res.body.error).toBe('bad_header');
  });

  it('413 for a body over MAX_BODY_BYTES, plain or once decoded', async () => {
    const big = 'x'.repeat(70 * 1024);
    expect((await postLines(base, 'commands', big, { workspace: 'big' })).status).toBe(413);
    const bomb = await postLines(base, 'commands', Buffer.alloc(10 * 1024 * 1024, 0x20), { workspace: 'big', gzip: true });
    expect(bomb.status).toBe(413);
    expect(bomb.body.error).toBe('body_too_large');
  });

  it('415 for an unsupported content type', async () => {
    const res = await request(`${base}/ingest/commands`, { method: 'POST', body: 'x', headers: { ...headers, 'content-type': 'text/csv' } });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('unsupported_media_type');
  });

  it('404 as JSON for an unknown route', async () => {
    const res = await request(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});
