// Scenario "fleet": 1,000 simulated workspaces (seed 002 plans for about
// 1,000 concurrent users) against one receiver, through the real wire
// protocol, from a generator process (bench/fleet-generator.ts), plus a
// handful of real ferry-shipper processes tailing simulated workspaces.
// Stage 1 is the realistic rate (a command every few seconds per workspace,
// state events, now and then a tutor call with a 5-50 KB prompt); the stages
// after it multiply the rate, to show where one receiver stops keeping up and
// what binds it. Measured per stage: receiver requests/s and events/s, request
// latency p50/p99 (client side), PostgreSQL transactions/s (pg_stat_database),
// CPU and memory of the receiver, PostgreSQL and the generator.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { simulateWorkspace, type Simulator } from '../../dev/workspace-simulator.js';
import { startBenchDb, type BenchDb } from '../lib/bench-db.js';
import { processCharts, progressChart, type Chart } from '../lib/charts.js';
import { hottest } from '../lib/cpu-profile.js';
import { every } from '../lib/poll.js';
import { sampleProcess, sampleProcessTree, type Sampler } from '../lib/proc-stats.js';
import { startFleetGenerator } from '../lib/fleet-run.js';
import { BENCH_TOKEN, startReceiverProcess, startShipperProcess, stopChild } from '../lib/programs.js';
import { scrape, total, type Samples } from '../lib/scrape.js';
import { IDLE_IN_TRANSACTION, sampleWaits } from '../lib/wait-events.js';
import { max, MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario } from '../scenario.js';

const TARGET_P99_MS = 250;
/** The last stage delivers at least this share of the requests it asks for. */
const TARGET_DELIVERED = 0.95;
const DATA_TABLES = ['command_log', 'state_timeline', 'llm_interactions'];

/** What is read at a stage's edges, to take differences. */
interface Snapshot {
  at: number;
  metrics: Samples;
  commits: number;
  /** Index of the last sample of each process. */
  sampleIndex: Record<string, number>;
}

const ingestPosts = (m: Samples) => total(m, 'ferry_receiver_http_request_duration_seconds_count', { method: 'POST' });
const dataRows = (m: Samples) => DATA_TABLES.reduce((n, table) => n + total(m, 'ferry_receiver_rows_total', { table }), 0);

async function snapshot(receiverUrl: string, db: BenchDb, samplers: Record<string, Sampler>): Promise<Snapshot> {
  const [metrics, commits] = await Promise.all([scrape(receiverUrl), db.commits()]);
  return { at: performance.now(), metrics, commits, sampleIndex: Object.fromEntries(Object.entries(samplers).map(([n, s]) => [n, s.samples.length - 1])) };
}

/** CPU (% of one core) and peak RSS of a process between two snapshots. */
function usage(s: Sampler, from: number, to: number): { cpu: number; peakMiB: number } {
  const window = s.samples.slice(Math.max(0, from), to + 1);
  const a = window[0];
  const b = window.at(-1);
  if (!a || !b || b.t <= a.t) return { cpu: NaN, peakMiB: NaN };
  return { cpu: ((b.cpuSeconds - a.cpuSeconds) / (b.t - a.t)) * 100, peakMiB: max(window.map((x) => x.rssBytes)) / MIB };
}

