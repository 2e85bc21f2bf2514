// Scenario "growth": does ingest stay fast as command_log grows? command_log
// is filled with BENCH_GROWTH_ROWS rows over BENCH_GROWTH_DAYS days (one COPY
// without indexes, then the indexes built), then ferry's ingest rate and psql
// \copy's are measured, in alternating rounds, into empty tables and into the
// filled ones, in two layouts: partitioned (by day, or every
// BENCH_GROWTH_PARTITION_HOURS), and unpartitioned (every
// row in one partition for all time: what an upgraded database holds until
// its history partition ages out). Then the fleet scenario's load runs while
// a retention run drops the oldest partitions, and bytes on disk are
// measured per command event and per tutor call, with the two ways of making
// rows cheaper side by side (rows sorted by (workspace_id, time); lz4).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { spanPartitions } from '../../dev/partition-span.js';
import { migrate } from '../../receiver/db/migrate.js';
import { applyRetention, listPartitions, partitionPolicy, tableBytes, type PartitionPolicy } from '../../receiver/db/partitions.js';
import { inTransaction } from '../../receiver/db/transaction.js';
import { psqlCopy, resetTables, settle, startBenchDb } from '../lib/bench-db.js';
import { barsFromRows, progressChart } from '../lib/charts.js';
import { sortedVersusInterleaved, tutorCallCompression } from '../lib/cheaper-rows.js';
import { startFleetGenerator, type FleetEvent } from '../lib/fleet-run.js';
import { COMMAND_COLUMNS, indexBytes, measuredLines, preload } from '../lib/growth-data.js';
import { postCommandStreams } from '../lib/post-streams.js';
import { BENCH_TOKEN, startReceiverProcess } from '../lib/programs.js';
import { max } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import { sampleWaits } from '../lib/wait-events.js';
import type { Row, Scenario } from '../scenario.js';

const DAY = 86_400_000;
const TARGETS = { keepsRate: 0.9, shareOfCopy: 0.8, dropP99Ms: 250 };
/** Everything kept, partitions of `hours` (BENCH_GROWTH_PARTITION_HOURS, the receivers' PARTITION_INTERVAL_HOURS). */
const keepAll = (hours: number): PartitionPolicy => partitionPolicy({ partitionIntervalHours: hours, maxFutureSeconds: 86_400, commandLogRetentionDays: 0, stateTimelineRetentionDays: 0, llmInteractionsRetentionDays: 0, ingestRejectsRetentionDays: 0 });

type Layout = 'partitioned' | 'unpartitioned';
type Fill = 'empty' | 'filled';

interface Target {
  layout: Layout;
  fill: Fill;
  url: string;
  pool: pg.Pool;
}

interface Load {
  seconds: number;
  /** Rows in command_log before this load. */
  before: number;
}

interface FerryLoad extends Load {
  hitRatio: number;
  waits: Record<string, number>;
}

const percent = (share: number) => `${(share * 100).toFixed(0)}%`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const count = async (pool: pg.Pool) => Number((await pool.query('SELECT count(*) AS n FROM command_log')).rows[0].n);

/** Blocks of command_log (every partition, heap and indexes) found in shared buffers, and read. */
async function blockCounters(pool: pg.Pool): Promise<{ hit: number; read: number }> {
  const { rows } = await pool.query(`
    SELECT coalesce(sum(heap_blks_hit + coalesce(idx_blks_hit, 0)), 0) AS hit, coalesce(sum(heap_blks_read + coalesce(idx_blks_read, 0)), 0) AS read
    FROM pg_statio_user_tables WHERE relid IN (SELECT relid FROM pg_partition_tree('command_log'))`);
  return { hit: Number(rows[0].hit), read: Number(rows[0].read) };
}

