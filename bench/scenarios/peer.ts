// Scenario "peer": ferry beside rsyslog (imfile → mmjsonparse → ompgsql, the
// widely deployed file → PostgreSQL shipper that runs here) on the same
// backlog of command events (the first 100 MB of the catch-up's file), with
// psql \copy of the same rows as the ceiling; then the same crash schedule
// for both: SIGKILL mid-backlog, restart at once, and count the lines lost
// and doubled. (The latency scenario runs rsyslog through the same latency test.)

import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { commandBacklog, type Backlog } from '../lib/backlog.js';
import { startBenchDb, type BenchDb } from '../lib/bench-db.js';
import { barsFromRows, processCharts, progressChart, type Chart } from '../lib/charts.js';
import { copyFileOf, copyTarget } from '../lib/copy-file.js';
import { killAndRestart } from '../lib/crash.js';
import { sleep, until } from '../lib/poll.js';
import { sampleProcess, sampleProcessTree, type ProcSummary } from '../lib/proc-stats.js';
import { BENCH_TOKEN, type Program, startReceiverProcess, startWatchedShipper, stopChild } from '../lib/programs.js';
import { startRsyslog } from '../lib/rsyslog.js';
import { runtimeOf } from '../lib/runtime-dir.js';
import { scrape, total } from '../lib/scrape.js';
import { MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario, ScenarioContext } from '../scenario.js';

const WORKSPACE = 'peer';
const FERRY = 'ferry (shipper → receiver → COPY)';
const RSYSLOG = 'rsyslog imfile → mmjsonparse → ompgsql';

/** One process of a shipper under test. */
interface Running {
  child: ChildProcess;
  stop(): Promise<void>;
  exited(): boolean;
  /** Has this process moved data yet? (`rowsAtRestart`: rows in the table when it started.) */
  resumed(rowsAtRestart: number): Promise<boolean>;
}

/** A shipper under test: started over its file (again after a crash, with its state), and how to see it move. */
interface System {
  name: string;
  start(): Promise<Running>;
  /** Lines the system sent again after the restart, when it can say. */
  resent?(): Promise<number>;
  close(): Promise<void>;
  /** Processes beside the shipper to chart (the receiver). */
  helpers(): Record<string, number>;
}

async function ferrySystem(ctx: ScenarioContext, db: BenchDb, backlog: Backlog, run: string): Promise<System> {
  const dirs = await runtimeOf(join(ctx.workDir, run), { commands: backlog });
  const receiver: Program = await startReceiverProcess(db.url, BENCH_TOKEN);
  return {
    name: FERRY,
    async start() {
      const { child, moved } = await startWatchedShipper({ WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, ...dirs });
      return {
        child, stop: async () => { await stopChild(child); }, exited: () => child.exitCode !== null,
        resumed: moved,
      };
    },
    resent: async () => total(await scrape(receiver.url), 'ferry_receiver_duplicates_total'),
    close: async () => { await receiver.stop(); },
    helpers: () => ({ 'ferry-receiver': receiver.child.pid! }),
  };
}

async function rsyslogSystem(ctx: ScenarioContext, db: BenchDb, backlog: Backlog, run: string): Promise<System> {
  const dir = join(ctx.workDir, run);
  await mkdir(dir, { recursive: true });
  return {
    name: RSYSLOG,
    async start() {
      const r = await startRsyslog({ workDir: dir, file: backlog.path, databaseUrl: db.url, workspaceId: WORKSPACE });
      return {
        child: r.child, stop: r.stop, exited: () => r.child.exitCode !== null,
        // ompgsql's open transaction dies with the process, so any new row is the new process's.
        resumed: async (rowsAtRestart) => (await db.count('command_log')) > rowsAtRestart,
      };
    },
    close: async () => undefined,
    helpers: () => ({}),
  };
}

interface Throughput {
  seconds: number;
  progress: Array<[number, number]>;
  procs: Record<string, ProcSummary>;
}