export const fleet: Scenario = {
  name: 'fleet',
  description: '1,000 simulated workspaces (generator, real wire protocol) and a handful of real shippers against one receiver: requests/s, events/s, p50/p99, PostgreSQL transactions/s, receiver CPU and RSS',
  async run(ctx) {
    const workspaces = ctx.int('BENCH_FLEET_WORKSPACES', 1000);
    const intervalMs = ctx.int('BENCH_FLEET_COMMAND_INTERVAL_MS', 4000);
    const seconds = ctx.int('BENCH_FLEET_SECONDS', 60);
    const rampSeconds = ctx.int('BENCH_FLEET_RAMP_SECONDS', 20);
    const maxScale = ctx.int('BENCH_FLEET_MAX_SCALE', 4);
    const realShippers = ctx.int('BENCH_FLEET_SHIPPERS', 5);
    const profile = ctx.int('BENCH_FLEET_PROFILE', 0) === 1;
    const poolMax = ctx.int('BENCH_FLEET_PG_POOL_MAX', 10);
    const warmUp = ctx.int('BENCH_FLEET_WARMUP_SECONDS', 15);
    // A fleet runs in a steady state: connections open, code warm. The warm-up reaches it and is not measured.
    const stages: Array<{ scale: number; seconds: number; warmUp?: boolean }> = [{ scale: 1, seconds: warmUp, warmUp: true }, { scale: 1, seconds }];
    for (let s = 2; s <= maxScale; s *= 2) stages.push({ scale: s, seconds: rampSeconds });

    const db = await startBenchDb();
    await db.reset();
    const profileDir = join(ctx.workDir, 'profile');
    const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { PG_POOL_MAX: String(poolMax) }, profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    const samplers: Record<string, Sampler> = { 'ferry-receiver': sampleProcess(receiver.child.pid!, 250), PostgreSQL: sampleProcessTree(await db.postmasterPid()) };
    const waits = sampleWaits(db.pool, 'ferry-receiver');
    const simulators: Simulator[] = [];
    const shippers = [];
    try {
      ctx.progress(`${realShippers} real shippers on simulated workspaces`);
      for (let i = 0; i < realShippers; i++) {
        const dir = join(ctx.workDir, `real-${i}`);
        await mkdir(dir, { recursive: true });
        simulators.push(await simulateWorkspace(join(dir, 'runtime'), { commandsPerSecond: 1000 / intervalMs, seed: 100 + i }));
        const shipper = startShipperProcess({ WORKSPACE_ID: `real-ws-${i}`, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: join(dir, 'runtime'), STATE_DIR: join(dir, 'state') });
        shippers.push(shipper);
        if (i === 0) samplers['ferry-shipper (1 of the real ones)'] = sampleProcess(shipper.pid!, 250);
      }

      ctx.progress(`generator: ${workspaces} workspaces, a command every ${intervalMs / 1000} s each at scale 1; stages ${stages.map((s) => `${s.scale}x ${s.seconds} s${s.warmUp ? ' (warm-up)' : ''}`).join(', ')}`);
      const generator = startFleetGenerator({ url: receiver.url, token: BENCH_TOKEN, workspaces, intervalMs, stages });
      samplers.generator = sampleProcess(generator.child.pid!, 250);
      const t0 = performance.now();
      const ticks: Array<{ t: number; requests: number; p50: number; p99: number; errors: number }> = [];
      const overTime: Array<{ t: number; commits: number; posts: number }> = [];
      const poller = every(1000, async () => {
        const [m, commits] = await Promise.all([scrape(receiver.url), db.commits()]);
        overTime.push({ t: (performance.now() - t0) / 1000, commits, posts: ingestPosts(m) });
      });
      const stageRows: Row[] = [];
      const waitRows: Row[] = [];
      let starting: Snapshot | undefined;
      let accepted: Record<string, number> = {};
      for await (const e of generator.events) {
        if (e.type === 'tick') ticks.push({ t: e.t, requests: e.requests!, p50: e.p50!, p99: e.p99!, errors: e.errors! });
        if (e.warmUp) {
          if (e.type === 'stage-start') ctx.progress(`warm-up: ${warmUp} s at 1x, not measured`);
          continue;
        }
        if (e.type === 'stage-start') {
          starting = await snapshot(receiver.url, db, samplers);
          waits.take();
        }
        if (e.type === 'done') accepted = e.accepted!;
        if (e.type !== 'stage-end' || !starting) continue;
        const end = await snapshot(receiver.url, db, samplers);
        const s = (end.at - starting.at) / 1000;
        const posts = ingestPosts(end.metrics) - ingestPosts(starting.metrics);
        const use = (name: string) => usage(samplers[name]!, starting!.sampleIndex[name]!, end.sampleIndex[name]!);
        const receiverErrors = total(end.metrics, 'ferry_receiver_request_errors_total') - total(starting.metrics, 'ferry_receiver_request_errors_total');
        const row: Row = {
          stage: `${e.scale}x`, 'commands/s per workspace': Number((e.scale! * 1000 / intervalMs).toFixed(2)), seconds: Number(s.toFixed(1)),
          'requests/s': posts / s, 'events/s': (dataRows(end.metrics) - dataRows(starting.metrics)) / s, 'xact/s': (end.commits - starting.commits) / s,
          'p50 ms': e.p50!, 'p99 ms': e.p99!, 'max ms': e.max!, errors: e.errors! + receiverErrors,
          'receiver CPU %': use('ferry-receiver').cpu, 'receiver peak RSS MiB': use('ferry-receiver').peakMiB, 'PostgreSQL CPU %': use('PostgreSQL').cpu, 'generator CPU %': use('generator').cpu,
        };
        stageRows.push(row);
        const w = waits.take();
        row['busy PG connections'] = Number(w.busy.toFixed(1));
        waitRows.push({ stage: `${e.scale}x`, ...w.shares });
        ctx.progress(`stage ${e.scale}x: ${Math.round(Number(row['requests/s']))} requests/s, p99 ${Number(row['p99 ms']).toFixed(1)} ms, ${row.errors} errors`);
      }
      await generator.exited;
      await poller.stop();
      await waits.stop();

      ctx.progress('draining the real shippers');
      for (const sim of simulators) sim.stop();
      await new Promise((r) => setTimeout(r, 500));
      const shipperCodes = await Promise.all(shippers.map((s) => stopChild(s)));
      const procs = Object.fromEntries(Object.entries(samplers).map(([n, s]) => [n, s.stop()]));
      await receiver.stop();

      // Nothing lost or doubled: the tables hold what the generator had accepted and what the simulators wrote.
      const stored = async (table: string, like: string) => Number((await db.pool.query(`SELECT count(*) AS n FROM ${table} WHERE workspace_id LIKE $1`, [like])).rows[0].n);
      const generatorRows = { commands: await stored('command_log', 'fleet-ws-%'), events: await stored('state_timeline', 'fleet-ws-%'), llm: await stored('llm_interactions', 'fleet-ws-%') };
      const written = simulators.map((s) => s.written()).reduce((a, w) => ({ commands: a.commands + w.commands, events: a.events + w.events, llm: a.llm + w.llm }), { commands: 0, events: 0, llm: 0 });
      const shipperRows = { commands: await stored('command_log', 'real-ws-%'), events: await stored('state_timeline', 'real-ws-%'), llm: await stored('llm_interactions', 'real-ws-%') };
      const exact = (['commands', 'events', 'llm'] as const).every((k) => generatorRows[k] === accepted[k] && shipperRows[k] === written[k]) && shipperCodes.every((c) => c === 0);
      const integrity: Row[] = [
        { source: 'generator (accepted answers)', ...accepted, 'rows stored': `${generatorRows.commands} / ${generatorRows.events} / ${generatorRows.llm}` },
        { source: `real shippers (${realShippers}, lines written)`, ...written, 'rows stored': `${shipperRows.commands} / ${shipperRows.events} / ${shipperRows.llm}`, 'exit codes': shipperCodes.join(' ') },
      ];

      const table = printTable(`fleet: ${workspaces.toLocaleString()} simulated workspaces + ${realShippers} real shippers, one receiver (PG_POOL_MAX ${poolMax}), durable PostgreSQL`, stageRows);
      printTable('lines accepted vs rows stored (commands, events, llm)', integrity);
      printTable("the receiver's PostgreSQL connections while busy (% of samples, pg_stat_activity every 100 ms)", waitRows);
      const tables: Record<string, Row[]> = {
        'lines accepted vs rows stored (commands / events / llm)': integrity,
        "the receiver's PostgreSQL connections while busy: what they were doing (% of samples, pg_stat_activity every 100 ms)": waitRows,
      };
      if (profile) {
        const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
        if (files[0]) tables['receiver CPU profile, all stages (node --cpu-prof, self time)'] = (await hottest(join(profileDir, files[0]))) as unknown as Row[];
      }
      const first = stageRows[0]!;
      const last = stageRows.at(-1)!;
      // What the last stage asks: its scale times what the first delivered (a request per action, when the receiver keeps up).
      const asked = (parseInt(String(last.stage), 10) / parseInt(String(first.stage), 10)) * Number(first['requests/s']);
      const idle = (r: Row) => Number(r[IDLE_IN_TRANSACTION] ?? 0);
      const mostIdle = waitRows.reduce((a, r) => (idle(r) > idle(a) ? r : a), waitRows[0]!);
      const verdicts = [
        { target: `1x (the seed's ~1,000 users): p99 request latency <= ${TARGET_P99_MS} ms`, measured: `${Number(first['p99 ms']).toFixed(1)} ms`, met: Number(first['p99 ms']) <= TARGET_P99_MS },
        { target: '1x: no errors', measured: `${first.errors} errors`, met: first.errors === 0 },
        { target: `${last.stage}: requests/s >= ${TARGET_DELIVERED * 100}% of those asked (${last.stage} the 1x rate)`, measured: `${Math.round(Number(last['requests/s']))} of ${Math.round(asked)} (${((Number(last['requests/s']) / asked) * 100).toFixed(0)}%)`, met: Number(last['requests/s']) >= TARGET_DELIVERED * asked },
        { target: `${last.stage}: p99 request latency <= ${TARGET_P99_MS} ms`, measured: `${Number(last['p99 ms']).toFixed(1)} ms`, met: Number(last['p99 ms']) <= TARGET_P99_MS },
        { target: "every stage: 'idle in transaction' below a third of the busy connections' samples", measured: `${idle(mostIdle)}% (${mostIdle.stage})`, met: idle(mostIdle) < 100 / 3 },
        { target: 'every accepted line stored exactly once', measured: exact ? 'exact' : 'MISMATCH', met: exact },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const rate = (key: 'commits' | 'posts') => overTime.slice(1).map((p, i): [number, number] => [p.t, (p[key] - overTime[i]![key]) / (p.t - overTime[i]!.t)]);
      const charts: Chart[] = [
        progressChart('rates', 'fleet: receiver requests/s and PostgreSQL transactions/s (stages: 1x, then doubling)', 'per second', [{ name: 'receiver POST requests/s', points: rate('posts') }, { name: 'PostgreSQL xact_commit/s', points: rate('commits') }]),
        progressChart('latency', `fleet: request latency per second, client side (target p99 <= ${TARGET_P99_MS} ms at 1x)`, 'ms', [{ name: 'p50', points: ticks.map((k) => [k.t, k.p50]) }, { name: 'p99', points: ticks.map((k) => [k.t, k.p99]) }]),
        ...processCharts('procs', 'fleet', Object.entries(procs).map(([name, summary]) => ({ name, summary, baseline: name === 'generator' }))),
      ];
      return {
        table, rows: stageRows, verdicts, charts, tables,
        notes: [
          `Stage 1x: each of ${workspaces.toLocaleString()} workspaces runs a command every ${intervalMs / 1000} s on average (exponential gaps), a state event with 20% of commands and a tutor call (5-50 KB prompt) with 3%; every line is posted at once, one request in flight per stream, as a caught-up shipper does. Later stages multiply the rate. A ${warmUp} s warm-up at 1x comes first and is not measured.`,
          'Latency is measured by the generator for its own requests (loopback); requests/s, events/s and errors count the real shippers too (receiver /metrics). xact/s is pg_stat_database.xact_commit, which backends flush about once a second, and includes the benchmark\'s own once-a-second query.',
          'The generator, the receiver, PostgreSQL and the real shippers share the same 2 cores: at the higher stages they compete for CPU, which the generator CPU column shows.',
        ],
      };
    } finally {
      await waits.stop();
      for (const s of shippers) if (s.exitCode === null) s.kill('SIGKILL');
      for (const sim of simulators) sim.stop();
      if (receiver.child.exitCode === null) await receiver.stop();
      await db.close();
    }
  },
};
