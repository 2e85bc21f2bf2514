// Scenario "latency": with the pipeline caught up, one line every 100 ms for
// 30 s; the time from the write to the row being visible in PostgreSQL
// (NOTIFY at commit), for ferry (shipper → receiver → COPY) and, in the same
// run, for rsyslog's imfile → ompgsql. For ferry, each line's time is split
// into hops: the receiver logs (at debug) when each request arrived and how
// long it spent reading, parsing, waiting and in PostgreSQL; the rest is the
// shipper and HTTP before, and the notification to the harness after.

import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBenchDb, type BenchDb } from '../lib/bench-db.js';
import { startCommitClock } from '../lib/commit-clock.js';
import { BENCH_TOKEN, startReceiverProcess, startShipperProcess, stopChild } from '../lib/programs.js';
import { startRsyslog } from '../lib/rsyslog.js';
import { percentilesOverTime, progressChart } from '../lib/charts.js';
import { max, percentile } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario, ScenarioContext } from '../scenario.js';


interface System {
  stop(): Promise<void>;
}

/** The receiver's account of one request (receiver/observe.ts, at debug). */
interface Hops {
  received_at: number;
  read_ms: number;
  parse_ms: number;
  queue_ms: number;
  database_ms: number;
}

/** A line's time, hop by hop: the receiver's request that carried it is the first to arrive after the write. */
function timeline(samples: Array<{ at: number; ms: number }>, hops: Hops[]): Row[] {
  const split = samples.filter((s) => Number.isFinite(s.ms)).flatMap((s) => {
    const h = hops.find((x) => x.received_at >= s.at && x.received_at <= s.at + s.ms);
    if (!h) return [];
    const receiver = h.read_ms + h.parse_ms + h.queue_ms + h.database_ms;
    return [{
      'write → request received (shipper: notice, read, send; HTTP)': h.received_at - s.at,
      'receiver: headers → body read (auth, admission)': h.read_ms,
      'receiver: parse': h.parse_ms,
      'receiver: queue, plan, connection': h.queue_ms,
      'PostgreSQL: the transaction, one round trip (commit and WAL flush)': h.database_ms,
      'commit → visible at the harness (NOTIFY)': s.at + s.ms - h.received_at - receiver,
      'write → visible': s.ms,
    }];
  });
  if (split.length === 0) return [];
  return Object.keys(split[0]!).map((hop) => {
    const ms = split.map((x) => x[hop as keyof (typeof split)[0]]);
    return { hop, lines: ms.length, 'p50 ms': percentile(ms, 50), 'p99 ms': percentile(ms, 99), 'mean ms': ms.reduce((a, b) => a + b, 0) / ms.length };
  });
}

