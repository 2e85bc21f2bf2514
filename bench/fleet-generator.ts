// The fleet: many simulated workspaces posting to one receiver through the
// real wire protocol, the way their shippers would when caught up: every
// action is sent at once, one request in flight per stream, each stream's
// byte offsets contiguous, a failed request retried with the same bytes.
// One process stands in for a thousand shippers (a thousand real ones will
// not fit on two cores); each workspace has its own connection pool.
//
// Input (environment): URL, TOKEN, WORKSPACES, COMMAND_INTERVAL_MS (mean time
// between a workspace's commands at scale 1), STAGES (JSON [{scale, seconds, warmUp?}]).
// Output: JSON lines on stdout: {"type":"stage-start"|"stage-end", ...} and a
// "tick" each second, then "done".

import { Pool } from 'undici';
import { seededRandom } from '../dev/random.js';
import { nextActivity } from '../dev/workload.js';
import { CONTENT_TYPES, HEADERS, PATHS, type LineStream } from '../shared/wire.js';
import { percentile } from './lib/stats.js';

const url = process.env.URL!;
const token = process.env.TOKEN!;
const workspaces = Number(process.env.WORKSPACES ?? 1000);
const meanIntervalMs = Number(process.env.COMMAND_INTERVAL_MS ?? 4000);
const stages = JSON.parse(process.env.STAGES ?? '[{"scale":1,"seconds":60}]') as Array<{ scale: number; seconds: number; warmUp?: boolean }>;
const RETRY_MS = 1000;

interface Stream {
  name: LineStream;
  sourceId: string;
  offset: number;
  pending: string[];
  inFlight: boolean;
}

interface Workspace {
  id: string;
  rand: () => number;
  counts: { events: number; llm: number };
  nextAt: number;
  pool: Pool;
  streams: Record<LineStream, Stream>;
}

/** What the current window (a tick) and the current stage have seen. */
class Window {
  latencies: number[] = [];
  requests = 0;
  errors = 0;
  lines = 0;
  bytes = 0;
  statuses: Record<string, number> = {};
  summary() {
    return {
      requests: this.requests, errors: this.errors, lines: this.lines, bytes: this.bytes, statuses: this.statuses,
      p50: percentile(this.latencies, 50), p99: percentile(this.latencies, 99), max: this.latencies.reduce((a, b) => Math.max(a, b), 0),
    };
  }
}

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
let tick = new Window();
let stage = new Window();
let scale = 0;
/** After the last stage nothing new is sent, retries included. */
let stopping = false;
/** Lines the receiver accepted, per stream: the scenario checks the tables against them. */
const accepted: Record<LineStream, number> = { commands: 0, events: 0, llm: 0 };

function send(ws: Workspace, s: Stream): void {
  if (s.inFlight || s.pending.length === 0 || stopping) return;
  const lines = s.pending;
  s.pending = [];
  s.inFlight = true;
  const body = lines.join('');
  const bytes = Buffer.byteLength(body);
  const started = performance.now();
  const done = (status: string, ok: boolean) => {
    const ms = performance.now() - started;
    for (const w of [tick, stage]) {
      w.requests++;
      w.statuses[status] = (w.statuses[status] ?? 0) + 1;
      w.latencies.push(ms);
      if (ok) { w.lines += lines.length; w.bytes += bytes; } else w.errors++;
    }
    s.inFlight = false;
    if (ok) {
      s.offset += bytes;
      accepted[s.name] += lines.length;
      send(ws, s);
    } else if (!stopping) {
      // Retried with the same bytes first, as a shipper does.
      s.pending = [...lines, ...s.pending];
      setTimeout(() => send(ws, s), RETRY_MS);
    }
  };
  ws.pool.request({
    method: 'POST', path: PATHS.ingest(s.name), body,
    headers: { authorization: `Bearer ${token}`, 'content-type': CONTENT_TYPES.ndjson, [HEADERS.workspaceId]: ws.id, [HEADERS.sourceId]: s.sourceId, [HEADERS.sourceOffset]: String(s.offset) },
  }).then(
    async (res) => {
      await res.body.dump();
      done(String(res.statusCode), res.statusCode === 200);
    },
    (err: Error & { code?: string }) => done(err.code ?? 'network_error', false),
  );
}

const now = () => performance.now();
const fleet: Workspace[] = Array.from({ length: workspaces }, (_, i) => {
  const id = `fleet-ws-${String(i).padStart(4, '0')}`;
  const rand = seededRandom(i + 1);
  const stream = (name: LineStream): Stream => ({ name, sourceId: `${id}-${name}-gen1`, offset: 0, pending: [], inFlight: false });
  return {
    id, rand, counts: { events: 0, llm: 0 }, nextAt: Infinity,
    pool: new Pool(url, { connections: 3, keepAliveTimeout: 30_000 }),
    streams: { commands: stream('commands'), events: stream('events'), llm: stream('llm') },
  };
});

/** Exponential gaps: workspaces act independently, some seconds apart on average. */
const gap = (ws: Workspace) => (-Math.log(1 - ws.rand()) * meanIntervalMs) / scale;

function act(ws: Workspace): void {
  const a = nextActivity(ws.rand, ws.counts);
  ws.streams.commands.pending.push(`${JSON.stringify(a.command)}\n`);
  if (a.event) ws.streams.events.pending.push(`${JSON.stringify(a.event)}\n`);
  if (a.llm) ws.streams.llm.pending.push(`${JSON.stringify(a.llm)}\n`);
  for (const s of Object.values(ws.streams)) send(ws, s);
}

const scheduler = setInterval(() => {
  const t = now();
  for (const ws of fleet) {
    if (ws.nextAt > t) continue;
    act(ws);
    ws.nextAt = t + gap(ws);
  }
}, 10);

const started = now();
const ticker = setInterval(() => {
  say({ type: 'tick', t: (now() - started) / 1000, scale, ...tick.summary() });
  tick = new Window();
}, 1000);

for (const [i, st] of stages.entries()) {
  scale = st.scale;
  stage = new Window();
  // Spread the first actions over one mean interval, so a stage does not start with a burst.
  for (const ws of fleet) ws.nextAt = now() + ws.rand() * (meanIntervalMs / scale);
  say({ type: 'stage-start', stage: i, scale, warmUp: st.warmUp, t: (now() - started) / 1000 });
  await new Promise((r) => setTimeout(r, st.seconds * 1000));
  say({ type: 'stage-end', stage: i, scale, warmUp: st.warmUp, seconds: st.seconds, t: (now() - started) / 1000, ...stage.summary() });
}
clearInterval(scheduler);
stopping = true;
// Let what is in flight finish, so the receiver's figures and ours agree.
for (let i = 0; i < 100 && fleet.some((ws) => Object.values(ws.streams).some((s) => s.inFlight)); i++) await new Promise((r) => setTimeout(r, 100));
clearInterval(ticker);
say({ type: 'done', accepted, pending: fleet.reduce((n, ws) => n + Object.values(ws.streams).filter((s) => s.inFlight || s.pending.length > 0).length, 0) });
await Promise.all(fleet.map((ws) => ws.pool.destroy()));
