// GET /stream: every replica streams every committed batch, in one order, and a
// client that reconnects with Last-Event-ID misses nothing.

import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { RunningReceiver } from '../../receiver/receiver.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postArray, postLines, request } from '../helpers/http.js';
import { INGEST_TOKEN, READ_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { openStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

let url: string;
let a: RunningReceiver;
let b: RunningReceiver;
let db: pg.Pool;
const offsets = new Map<string, number>();

beforeAll(async () => {
  url = await freshDatabase();
  a = await startTestReceiver(url, { streamHeartbeatMs: 1_000, streamClientBufferBytes: 64 * 1024 });
  b = await startTestReceiver(url, { streamHeartbeatMs: 1_000, streamClientBufferBytes: 64 * 1024 });
  db = queryPool(url);
});

/** Appends commands to a workspace's stream through one replica, at the right offset. */
async function commands(via: RunningReceiver, ws: string, ...cmds: string[]): Promise<void> {
  const body = ndjson(cmds.map((command, i) => ({ command, exit_code: i % 2, timestamp: 1_763_900_000 + i })));
  const offset = offsets.get(ws) ?? 0;
  const res = await postLines(via.url, 'commands', body, { workspace: ws, source: 'g1', offset });
  expect(res.status).toBe(200);
  offsets.set(ws, offset + Buffer.byteLength(body));
}

async function stateEvents(via: RunningReceiver, ws: string, ...events: Array<Record<string, unknown>>): Promise<void> {
  const body = ndjson(events.map((e, i) => ({ workshop_name: 'k8s-101', timestamp: 1_763_900_000 + i, ...e })));
  const key = `${ws}/events`;
  const offset = offsets.get(key) ?? 0;
  expect((await postLines(via.url, 'events', body, { workspace: ws, source: 'g1', offset })).status).toBe(200);
  offsets.set(key, offset + Buffer.byteLength(body));
}

describe('GET /stream', () => {
  it('a batch ingested through one replica appears on a stream opened on the other', async () => {
    const s = await openStream(`${b.url}/stream`);
    expect(s.status).toBe(200);
    await commands(a, 'ws-a', 'kubectl get pods', 'kubectl apply -f deployment.yaml');
    await stateEvents(a, 'ws-a', { event_type: 'step_started', step_id: 'step-2' }, { event_type: 'connected' });
    await s.until('both batches on replica B', () => s.batches().length >= 2);
    const [cmd, ev] = s.batches();
    expect(cmd).toMatchObject({ workspace_id: 'ws-a', stream: 'commands', count: 2, rejected: 0, last_command: { command: 'kubectl apply -f deployment.yaml', exit_code: 1 } });
    expect(ev).toMatchObject({ workspace_id: 'ws-a', stream: 'events', count: 2, status: { workspace_id: 'ws-a', current_step: 'step-2', connected: true, workshop_name: 'k8s-101' } });
    expect(ev!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    s.close();
  });

  it('a batch of older lines still reports the newest command and tutor call stored before it', async () => {
    const s = await openStream(`${a.url}/stream?workspace=ws-late`);
    const post = (stream: string, source: string, line: object) => postLines(a.url, stream, ndjson([line]), { workspace: 'ws-late', source });
    await post('commands', 'new', { command: 'newest', exit_code: 0, timestamp: '2026-11-20T10:00:00Z' });
    await post('commands', 'old', { command: 'a day older', exit_code: 0, timestamp: '2026-11-19T10:00:00Z' });
    await post('llm', 'new', { step_id: 'newest', prompt_context: {}, response: 'r', model: 'm', requested_at: '2026-11-20T10:00:00Z' });
    await post('llm', 'old', { step_id: 'older', prompt_context: {}, response: 'r', model: 'm', requested_at: '2026-11-18T10:00:00Z' });
    await s.until('four batches', () => s.batches().length >= 4);
    expect(s.batches().map((e) => e.last_command?.command ?? e.last_llm?.step_id)).toEqual(['newest', 'newest', 'newest', 'newest']);
    s.close();
  });

  it('filters by workspace', async () => {
    const s = await openStream(`${a.url}/stream?workspace=ws-f1,ws-f3`);
    await commands(b, 'ws-f1', 'ls');
    await commands(b, 'ws-f2', 'ls');
    await commands(b, 'ws-f3', 'ls');
    await s.until('two filtered batches', () => s.batches().length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.batches().map((e) => e.workspace_id)).toEqual(['ws-f1', 'ws-f3']);
    s.close();
  });

  it('every event arrives once, in one order on every replica, under concurrent ingest', async () => {
    const onA = await openStream(`${a.url}/stream?workspace=${Array.from({ length: 8 }, (_, i) => `ws-c${i}`).join(',')}`);
    const onB = await openStream(`${b.url}/stream?workspace=${Array.from({ length: 8 }, (_, i) => `ws-c${i}`).join(',')}`);
    // 8 workspaces × 10 batches, posted concurrently through both replicas.
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let n = 0; n < 10; n++) await commands(n % 2 ? a : b, `ws-c${w}`, `echo ${w}-${n}`);
    }));
    await onA.until('80 batches on A', () => onA.batches().length >= 80);
    await onB.until('80 batches on B', () => onB.batches().length >= 80);
    const ids = onA.batches().map((e) => e._id);
    expect(new Set(ids).size).toBe(80);
    expect(onB.batches().map((e) => e._id)).toEqual(ids);
    // Per workspace, the batches come in the order they were committed.
    for (let w = 0; w < 8; w++) {
      expect(onA.batches().filter((e) => e.workspace_id === `ws-c${w}`).map((e) => e.last_command.command)).toEqual(Array.from({ length: 10 }, (_, n) => `echo ${w}-${n}`));
    }
    onA.close();
    onB.close();
  });

  it('reconnecting with Last-Event-ID, on any replica, delivers exactly what was missed', async () => {
    const first = await openStream(`${a.url}/stream?workspace=ws-r1,ws-r2`);
    await commands(a, 'ws-r1', 'one');
    await first.until('the first batch', () => first.batches().length === 1);
    const lastSeen = first.batches()[0]!._id;
    first.close();

    for (let i = 0; i < 5; i++) await commands(i % 2 ? a : b, i % 2 ? 'ws-r1' : 'ws-r2', `missed ${i}`);
    const again = await openStream(`${b.url}/stream?workspace=ws-r1,ws-r2`, { lastEventId: lastSeen });
    await again.until('the five missed batches', () => again.batches().length >= 5);
    await commands(a, 'ws-r2', 'live again');
    await again.until('the live batch after them', () => again.batches().length >= 6);
    expect(again.batches().map((e) => e.last_command.command)).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'live again']);
    again.close();
  });

  it('a Last-Event-ID older than the replay window gets a reset event, then live events', async () => {
    const s = await openStream(`${a.url}/stream?workspace=ws-old`);
    await commands(a, 'ws-old', 'before');
    await s.until('a batch', () => s.batches().length === 1);
    const old = s.batches()[0]!._id;
    s.close();
    // What pruning does once the window has passed.
    await db.query('DELETE FROM ferry_stream_events');
    const watcher = await openStream(`${b.url}/stream?workspace=ws-old`);
    await commands(a, 'ws-old', 'after the window');
    await watcher.until('replica B past the old position', () => watcher.batches().length === 1);
    watcher.close();
    const back = await openStream(`${b.url}/stream?workspace=ws-old`, { lastEventId: old });
    await back.until('a reset', () => back.messages.some((m) => m.event === 'reset'));
    await commands(a, 'ws-old', 'live');
    await back.until('the live batch', () => back.batches().some((e) => e.last_command.command === 'live'));
    back.close();
  });

  it('sends heartbeats that carry the position', async () => {
    const s = await openStream(`${a.url}/stream?workspace=nobody`);
    await s.until('a heartbeat', () => s.comments.includes('keep-alive'), 5_000);
    s.close();
  });

  it('a stalled client is cut off instead of buffered; the others get everything', async () => {
    const healthy = await openStream(`${a.url}/stream?workspace=ws-big0`);
    // A client that sends its request and never reads.
    const stalled = connect({ host: '127.0.0.1', port: Number(new URL(b.url).port) });
    stalled.pause();
    stalled.on('error', () => undefined);
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await request(`${b.url}/metrics`, { token: null })).body)?.[1]);
    const before = await metric('ferry_receiver_stream_clients');
    stalled.write(`GET /stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\n\r\n`);
    await waitFor(async () => (await metric('ferry_receiver_stream_clients')) === before + 1, 'the stalled client connected');

    // Vector arrays of 500 workspaces: one event each, about 700 bytes with the command preview.
    const command = 'x'.repeat(600);
    const dropped = () => metric('ferry_receiver_stream_clients_dropped_total');
    for (let n = 0; n < 100 && (await dropped()) === 0; n++) {
      const events = Array.from({ length: 500 }, (_, w) => ({ workspace_id: `ws-big${w}`, command, exit_code: 0, timestamp: 1_763_900_000 + n }));
      expect((await postArray(a.url, 'commands', events)).status).toBe(200);
    }
    await waitFor(async () => (await dropped()) === 1, 'the server to cut the stalled client off');
    expect(await metric('ferry_receiver_stream_clients')).toBe(before);
    stalled.destroy();
    const batches = Number((await db.query("SELECT count(*) FROM ferry_stream_events WHERE workspace_id = 'ws-big0'")).rows[0].count);
    await healthy.until('every ws-big0 batch on the healthy client', () => healthy.batches().length >= batches).catch(() => undefined);
    expect(healthy.batches().length).toBe(batches);
    healthy.close();
  });

  it('keeps events compact: long commands are cut, oversized details left out', async () => {
    const s = await openStream(`${a.url}/stream?workspace=ws-long`);
    await commands(a, 'ws-long', 'y'.repeat(100_000));
    const steps = Array.from({ length: 400 }, (_, i) => ({ event_type: 'step_completed', step_id: `a-rather-long-step-name-${i}` }));
    await stateEvents(a, 'ws-long', ...steps);
    await s.until('both batches', () => s.batches().length === 2);
    const [cmd, ev] = s.batches();
    expect(cmd!.last_command.command).toHaveLength(500);
    expect(ev).toMatchObject({ stream: 'events', count: 400, truncated: true });
    expect(ev!.status).toBeUndefined();
    s.close();
  });

  it('needs the read token: no token and the ingest token are refused, and the read token cannot ingest', async () => {
    expect((await openStream(`${a.url}/stream`, { token: null })).status).toBe(401);
    expect((await openStream(`${a.url}/stream`, { token: INGEST_TOKEN })).status).toBe(401);
    expect((await openStream(`${a.url}/stream?token=${READ_TOKEN}`, { token: null })).status).toBe(200);
    expect((await postLines(a.url, 'commands', ndjson([{ command: 'x', exit_code: 0, timestamp: 1 }]), { token: READ_TOKEN })).status).toBe(401);
    expect((await openStream(`${a.url}/stream`, { lastEventId: 'not-a-position' })).status).toBe(400);
  });
});