async function measure(ctx: ScenarioContext, db: BenchDb, name: string, count: number, everyMs: number, start: (file: string, dir: string) => Promise<System>) {
  await db.reset();
  const dir = join(ctx.workDir, name);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'command-log.jsonl');
  await writeFile(file, '');
  const clock = await startCommitClock(db.url);
  const line = (seq: number) => `${JSON.stringify({ command: `echo latency #${seq}`, exit_code: 0, timestamp: new Date().toISOString() })}\n`;
  // A system that fails to start leaves no clock connected to the database the scenario then stops.
  let system: System | undefined;
  try {
    system = await start(file, dir);
    // Warm-up: the pipeline is running and caught up before the clock starts.
    await appendFile(file, line(0));
    for (let i = 0; clock.seen.size === 0; i++) {
      if (i > 600) throw new Error(`${name}: the warm-up line never arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
    ctx.progress(`${name}: ${count} lines, one every ${everyMs} ms`);
    const written = new Map<number, number>();
    const t0 = performance.now();
    for (let seq = 1; seq <= count; seq++) {
      const due = t0 + seq * everyMs;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      written.set(seq, performance.timeOrigin + performance.now());
      await appendFile(file, line(seq));
    }
    for (let i = 0; i < 100 && [...written.keys()].some((s) => !clock.seen.has(s)); i++) await new Promise((r) => setTimeout(r, 50));
    const samples = [...written].map(([seq, at]) => ({ seq, at, ms: (clock.seen.get(seq) ?? Infinity) - at }));
    return { samples, lost: samples.filter((s) => !Number.isFinite(s.ms)).length };
  } finally {
    await system?.stop();
    await clock.close();
  }
}

export const latency: Scenario = {
  name: 'latency',
  description: 'write-to-visible latency, one line every 100 ms for 30 s: ferry vs rsyslog imfile → ompgsql',
  async run(ctx) {
    const everyMs = ctx.int('BENCH_LATENCY_INTERVAL_MS', 100);
    const count = Math.round((ctx.int('BENCH_LATENCY_SECONDS', 30) * 1000) / everyMs);
    const db = await startBenchDb();
    try {
      const hops: Hops[] = [];
      const ferry = await measure(ctx, db, 'ferry', count, everyMs, async (file, dir) => {
        const receiver = await startReceiverProcess(db.url, BENCH_TOKEN, { LOG_LEVEL: 'debug' }, [], (l) => {
          if (l.msg === 'batch committed' && l.hops) hops.push(l.hops as Hops);
        });
        const shipper = startShipperProcess({ WORKSPACE_ID: 'latency', DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: join(file, '..'), STATE_DIR: join(dir, 'state') });
        return { stop: async () => { await stopChild(shipper); await receiver.stop(); } };
      });
      const rsyslog = await measure(ctx, db, 'rsyslog', count, everyMs, (file, dir) => startRsyslog({ workDir: dir, file, databaseUrl: db.url, workspaceId: 'latency' }));

      const rows = [['ferry (shipper → receiver → COPY)', ferry], ['rsyslog imfile → mmjsonparse → ompgsql', rsyslog]] as const;
      const summary = rows.map(([method, r]) => {
        const ms = r.samples.map((s) => s.ms).filter(Number.isFinite);
        return { method, lines: r.samples.length, lost: r.lost, 'p50 ms': percentile(ms, 50), 'p99 ms': percentile(ms, 99), 'max ms': max(ms) };
      });
      const table = printTable(`latency: one line every ${everyMs} ms, ${count} lines, write → visible in PostgreSQL`, summary);
      const hopRows = timeline(ferry.samples, hops);
      printTable("ferry: where a line's time goes, hop by hop (the receiver's log and the harness's clock; clocks of two processes)", hopRows);
      const f = summary[0]!;
      const verdicts = [
        { target: 'ferry p50 <= 5 ms', measured: `${f['p50 ms'].toFixed(1)} ms`, met: f['p50 ms'] <= 5 },
        { target: 'ferry p99 <= 20 ms', measured: `${f['p99 ms'].toFixed(1)} ms`, met: f['p99 ms'] <= 20 },
        { target: 'ferry loses nothing', measured: `${f.lost} lost`, met: f.lost === 0 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const timed = (r: typeof ferry) => r.samples.map((s) => ({ t: (s.seq * everyMs) / 1000, ms: s.ms }));
      const charts = [
        percentilesOverTime('percentiles', 'write → visible: p50 and p99 per 5 s', [{ name: 'ferry', samples: timed(ferry) }, { name: 'rsyslog', baseline: true, samples: timed(rsyslog) }], 5),
        progressChart('each', 'write → visible, every line', 'ms', [{ name: 'ferry', points: timed(ferry).filter((s) => Number.isFinite(s.ms)).map((s) => [s.t, s.ms]) }, { name: 'rsyslog', baseline: true, points: timed(rsyslog).filter((s) => Number.isFinite(s.ms)).map((s) => [s.t, s.ms]) }]),
      ];
      return { table, rows: summary, verdicts, charts, tables: { "ferry: where a line's time goes, hop by hop": hopRows } };
    } finally {
      await db.close();
    }
  },
};
