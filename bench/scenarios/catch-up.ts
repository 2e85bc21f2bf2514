// Scenario "catch-up": a workspace whose three JSONL files each hold a
// backlog (1 GB by default) goes through one ferry-shipper → ferry-receiver →
// PostgreSQL. In the same run, on the same rows: psql \copy of each file into
// its table, the three at once (the ceiling), and the naive pair (a shipper
// POSTing each line, a receiver INSERTing each event) on a sample of each
// file, its rate extrapolated to the whole backlog and labelled so.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TABLES } from '../../receiver/ingest/records.js';
import type { LineStream } from '../../shared/wire.js';
import { backlog, type Backlog } from '../lib/backlog.js';
import { startBenchDb, type BenchDb } from '../lib/bench-db.js';
import { barsFromRows, processCharts, progressChart, type Chart } from '../lib/charts.js';
import { copyFileOf, copyTarget } from '../lib/copy-file.js';
import { every, until } from '../lib/poll.js';
import { sampleProcess, sampleProcessTree, type ProcSummary } from '../lib/proc-stats.js';
import { BENCH_TOKEN, NAIVE_RECEIVER_BIN, NAIVE_SHIPPER_BIN, runToEnd, startListening, startReceiverProcess, startShipperProcess, stopChild } from '../lib/programs.js';
import { runtimeOf } from '../lib/runtime-dir.js';
import { receiverBreakdown, receiverRows, scrape } from '../lib/scrape.js';
import { MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario, ScenarioContext } from '../scenario.js';

const exec = promisify(execFile);
const WORKSPACE = 'catch-up';
const STREAMS: LineStream[] = ['commands', 'events', 'llm'];

type Backlogs = Record<LineStream, Backlog>;
type Progress = Array<[number, number]>;

interface Run {
  seconds: number;
  /** The receiver's own account of its time (ferry only). */
  breakdown?: Row[];
  /** Seconds until each stream's last row was committed. */
  done: Partial<Record<LineStream, number>>;
  progress: Progress;
  procs: Record<string, ProcSummary>;
}

const sum = (b: Backlogs, f: (x: Backlog) => number) => STREAMS.reduce((n, s) => n + f(b[s]), 0);

