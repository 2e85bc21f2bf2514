// The native protocol: exact bytes of complete lines, with the stream's
// workspace, file generation and byte offset in headers.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';

let base: string;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  base = (await startTestReceiver(url)).url;
  db = queryPool(url);
});

describe('POST /ingest/commands', () => {
  it('stores each line as a command_log row and answers with counts and the next offset', async () => {
    const body = ndjson([
      { command: 'kubectl get pods', exit_code: 0, timestamp: '2026-11-23T10:00:00Z' },
      { command: 'ls -la', exit_code: 2, timestamp: 1763892001.5 },
    ]);
    const res = await postLines(base, 'commands', body, { workspace: 'ws-cmd' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: 0, next_offset: Buffer.byteLength(body) });
    const { rows } = await db.query("SELECT command, exit_code, to_char(timestamp, 'YYYY-MM-DD HH24:MI:SS.US') AS ts FROM command_log WHERE workspace_id = 'ws-cmd' ORDER BY id");
    expect(rows).toEqual([
      { command: 'kubectl get pods', exit_code: 0, ts: '2026-11-23 10:00:00.000000' },
      { command: 'ls -la', exit_code: 2, ts: '2025-11-23 10:00:01.500000' },
    ]);
  });
});

describe('POST /ingest/events', () => {
  it('appends to state_timeline and folds workspace_status', async () => {
    const body = ndjson([
      { event_type: 'connected', workshop_name: 'k8s-101', timestamp: '2026-11-23T10:00:00Z' },
      { event_type: 'step_started', step_id: 'step-1', timestamp: '2026-11-23T10:01:00Z', data: { by: 'student' } },
      { event_type: 'step_completed', step_id: 'step-1', timestamp: '2026-11-23T10:02:00Z' },
    ]);
    const res = await postLines(base, 'events', body, { workspace: 'ws-ev' });
    expect(res.body).toMatchObject({ accepted: 3, rejected: 0 });
    const timeline = await db.query("SELECT event_type, step_id, data FROM state_timeline WHERE workspace_id = 'ws-ev' ORDER BY id");
    expect(timeline.rows).toEqual([
      { event_type: 'connected', step_id: null, data: { workshop_name: 'k8s-101' } },
      { event_type: 'step_started', step_id: 'step-1', data: { by: 'student' } },
      { event_type: 'step_completed', step_id: 'step-1', data: null },
    ]);
    const status = await db.query("SELECT workshop_name, current_step, connected, steps_completed, to_char(last_active_at, 'HH24:MI') AS last FROM workspace_status WHERE workspace_id = 'ws-ev'");
    expect(status.rows).toEqual([{ workshop_name: 'k8s-101', current_step: 'step-1', connected: true, steps_completed: ['step-1'], last: '10:02' }]);
  });
});

describe('POST /ingest/llm', () => {
  it('stores interactions with prompt_context as jsonb', async () => {
    const line = { step_id: 's1', student_question: 'why?', prompt_context: { files: ['a.yaml'], n: 1 }, response: 'because', model: 'm-1', requested_at: '2026-11-23T10:00:00+02:00' };
    const res = await postLines(base, 'llm', ndjson([line]), { workspace: 'ws-llm' });
    expect(res.body).toMatchObject({ accepted: 1 });
    const { rows } = await db.query("SELECT step_id, student_question, prompt_context, response, model, to_char(requested_at, 'HH24:MI') AS at FROM llm_interactions WHERE workspace_id = 'ws-llm'");
    expect(rows).toEqual([{ step_id: 's1', student_question: 'why?', prompt_context: { files: ['a.yaml'], n: 1 }, response: 'because', model: 'm-1', at: '08:00' }]);
  });
});