export const growth: Scenario = {
  name: 'growth',
  description: 'ingest into a command_log of 20M rows over 30 days vs empty, partitioned vs unpartitioned, ferry vs psql \\copy; fleet p99 while retention drops partitions; bytes per row',
  async run(ctx) {
    const rows = ctx.int('BENCH_GROWTH_ROWS', 20_000_000);
    const days = ctx.int('BENCH_GROWTH_DAYS', 30);
    const workspaces = ctx.int('BENCH_GROWTH_WORKSPACES', 1000);
    const events = ctx.int('BENCH_GROWTH_EVENTS', 1_000_000);
    const streams = ctx.int('BENCH_GROWTH_STREAMS', 32);
    const batchBytes = ctx.int('BENCH_GROWTH_BATCH_BYTES', 1 << 20);
    const rounds = ctx.int('BENCH_GROWTH_ROUNDS', 3);
    const dropDays = ctx.int('BENCH_GROWTH_DROP_DAYS', Math.floor(days / 3));
    const fleetSeconds = ctx.int('BENCH_GROWTH_FLEET_SECONDS', 40);
    const sortRows = ctx.int('BENCH_GROWTH_SORT_ROWS', 1_000_000);
    const tutorCalls = ctx.int('BENCH_GROWTH_TUTOR_CALLS', 2_000);
    const partitionHours = ctx.int('BENCH_GROWTH_PARTITION_HOURS', 24);
    const keep = keepAll(partitionHours);
    const start = Date.now();

    const db = await startBenchDb();
    const targets: Target[] = [];
    try {
      for (const layout of ['partitioned', 'unpartitioned'] as const) {
        for (const fill of ['empty', 'filled'] as const) {
          const url = await db.server.createDatabase(`${layout}_${fill}`);
          const pool = new pg.Pool({ connectionString: url, max: 3 });
          await migrate(pool);
          // A new database keeps everything before tonight in its history partition: that is the unpartitioned layout.
          if (layout === 'partitioned') await spanPartitions(pool, keep, days + 1, start);
          targets.push({ layout, fill, url, pool });
        }
      }

      // 1. The filled tables: `rows` rows over `days` days, ending an hour before the measured lines.
      const onDisk: Row[] = [];
      for (const t of targets.filter((x) => x.fill === 'filled')) {
        ctx.progress(`${t.layout}: preloading ${rows.toLocaleString()} rows over ${days} days`);
        const loaded = await preload(t.pool, { rows, workspaces, from: start - days * DAY, to: start - 3_600_000, progress: ctx.progress });
        const bytes = (await tableBytes(t.pool)).command_log;
        const partitions = (await inTransaction(t.pool, listPartitions)).filter((p) => p.table === 'command_log').length;
        onDisk.push({
          layout: t.layout, rows, partitions, 'COPY s (no indexes)': loaded.copySeconds, 'index build s': loaded.indexSeconds,
          'bytes on disk': bytes, 'index bytes': await indexBytes(t.pool, 'command_log'), 'bytes per command event': bytes / rows,
        });
      }
      printTable('command_log filled (bytes: heap, indexes, TOAST of every partition)', onDisk);

      // 2. Ingest rates: ferry and psql \copy of the same rows, alternating, into each table.
      const lines = measuredLines(events, streams, workspaces, start, batchBytes);
      const tsvFile = join(ctx.workDir, 'measured.tsv');
      await writeFile(tsvFile, lines.tsv);
      const copies = new Map<Target, Load[]>();
      const ferries = new Map<Target, FerryLoad[]>();
      const prepare = async (t: Target) => (t.fill === 'empty' ? resetTables(t.pool) : settle(t.pool));
      // The first load of a run is slower everywhere (a cold receiver, cold caches): one goes first, unmeasured.
      const warmUp = targets.find((t) => t.fill === 'empty')!;
      ctx.progress('warm-up: one ferry load, not measured');
      // Room for every stream's request at once (the default budget, 32 MiB, would turn some away with 503, and the shipper-like client waits a second each).
      const receiverEnv = { INGEST_MEMORY_BYTES: String(streams * batchBytes * 3), PARTITION_INTERVAL_HOURS: String(partitionHours) };
      const warm = await startReceiverProcess(warmUp.url, BENCH_TOKEN, receiverEnv);
      await postCommandStreams(warm.url, BENCH_TOKEN, lines.streams.map((s) => ({ ...s, sourceId: 'warm-up' })));
      await warm.stop();
      for (let round = 1; round <= rounds; round++) {
        for (const t of targets) {
          const label = `round ${round}/${rounds}: ${t.layout}, ${t.fill}`;
          ctx.progress(`${label}: psql \\copy of ${lines.rows.toLocaleString()} rows`);
          await prepare(t);
          let before = await count(t.pool);
          let clock = performance.now();
          await psqlCopy(t.url, 'command_log', COMMAND_COLUMNS, tsvFile);
          copies.set(t, [...(copies.get(t) ?? []), { seconds: (performance.now() - clock) / 1000, before }]);

          ctx.progress(`${label}: ferry, ${streams} streams`);
          await prepare(t);
          before = await count(t.pool);
          const receiver = await startReceiverProcess(t.url, BENCH_TOKEN, receiverEnv);
          const waits = sampleWaits(t.pool, 'ferry-receiver');
          const blocks = await blockCounters(t.pool);
          clock = performance.now();
          await postCommandStreams(receiver.url, BENCH_TOKEN, lines.streams.map((s) => ({ ...s, sourceId: `growth-${round}` })));
          const seconds = (performance.now() - clock) / 1000;
          const after = await blockCounters(t.pool);
          const w = waits.take();
          await waits.stop();
          await receiver.stop();
          if ((await count(t.pool)) !== before + lines.rows) throw new Error(`${label}: ferry did not store every row once`);
          const hit = after.hit - blocks.hit;
          ferries.set(t, [...(ferries.get(t) ?? []), { seconds, before, hitRatio: hit / Math.max(1, hit + after.read - blocks.read), waits: w.shares }]);
        }
      }

      const rateRows: Row[] = [];
      const roundRows: Row[] = [];
      const profileRows: Row[] = [];
      const ferryRate = new Map<Target, number>();
      const copyRate = new Map<Target, number>();
      for (const t of targets) {
        const f = ferries.get(t)!;
        const c = copies.get(t)!;
        ferryRate.set(t, lines.rows / median(f.map((x) => x.seconds)));
        copyRate.set(t, lines.rows / median(c.map((x) => x.seconds)));
        f.forEach((x, i) => roundRows.push({ round: i + 1, layout: t.layout, table: t.fill, 'rows before': x.before, 'psql \\copy s': c[i]!.seconds, 'ferry s': x.seconds, 'ferry vs \\copy': percent(c[i]!.seconds / x.seconds) }));
        const last = f.at(-1)!;
        const written = (await inTransaction(t.pool, listPartitions)).find((p) => p.table === 'command_log' && p.from <= start - 1_800_000 && start - 1_800_000 < p.to)!;
        profileRows.push({
          layout: t.layout, table: t.fill, 'index bytes of the partition written to': await indexBytes(t.pool, written.name), 'buffer hit ratio (command_log)': percent(last.hitRatio), ...Object.fromEntries(Object.entries(last.waits).slice(0, 4).map(([k, v]) => [k, `${v}%`])) });
      }
      for (const t of targets) {
        const empty = targets.find((x) => x.layout === t.layout && x.fill === 'empty')!;
        rateRows.push({
          method: `ferry, ${t.layout}, ${t.fill === 'empty' ? 'empty table' : `${(rows / 1e6).toFixed(rows < 1e7 ? 1 : 0)}M rows`}`,
          'rows/s': ferryRate.get(t)!, 'psql \\copy rows/s': copyRate.get(t)!, 'vs \\copy': percent(ferryRate.get(t)! / copyRate.get(t)!),
          'vs empty table': percent(ferryRate.get(t)! / ferryRate.get(empty)!),
        });
      }
      const table = printTable(`growth: ${lines.rows.toLocaleString()} command events (${streams} streams) into empty tables and into ${rows.toLocaleString()} rows over ${days} days; median of ${rounds} rounds`, rateRows);
      printTable('rounds', roundRows);
      printTable("profile of ferry's last round: buffer hits, and what the receiver's connections waited on (% of samples)", profileRows);

      // 3. The fleet while a retention run drops the oldest partitions of the filled, partitioned table.
      const fleetTarget = targets.find((t) => t.layout === 'partitioned' && t.fill === 'filled')!;
      const fleet = await fleetDuringDrop(ctx, fleetTarget, { workspaces, seconds: fleetSeconds, keepDays: days - dropDays, partitionHours });
      printTable('fleet (1,000 workspaces at 1x) before, while and after retention drops the oldest partitions', fleet.stages);

      // 4. Cheaper rows.
      const cheaperUrl = await db.server.createDatabase('cheaper');
      const cheaper = new pg.Pool({ connectionString: cheaperUrl, max: 2 });
      let sortRowsTable: Row[];
      let tutorRows: Row[];
      try {
        await migrate(cheaper);
        sortRowsTable = await sortedVersusInterleaved(cheaper, cheaperUrl, { rows: sortRows, workspaces, rounds, dir: ctx.workDir, progress: ctx.progress });
        tutorRows = await tutorCallCompression(cheaper, { calls: tutorCalls, progress: ctx.progress });
      } finally {
        await cheaper.end();
      }
      printTable('cheaper rows: the same command rows as a fleet writes them and sorted (psql \\copy into an empty table)', sortRowsTable);
      printTable('cheaper rows: tutor calls per compression the server has', tutorRows);

      const pFilled = targets.find((t) => t.layout === 'partitioned' && t.fill === 'filled')!;
      const pEmpty = targets.find((t) => t.layout === 'partitioned' && t.fill === 'empty')!;
      const keeps = ferryRate.get(pFilled)! / ferryRate.get(pEmpty)!;
      const share = ferryRate.get(pFilled)! / copyRate.get(pFilled)!;
      const verdicts = [
        { target: `partitioned: ferry into ${(rows / 1e6).toFixed(1)}M rows >= ${percent(TARGETS.keepsRate)} of its rate into empty tables`, measured: percent(keeps), met: keeps >= TARGETS.keepsRate },
        { target: `partitioned: ferry >= ${percent(TARGETS.shareOfCopy)} of psql \\copy`, measured: percent(share), met: share >= TARGETS.shareOfCopy },
        { target: `fleet p99 <= ${TARGETS.dropP99Ms} ms while partitions are dropped`, measured: `${fleet.dropP99.toFixed(1)} ms`, met: fleet.dropP99 <= TARGETS.dropP99Ms && fleet.dropped > 0 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));

      return {
        table, rows: rateRows, verdicts,
        tables: {
          'command_log filled (bytes: heap, indexes, TOAST of every partition)': onDisk,
          'rounds (psql \\copy, then ferry, per table)': roundRows,
          "profile of ferry's last round: buffer hits, and what the receiver's connections waited on (% of samples)": profileRows,
          'fleet before, while and after retention drops the oldest partitions': fleet.stages,
          'cheaper rows: command rows as a fleet writes them vs sorted (psql \\copy into an empty table)': sortRowsTable,
          'cheaper rows: tutor calls per compression the server has': tutorRows,
        },
        charts: [
          barsFromRows('rates', 'growth: rows/s into each table, ferry and psql \\copy', 'rows/s',
            rateRows.flatMap((r) => [{ method: String(r.method), 'rows/s': r['rows/s']! }, { method: String(r.method).replace('ferry', 'psql \\copy'), 'rows/s': r['psql \\copy rows/s']! }]),
            'rows/s', (m) => m.startsWith('psql')),
          progressChart('drop', `fleet request latency per second (retention starts at ${fleet.dropStartT.toFixed(0)} s, ends at ${fleet.dropEndT.toFixed(0)} s)`, 'ms', [
            { name: 'p50', points: fleet.ticks.map((k) => [k.t, k.p50]) }, { name: 'p99', points: fleet.ticks.map((k) => [k.t, k.p99]) },
          ]),
        ],
        notes: [
          `The unpartitioned layout is a new database's: command_log is one partition for every time before tonight, the state of an upgraded database until its history partition ages out (its COPY routes rows like the partitioned one's). The partitioned layout has a partition per day, ${days} back.`,
          `Each filled table held ${rows.toLocaleString()} rows when the rounds began; every load into it adds ${lines.rows.toLocaleString()} more (the rounds table shows the count before each). Empty tables are truncated before each load.`,
          `Measured lines: ${streams} workspaces among the fleet's ${workspaces}, stamped in the last hour, posted as ${Math.round(batchBytes / 1024)} KiB requests, one in flight per workspace; psql \\copy loads the same rows in the same order.`,
          `The retention run is the receiver's own (applyRetention), started by the benchmark at the stage's start, with command_log's retention at ${days - dropDays} days: it detached and dropped ${fleet.dropped} partitions in ${fleet.dropSeconds.toFixed(1)} s. "p99 during the drop" is the highest per-second p99 while it ran; the stage's own p99 is beside it.`,
          `Bytes per tutor call are for tutor calls with 5-50 KB prompts of manifest-like text (dev/workload.ts, prose); the fleet's own tutor calls are 'x' repeated and compress a hundredfold.`,
        ],
      };
    } finally {
      await Promise.all(targets.map((t) => t.pool.end()));
      await db.close();
    }
  },
};