/** The whole backlog, undisturbed: seconds until every row is in, rows over time, CPU and memory. */
async function throughput(ctx: ScenarioContext, db: BenchDb, system: System, lines: number): Promise<Throughput> {
  await db.reset();
  const pgStats = sampleProcessTree(await db.postmasterPid());
  const t0 = performance.now();
  const proc = await system.start();
  const stats = { [system.name === FERRY ? 'ferry-shipper' : 'rsyslogd']: sampleProcess(proc.child.pid!), ...Object.fromEntries(Object.entries(system.helpers()).map(([n, pid]) => [n, sampleProcess(pid)])) };
  const progress: Array<[number, number]> = [];
  let lastSaid = 0;
  await until(async () => {
    const n = await db.count('command_log');
    const t = (performance.now() - t0) / 1000;
    progress.push([t, n]);
    if (t - lastSaid >= 15) {
      lastSaid = t;
      ctx.progress(`${system.name}: ${((n / lines) * 100).toFixed(0)}%`);
    }
    return n >= lines ? true : undefined;
  }, { everyMs: 250, timeoutS: 3600, alive: () => !proc.exited(), what: system.name });
  const seconds = (performance.now() - t0) / 1000;
  const procs = { ...Object.fromEntries(Object.entries(stats).map(([n, s]) => [n, s.stop()])), PostgreSQL: pgStats.stop() };
  await proc.stop();
  return { seconds, progress, procs };
}

/** SIGKILL at half the backlog, restart at once, run to the end; count what was lost and doubled. */
async function crashRun(ctx: ScenarioContext, db: BenchDb, system: System, lines: number): Promise<Row> {
  await db.reset();
  const t0 = performance.now();
  const first = await system.start();
  const killedAt = await until(async () => {
    const n = await db.count('command_log');
    return n >= lines / 2 ? n : undefined;
  }, { everyMs: 100, timeoutS: 3600, alive: () => !first.exited(), what: `${system.name} before the kill` });
  ctx.progress(`${system.name}: SIGKILL at ${killedAt.toLocaleString()} rows, restarting`);
  const rowsAtRestart = await db.count('command_log');
  const { next, resumeSeconds } = await killAndRestart(first.child, () => system.start(), (p) => p.resumed(rowsAtRestart), 30);
  // The end: every line in, or nothing new for a while (a shipper that lost lines never gets there).
  let last = -1;
  let still = performance.now();
  for (;;) {
    const { distinct } = await db.commandRows();
    if (distinct >= lines) break;
    if (distinct !== last) { last = distinct; still = performance.now(); }
    if (performance.now() - still > 15_000 || next.exited()) break;
    await sleep(500);
  }
  await sleep(1000); // a late duplicate still shows
  const seconds = (performance.now() - t0) / 1000;
  const { rows, distinct } = await db.commandRows();
  await next.stop();
  const resent = system.resent ? await system.resent() : undefined;
  return { method: system.name, lines, 'rows at SIGKILL': killedAt, 'rows stored': rows, lost: lines - distinct, doubled: rows - distinct, ...(resent === undefined ? {} : { 're-sent lines': resent }), 'resume s': resumeSeconds === undefined ? 'never (nothing more sent)' : Number(resumeSeconds.toFixed(2)), 'total s': Number(seconds.toFixed(1)) };
}

