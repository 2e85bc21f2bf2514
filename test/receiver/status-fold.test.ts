// workspace_status is folded from state events: per column the newest event
// wins, a late old event never moves it back, steps_completed is a set, and
// folding the stored timeline again gives the same row.

import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { foldStatus, statusFields } from '../../receiver/ingest/fold-status.js';
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

async function status(ws: string) {
  const { rows } = await db.query("SELECT workshop_name, current_step, connected, steps_completed, last_goss_passed, to_char(last_active_at, 'HH24:MI') AS last FROM workspace_status WHERE workspace_id = $1", [ws]);
  return rows[0];
}

const at = (minute: number) => `2026-11-23T10:${String(minute).padStart(2, '0')}:00Z`;

describe('fold rules', () => {
  it('event types imply columns; explicit snapshot fields win over them', () => {
    expect(statusFields('connected', null, null)).toEqual({ connected: true });
    expect(statusFields('disconnected', null, null)).toEqual({ connected: false });
    expect(statusFields('step_started', 's2', null)).toEqual({ current_step: 's2' });
    expect(statusFields('step_completed', 's1', null)).toEqual({ steps_completed: ['s1'] });
    expect(statusFields('goss_result', 's1', { passed: false })).toEqual({ last_goss_passed: false });
    expect(statusFields('step_started', 's2', { current_step: 's3', workshop_name: 'w' })).toEqual({ current_step: 's3', workshop_name: 'w' });
  });
});

describe('workspace_status', () => {
  it('a late, older event does not move a column back', async () => {
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 's3', workshop_name: 'new', timestamp: at(30) }]), { workspace: 'late', source: 'a' });
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 's1', workshop_name: 'old', timestamp: at(10) }]), { workspace: 'late', source: 'b' });
    expect(await status('late')).toMatchObject({ current_step: 's3', workshop_name: 'new', last: '10:30' });
  });

  it('columns move independently: an old event can still set a column nobody set later', async () => {
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 's5', timestamp: at(50) }]), { workspace: 'indep', source: 'a' });
    await postLines(base, 'events', ndjson([{ event_type: 'connected', workshop_name: 'w', timestamp: at(5) }]), { workspace: 'indep', source: 'b' });
    expect(await status('indep')).toMatchObject({ current_step: 's5', connected: true, workshop_name: 'w', last: '10:50' });
  });

  it('steps_completed is a set that only grows', async () => {
    const events = ['s2', 's1', 's2', 's3'].map((s, i) => ({ event_type: 'step_completed', step_id: s, timestamp: at(i) }));
    await postLines(base, 'events', ndjson(events), { workspace: 'steps' });
    await postLines(base, 'events', ndjson([{ event_type: 'snapshot', steps_completed: ['s4'], timestamp: at(0) }]), { workspace: 'steps', source: 'b' });
    expect((await status('steps')).steps_completed).toEqual(['s1', 's2', 's3', 's4']);
  });

  it('a row starts with an empty workshop name and connected false until events say otherwise', async () => {
    await postLines(base, 'events', ndjson([{ event_type: 'step_started', step_id: 'x', timestamp: at(1) }]), { workspace: 'bare' });
    expect(await status('bare')).toMatchObject({ workshop_name: '', connected: false, current_step: 'x', last_goss_passed: null });
  });

  it('equals the fold of the stored timeline after shuffled, concurrent batches', async () => {
    const types = ['connected', 'disconnected', 'step_started', 'step_completed', 'goss_result', 'snapshot'];
    const events = Array.from({ length: 300 }, (_, i) => ({
      event_type: types[(i * 7) % types.length],
      step_id: `s${(i * 13) % 9}`,
      workshop_name: i % 11 === 0 ? `w${i}` : undefined,
      data: { passed: i % 3 === 0 },
      current_step: i % 17 === 0 ? null : undefined,
      timestamp: 1763892000 + ((i * 37) % 101), // many ties, out of order
    }));
    // Three generations sent concurrently, in batches.
    await Promise.all([0, 1, 2].map(async (g) => {
      const mine = events.filter((_, i) => i % 3 === g);
      let offset = 0;
      for (let i = 0; i < mine.length; i += 10) {
        const body = ndjson(mine.slice(i, i + 10));
        await postLines(base, 'events', body, { workspace: 'refold', source: `g${g}`, offset });
        offset += Buffer.byteLength(body);
      }
    }));
    const timeline = await db.query("SELECT event_type, step_id, data, to_char(timestamp, 'YYYY-MM-DD HH24:MI:SS.US') AS at FROM state_timeline WHERE workspace_id = 'refold' ORDER BY id");
    const patch = foldStatus(timeline.rows.map((r) => ({ at: r.at, fields: statusFields(r.event_type, r.step_id, r.data) })))!;
    const { rows } = await db.query("SELECT workshop_name, current_step, connected, steps_completed, last_goss_passed, to_char(last_active_at, 'YYYY-MM-DD HH24:MI:SS.US') AS last FROM workspace_status WHERE workspace_id = 'refold'");
    expect(rows[0]).toEqual({
      workshop_name: patch.workshop_name?.value ?? '',
      current_step: patch.current_step?.value ?? null,
      connected: patch.connected?.value ?? false,
      steps_completed: patch.steps_completed,
      last_goss_passed: patch.last_goss_passed?.value ?? null,
      last: patch.last_active_at,
    });
  });
});
