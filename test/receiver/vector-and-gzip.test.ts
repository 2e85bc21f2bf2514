// Vector sidecars can point at the receiver during a migration: the JSON
// arrays Vector really sends, arrays of parsed objects, gzip, and HEAD checks.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postArray, postLines, request } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

/** What Vector's file source + remap + http sink (codec json) send with the seed's config. */
function vectorEvent(line: string, workspace: string) {
  return { file: '/workshop/runtime/command-log.jsonl', host: 'workshop-workspace-abc123', message: line, source_type: 'file', timestamp: '2026-11-23T10:00:00.123456789Z', workspace_id: workspace };
}

describe('Vector JSON arrays', () => {
  it('loads the raw lines Vector puts in message, with the workspace from each event', async () => {
    const lines = [
      JSON.stringify({ command: 'ls', exit_code: 0, timestamp: '2026-11-23T10:00:00Z' }),
      JSON.stringify({ command: 'pwd', exit_code: 0, timestamp: '2026-11-23T10:00:01Z' }),
    ];
    const res = await postArray(base, 'commands', lines.map((l) => vectorEvent(l, 'vec-raw')));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: 0, next_offset: null });
    const { rows } = await db.query("SELECT command FROM command_log WHERE workspace_id = 'vec-raw' ORDER BY id");
    expect(rows.map((r) => r.command)).toEqual(['ls', 'pwd']);
  });

  it('loads arrays of already-parsed objects', async () => {
    const res = await postArray(base, 'events', [
      { event_type: 'connected', workshop_name: 'w', timestamp: '2026-11-23T10:00:00Z', workspace_id: 'vec-obj' },
      { event_type: 'step_started', step_id: 'one', timestamp: '2026-11-23T10:00:01Z', workspace_id: 'vec-obj' },
    ]);
    expect(res.body).toMatchObject({ accepted: 2 });
    const { rows } = await db.query("SELECT current_step, connected FROM workspace_status WHERE workspace_id = 'vec-obj'");
    expect(rows).toEqual([{ current_step: 'one', connected: true }]);
  });

  it("writes an array's rows workspace by workspace, each workspace's in the array's order", async () => {
    const events = ['vec-s2', 'vec-s1', 'vec-s2', 'vec-s1'].map((ws, i) => ({ command: `${ws} ${i}`, exit_code: 0, timestamp: '2026-11-23T10:00:00Z', workspace_id: ws }));
    expect((await postArray(base, 'commands', events)).body).toMatchObject({ accepted: 4 });
    const { rows } = await db.query("SELECT command FROM command_log WHERE workspace_id LIKE 'vec-s_' ORDER BY id");
    expect(rows.map((r) => r.command)).toEqual(['vec-s1 1', 'vec-s1 3', 'vec-s2 0', 'vec-s2 2']);
  });

  it('rejects bad elements one by one and loads the rest', async () => {
    const res = await postArray(base, 'commands', [
      vectorEvent('not json', 'vec-bad'),
      { command: 'ok', exit_code: 0, timestamp: 1, workspace_id: 'vec-bad' },
      42,
      { command: 'no workspace', exit_code: 0, timestamp: 1 },
    ]);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: 3, next_offset: null });
    const { rows } = await db.query("SELECT reason FROM ingest_rejects WHERE reason IN ('bad_json', 'not_an_object', 'missing_field') ORDER BY id");
    expect(rows.map((r) => r.reason)).toEqual(['bad_json', 'not_an_object', 'missing_field']);
  });

  it('takes the workspace from X-Workspace-Id when events do not name one', async () => {
    const res = await postArray(base, 'commands', [{ command: 'hdr', exit_code: 0, timestamp: 1 }], { headers: { 'x-workspace-id': 'vec-hdr' } });
    expect(res.body).toMatchObject({ accepted: 1 });
  });

  it('answers 400 when the body is not an array', async () => {
    const res = await request(`${base}/ingest/commands`, { method: 'POST', body: '{"command":"x"}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_body');
  });

  it('answers HEAD on every ingest URL with 200 (Vector health check)', async () => {
    for (const stream of ['commands', 'events', 'llm', 'recordings']) {
      const res = await fetch(`${base}/ingest/${stream}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
    }
  });
});

describe('gzip', () => {
  it('accepts gzip native bodies', async () => {
    const body = ndjson([{ command: 'zipped', exit_code: 0, timestamp: 1 }]);
    const res = await postLines(base, 'commands', body, { workspace: 'gz', gzip: true });
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: 0, next_offset: body.length });
  });

  it('accepts gzip Vector arrays', async () => {
    const res = await postArray(base, 'commands', [{ command: 'zipped', exit_code: 0, timestamp: 1, workspace_id: 'gz-vec' }], { gzip: true });
    expect(res.body).toMatchObject({ accepted: 1 });
  });

  it('answers 400 for a body that is not gzip', async () => {
    const res = await request(`${base}/ingest/commands`, {
      method: 'POST', body: 'plain', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip', 'x-workspace-id': 'w', 'x-source-id': 's', 'x-source-offset': '0' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_body');
  });

  it('answers 415 for an encoding it does not speak', async () => {
    const res = await request(`${base}/ingest/commands`, {
      method: 'POST', body: 'x', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'br', 'x-workspace-id': 'w', 'x-source-id': 's', 'x-source-offset': '0' },
    });
    expect(res.status).toBe(415);
  });
});