export const peer: Scenario = {
  name: 'peer',
  description: 'ferry vs rsyslog imfile → ompgsql on the same backlog (psql \\copy the ceiling), and SIGKILL mid-backlog for both: lines lost and doubled',
  async run(ctx) {
    const backlog = await commandBacklog(ctx.int('BENCH_PEER_BYTES', 100_000_000), 1, ctx.progress);
    const db = await startBenchDb();
    const rows: Row[] = [];
    const row = (method: string, seconds: number, procs: Record<string, ProcSummary> = {}) => rows.push({
      method, rows: backlog.lines, seconds: Number(seconds.toFixed(2)), 'rows/s': backlog.lines / seconds, 'MB/s': backlog.bytes / seconds / 1e6,
      ...Object.fromEntries(Object.entries(procs).flatMap(([p, st]) => [[`${p} CPU s`, st.cpuSeconds], [`${p} peak MiB`, st.peakRssBytes / MIB]])),
    });
    try {
      ctx.progress('psql \\copy of the same rows');
      const { table, columns } = copyTarget('commands');
      const tsv = await copyFileOf(backlog, 'commands', WORKSPACE);
      await db.reset();
      const t = performance.now();
      await db.psqlCopy(table, columns, tsv);
      row('psql \\copy (ceiling)', (performance.now() - t) / 1000);

      const runs: Record<string, Throughput> = {};
      const crashes: Row[] = [];
      for (const [name, make] of [['ferry', ferrySystem], ['rsyslog', rsyslogSystem]] as const) {
        ctx.progress(`${name}: the whole backlog`);
        const s = await make(ctx, db, backlog, `${name}-throughput`);
        try {
          runs[s.name] = await throughput(ctx, db, s, backlog.lines);
        } finally {
          await s.close();
        }
        row(s.name, runs[s.name]!.seconds, runs[s.name]!.procs);
        ctx.progress(`${name}: the crash schedule`);
        const c = await make(ctx, db, backlog, `${name}-crash`);
        try {
          crashes.push(await crashRun(ctx, db, c, backlog.lines));
        } finally {
          await c.close();
        }
      }

      const rate = (i: number) => Number(rows[i]!['rows/s']);
      for (const r of rows) r['vs \\copy'] = `${((Number(r['rows/s']) / rate(0)) * 100).toFixed(0)}%`;
      const table1 = printTable(`peer: ${backlog.lines.toLocaleString()} command events (${(backlog.bytes / 1e6).toFixed(0)} MB) into PostgreSQL, durable settings`, rows);
      printTable('crash schedule: SIGKILL at half the backlog, restart at once', crashes);
      const vsRsyslog = rate(1) / rate(2);
      const ferryCrash = crashes[0]!;
      const verdicts = [
        { target: 'ferry >= 3x rsyslog imfile → ompgsql', measured: `${vsRsyslog.toFixed(1)}x`, met: vsRsyslog >= 3 },
        { target: 'ferry after SIGKILL: nothing lost, nothing doubled', measured: `${ferryCrash.lost} lost, ${ferryCrash.doubled} doubled`, met: ferryCrash.lost === 0 && ferryCrash.doubled === 0 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const ferryRun = runs[FERRY]!;
      const rsRun = runs[RSYSLOG]!;
      const charts: Chart[] = [
        barsFromRows('rate', 'peer: rows/s', 'rows/s', rows, 'rows/s', (m) => m !== FERRY),
        progressChart('progress', 'peer: rows in PostgreSQL over time', 'rows', [{ name: FERRY, points: ferryRun.progress }, { name: RSYSLOG, baseline: true, points: rsRun.progress }]),
        ...processCharts('procs', 'ferry vs rsyslog on the backlog', [
          ...Object.entries(ferryRun.procs).map(([name, summary]) => ({ name: `${name} (ferry run)`, summary })),
          ...Object.entries(rsRun.procs).map(([name, summary]) => ({ name: `${name} (rsyslog run)`, summary, baseline: true })),
        ]),
        { kind: 'bar', id: 'crash', title: 'after SIGKILL mid-backlog: lines lost + doubled', y: 'lines', bars: crashes.map((c) => ({ label: String(c.method), value: Number(c.lost) + Number(c.doubled), baseline: c.method !== FERRY })) },
      ];
      return {
        table: table1, rows, verdicts, charts,
        tables: { 'crash schedule: SIGKILL at half the backlog, restart at once': crashes },
        notes: [
          `The backlog is the first ${(backlog.bytes / 1e6).toFixed(0)} MB of the catch-up scenario's command-log file: rsyslog, at one INSERT per line, would take hours on the whole gigabyte.`,
          "rsyslog's config (bench/lib/rsyslog.ts) persists imfile's position every 1,000 lines and queues in memory, its usual setup; 'resume s' is from the restart to the first new row (rsyslog) or the first batch accepted (ferry).",
          're-sent lines are the lines the receiver found already committed and skipped (ferry_receiver_duplicates_total).',
        ],
      };
    } finally {
      await db.close();
    }
  },
};