interface DropResult {
  stages: Row[];
  ticks: Array<{ t: number; p50: number; p99: number }>;
  dropped: number;
  dropSeconds: number;
  dropStartT: number;
  dropEndT: number;
  dropP99: number;
}

/** Warm-up, then stages before, during and after a retention run that drops the partitions older than `keepDays`. */
async function fleetDuringDrop(ctx: Parameters<Scenario['run']>[0], t: Target, o: { workspaces: number; seconds: number; keepDays: number; partitionHours: number }): Promise<DropResult> {
  const receiver = await startReceiverProcess(t.url, BENCH_TOKEN, { PARTITION_INTERVAL_HOURS: String(o.partitionHours) });
  const keep = keepAll(o.partitionHours);
  const names = ['warm-up', 'before the drop', 'retention running', 'after'];
  const stages = [{ scale: 1, seconds: 15, warmUp: true }, { scale: 1, seconds: 20 }, { scale: 1, seconds: o.seconds }, { scale: 1, seconds: 20 }];
  ctx.progress(`fleet: ${o.workspaces} workspaces at 1x; retention at the third stage drops what is older than ${o.keepDays} days`);
  const generator = startFleetGenerator({ url: receiver.url, token: BENCH_TOKEN, workspaces: o.workspaces, intervalMs: 4000, stages });
  const ticks: DropResult['ticks'] = [];
  const rows: Row[] = [];
  let retention: Promise<void> | undefined;
  let drop = { dropped: 0, seconds: 0, startT: 0, endT: 0 };
  try {
    for await (const e of generator.events as AsyncIterable<FleetEvent>) {
      if (e.type === 'tick') ticks.push({ t: e.t, p50: e.p50!, p99: e.p99! });
      if (e.type === 'stage-start' && e.stage === 2) {
        const policy = { ...keep, retentionMs: { ...keep.retentionMs, command_log: o.keepDays * DAY } };
        // In the generator's time: its ticks are stamped by it.
        const startT = e.t;
        const started = performance.now();
        retention = applyRetention(t.pool, policy, Date.now()).then((dropped) => {
          const endT = startT + (performance.now() - started) / 1000;
          drop = { dropped: dropped.length, seconds: endT - startT, startT, endT };
          ctx.progress(`fleet: retention dropped ${dropped.length} partitions in ${(endT - startT).toFixed(1)} s`);
        });
      }
      if (e.type === 'stage-end' && !e.warmUp) rows.push({ stage: names[e.stage!]!, seconds: e.seconds!, requests: e.requests!, errors: e.errors!, 'p50 ms': e.p50!, 'p99 ms': e.p99!, 'max ms': e.max! });
    }
    await generator.exited;
    await retention;
  } finally {
    if (generator.child.exitCode === null) generator.child.kill('SIGKILL');
    await receiver.stop();
  }
  // A tick is stamped at the end of its second.
  const during = ticks.filter((k) => k.t >= drop.startT && k.t - 1 <= drop.endT);
  const dropP99 = max(during.map((k) => k.p99));
  rows.push({ stage: 'while the drop ran (highest per-second p99)', seconds: Number(drop.seconds.toFixed(1)), 'p99 ms': dropP99, 'partitions dropped': drop.dropped });
  return { stages: rows, ticks, dropped: drop.dropped, dropSeconds: drop.seconds, dropStartT: drop.startT, dropEndT: drop.endT, dropP99 };
}