async function psqlCopies(ctx: ScenarioContext, db: BenchDb, files: Record<LineStream, string>, lines: Record<LineStream, number>): Promise<Run> {
  await db.reset();
  const pgStats = sampleProcessTree(await db.postmasterPid());
  const progress: Progress = [];
  const t0 = performance.now();
  // Rows inside a COPY are invisible until it commits; the server counts them as it goes.
  // A finished COPY leaves the view: from then on its table counts whole.
  const copied = new Map<string, number>();
  const done: Run['done'] = {};
  const watch = every(500, async () => {
    const { rows } = await db.pool.query<{ rel: string; n: string }>('SELECT relid::regclass::text AS rel, tuples_processed AS n FROM pg_stat_progress_copy');
    for (const r of rows) if (!STREAMS.some((s) => done[s] !== undefined && copyTarget(s).table === r.rel)) copied.set(r.rel, Number(r.n));
    progress.push([(performance.now() - t0) / 1000, [...copied.values()].reduce((a, b) => a + b, 0)]);
  });
  await Promise.all(STREAMS.map(async (s) => {
    const { table, columns } = copyTarget(s);
    await exec('psql', [db.url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${table} (${columns}) FROM '${files[s]}'`], { maxBuffer: 1 << 20 });
    done[s] = (performance.now() - t0) / 1000;
    copied.set(table, lines[s]);
    ctx.progress(`psql \\copy ${table} done`);
  }));
  const seconds = (performance.now() - t0) / 1000;
  await watch.stop();
  return { seconds, done, progress, procs: { PostgreSQL: pgStats.stop() } };
}

/** ferry on the backlogs given (all three, or one stream alone). */
async function ferry(ctx: ScenarioContext, db: BenchDb, backlogs: Partial<Backlogs>, name = 'ferry'): Promise<Run> {
  const streams = STREAMS.filter((s) => backlogs[s] !== undefined);
  await db.reset();
  const dirs = await runtimeOf(join(ctx.workDir, name), backlogs);
  const receiver = await startReceiverProcess(db.url, BENCH_TOKEN);
  const receiverStats = sampleProcess(receiver.child.pid!);
  const pgStats = sampleProcessTree(await db.postmasterPid());
  const t0 = performance.now();
  const shipper = startShipperProcess({ WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, ...dirs });
  const shipperStats = sampleProcess(shipper.pid!);
  const progress: Progress = [];
  const done: Run['done'] = {};
  const total = streams.reduce((n, s) => n + backlogs[s]!.lines, 0);
  let lastSaid = 0;
  await until(async () => {
    const rows = await receiverRows(receiver.url);
    const t = (performance.now() - t0) / 1000;
    const committed = streams.reduce((n, s) => n + (rows[TABLES[s].table] ?? 0), 0);
    progress.push([t, committed]);
    for (const s of streams) if (done[s] === undefined && (rows[TABLES[s].table] ?? 0) >= backlogs[s]!.lines) done[s] = t;
    if (t - lastSaid >= 10) {
      lastSaid = t;
      ctx.progress(`${name}: ${((committed / total) * 100).toFixed(0)}% of ${total.toLocaleString()} rows`);
    }
    return streams.every((s) => done[s] !== undefined) ? true : undefined;
  }, { everyMs: 200, timeoutS: 3600, alive: () => shipper.exitCode === null, what: `${name} catch-up` });
  const seconds = (performance.now() - t0) / 1000;
  const procs = { 'ferry-shipper': shipperStats.stop(), 'ferry-receiver': receiverStats.stop(), PostgreSQL: pgStats.stop() };
  const breakdown = receiverBreakdown(await scrape(receiver.url), streams.map((s) => TABLES[s].table));
  await stopChild(shipper);
  await receiver.stop();
  for (const s of streams) {
    const n = await db.count(TABLES[s].table);
    if (n !== backlogs[s]!.lines) throw new Error(`ferry stored ${n} ${s} rows of ${backlogs[s]!.lines}`);
  }
  return { seconds, done, progress, procs, breakdown };
}

/** The naive pair on the first `sample` lines of each file, all three files at once. */
async function naivePair(db: BenchDb, backlogs: Backlogs, sample: number): Promise<Record<LineStream, { lines: number; seconds: number }>> {
  await db.reset();
  const receiver = await startListening(NAIVE_RECEIVER_BIN, { DATABASE_URL: db.url }, 'naive receiver listening');
  try {
    const runs = await Promise.all(STREAMS.map((s) => runToEnd<{ lines: number; seconds: number }>(NAIVE_SHIPPER_BIN, {
      FILE: backlogs[s].path, URL: `${receiver.url}/${s}`, WORKSPACE_ID: WORKSPACE, MAX_LINES: String(sample),
    })));
    return Object.fromEntries(STREAMS.map((s, i) => [s, runs[i]!])) as Record<LineStream, { lines: number; seconds: number }>;
  } finally {
    await receiver.stop();
  }
}

export const catchUp: Scenario = {
  name: 'catch-up',
  description: 'a 1 GB backlog in each JSONL file through shipper → receiver → PostgreSQL vs psql \\copy (ceiling) and the naive pair (one POST per line, one INSERT per event)',
  async run(ctx) {
    const bytes = ctx.int('BENCH_CATCHUP_BYTES', 1_000_000_000);
    const sample = ctx.int('BENCH_CATCHUP_NAIVE_LINES', 10_000);
    const backlogs = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await backlog(s, bytes, 1, ctx.progress)]))) as Backlogs;
    ctx.progress('COPY text of the same rows for psql (cached)');
    const files = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await copyFileOf(backlogs[s], s, WORKSPACE)]))) as Record<LineStream, string>;
    const totalLines = sum(backlogs, (b) => b.lines);
    const totalBytes = sum(backlogs, (b) => b.bytes);
    const db = await startBenchDb();
    try {
      ctx.progress('psql \\copy of the three files at once');
      const copy = await psqlCopies(ctx, db, files, Object.fromEntries(STREAMS.map((s) => [s, backlogs[s].lines])) as Record<LineStream, number>);
      ctx.progress('ferry: one shipper, three files, one receiver');
      const f = await ferry(ctx, db, backlogs);
      // Alone, each stream's CPU is the receiver's and PostgreSQL's for that stream's rows only.
      const alone: Row[] = [];
      for (const s of STREAMS) {
        ctx.progress(`ferry: ${s} alone`);
        const one = await ferry(ctx, db, { [s]: backlogs[s] }, `ferry-${s}`);
        const perRow = (name: string) => (one.procs[name]!.cpuSeconds / backlogs[s].lines) * 1e6;
        alone.push({
          stream: s, rows: backlogs[s].lines, seconds: Number(one.seconds.toFixed(1)),
          'receiver CPU s': one.procs['ferry-receiver']!.cpuSeconds, 'PostgreSQL CPU s': one.procs.PostgreSQL!.cpuSeconds,
          'receiver µs/row': perRow('ferry-receiver'), 'PostgreSQL µs/row': perRow('PostgreSQL'),
          'receiver / PostgreSQL': Number((perRow('ferry-receiver') / perRow('PostgreSQL')).toFixed(2)),
        });
      }
      ctx.progress(`naive pair on the first ${sample.toLocaleString()} lines of each file`);
      const naive = await naivePair(db, backlogs, sample);

      const rows: Row[] = [];
      const row = (method: string, seconds: number, done: Run['done'], procs: Record<string, ProcSummary>, extra: Row = {}) => rows.push({
        method, rows: totalLines, 'MB': totalBytes / 1e6, seconds: Number(seconds.toFixed(1)), 'rows/s': totalLines / seconds, 'MB/s': totalBytes / seconds / 1e6,
        ...Object.fromEntries(STREAMS.map((s) => [`${s} s`, Number((done[s] ?? 0).toFixed(1))])),
        ...Object.fromEntries(Object.entries(procs).flatMap(([p, st]) => [[`${p} CPU s`, st.cpuSeconds], [`${p} peak MiB`, st.peakRssBytes / MIB]])),
        ...extra,
      });
      row('psql \\copy, 3 files at once (ceiling)', copy.seconds, copy.done, copy.procs);
      row('ferry (shipper → receiver → COPY)', f.seconds, f.done, f.procs);
      // Each naive shipper runs its file alone at its sampled rate; the three run at once, so the slowest sets the time.
      const naiveDone = Object.fromEntries(STREAMS.map((s) => [s, backlogs[s].lines / (naive[s].lines / naive[s].seconds)])) as Run['done'];
      row(`naive pair (extrapolated from ${sample.toLocaleString()} lines per file)`, Math.max(...STREAMS.map((s) => naiveDone[s]!)), naiveDone, {}, { measured: 'sample' });
      const rate = (i: number) => Number(rows[i]!['rows/s']);
      for (const r of rows) r['vs \\copy'] = `${((Number(r['rows/s']) / rate(0)) * 100).toFixed(0)}%`;
      const title = `catch-up: ${STREAMS.map((s) => `${s} ${(backlogs[s].bytes / 1e6).toFixed(0)} MB (${backlogs[s].lines.toLocaleString()} lines)`).join(', ')}, durable settings`;
      const table = printTable(title, rows);
      const naiveRows = STREAMS.map((s) => ({ stream: s, 'sample lines': naive[s].lines, 'sample seconds': Number(naive[s].seconds.toFixed(2)), 'lines/s': naive[s].lines / naive[s].seconds, 'backlog lines': backlogs[s].lines, 'extrapolated s': naiveDone[s]! }));
      printTable('naive pair: the measured samples', naiveRows);
      printTable("ferry-receiver's own account (its /metrics)", f.breakdown!);
      printTable('each stream alone through ferry: CPU per row of the receiver and of PostgreSQL storing it', alone);

      const vsCopy = rate(1) / rate(0);
      const vsNaive = rate(1) / rate(2);
      const verdicts = [
        { target: 'ferry >= 70% of psql \\copy (rows/s)', measured: `${(vsCopy * 100).toFixed(0)}%`, met: vsCopy >= 0.7 },
        { target: 'ferry >= 20x the naive pair', measured: `${vsNaive.toFixed(0)}x`, met: vsNaive >= 20 },
        ...alone.map((a) => ({
          target: `${a.stream} alone: receiver CPU per row below PostgreSQL's`,
          measured: `${Number(a['receiver µs/row']).toFixed(1)} vs ${Number(a['PostgreSQL µs/row']).toFixed(1)} µs`,
          met: Number(a['receiver µs/row']) < Number(a['PostgreSQL µs/row']),
        })),
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const charts: Chart[] = [
        barsFromRows('rate', 'catch-up: rows/s, whole backlog', 'rows/s', rows, 'rows/s', (m) => !m.startsWith('ferry'), (r) => (r.measured === 'sample' ? 'extrapolated' : undefined)),
        progressChart('progress', 'catch-up: rows committed over time', 'rows', [{ name: 'ferry (rows committed)', points: f.progress }, { name: 'psql \\copy (rows copied; committed at the end of each file)', baseline: true, points: copy.progress }]),
        ...processCharts('ferry', 'ferry catch-up', Object.entries(f.procs).map(([name, summary]) => ({ name, summary }))),
        ...processCharts('copy', 'psql \\copy (baseline)', [{ name: 'PostgreSQL during \\copy', summary: copy.procs.PostgreSQL!, baseline: true }, { name: 'PostgreSQL during ferry', summary: f.procs.PostgreSQL! }]),
      ];
      return {
        table, rows, verdicts, charts,
        tables: { 'naive pair: the measured samples': naiveRows, "ferry-receiver's own account (its /metrics)": f.breakdown!, 'each stream alone through ferry: CPU per row of the receiver and of PostgreSQL storing it': alone },
        notes: [
          `The naive pair ran on the first ${sample.toLocaleString()} lines of each file only; its whole-backlog time is backlog lines / sampled lines per second, per file, the slowest file setting the total.`,
          'psql \\copy does not fold state events into workspace_status; ferry does. PostgreSQL figures include every backend (CPU) and proportional memory (PSS).',
          'Each stream alone: the same backlog through one shipper and one receiver, the other two files absent, so CPU per row is that stream\'s. Two processes on two shared cores: CPU seconds grow when the machine is loaded, for both alike.',
        ],
      };
    } finally {
      await db.close();
    }
  },
};
