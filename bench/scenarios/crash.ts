// Scenario "crash": the cost of a shipper crash. A workspace's three files
// each hold a backlog; the shipper is SIGKILLed several times while it ships
// them and started again at once, with its state folder, as Kubernetes
// restarts a container. Per kill: lines sent again (the receiver finds them
// committed and skips them; at most one batch per stream, the one in flight)
// and the time until the new process has a batch accepted. At the end every
// table must hold every line exactly once.

import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { TABLES } from '../../receiver/ingest/records.js';
import { DEFAULT_BATCH_BY_STREAM } from '../../shipper/config.js';
import type { LineStream } from '../../shared/wire.js';
import { backlog, type Backlog } from '../lib/backlog.js';
import { startBenchDb } from '../lib/bench-db.js';
import type { Bar, Chart } from '../lib/charts.js';
import { killAndRestart } from '../lib/crash.js';
import { until } from '../lib/poll.js';
import { BENCH_TOKEN, startReceiverProcess, startWatchedShipper, stopChild } from '../lib/programs.js';
import { runtimeOf } from '../lib/runtime-dir.js';
import { receiverRows, scrape, total } from '../lib/scrape.js';
import { printTable } from '../lib/table.js';
import type { Row, Scenario } from '../scenario.js';

const WORKSPACE = 'crash';
const STREAMS: LineStream[] = ['commands', 'events', 'llm'];

/** The most lines one batch of this file can hold at the shipper's defaults: the longest run of lines within the byte limit. */
async function batchLines(stream: LineStream, b: Backlog): Promise<number> {
  const limits = DEFAULT_BATCH_BY_STREAM[stream];
  const lengths: number[] = [];
  let partial = 0;
  for await (const chunk of createReadStream(b.path)) {
    const buf = chunk as Buffer;
    let from = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, nl + 1)) {
      lengths.push(partial + nl + 1 - from);
      partial = 0;
      from = nl + 1;
    }
    partial += buf.length - from;
  }
  let most = 0;
  let bytes = 0;
  for (let start = 0, end = 0; end < lengths.length; end++) {
    bytes += lengths[end]!;
    while (bytes > limits.maxBytes || end - start + 1 > limits.maxEvents) bytes -= lengths[start++]!;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

export const crash: Scenario = {
  name: 'crash',
  description: 'SIGKILL the shipper mid-backlog and restart it at once, several times: lines re-sent per stream (at most one batch) and time to resume',
  async run(ctx) {
    const bytes = ctx.int('BENCH_CRASH_BYTES', 100_000_000);
    const kills = ctx.int('BENCH_CRASH_KILLS', 4);
    const backlogs = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await backlog(s, bytes, 1, ctx.progress)]))) as Record<LineStream, Backlog>;
    const lines = STREAMS.reduce((n, s) => n + backlogs[s].lines, 0);
    const oneBatch = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await batchLines(s, backlogs[s])]))) as Record<LineStream, number>;
    const db = await startBenchDb();
    try {
      await db.reset();
      const receiver = await startReceiverProcess(db.url, BENCH_TOKEN);
      const env = { WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, ...(await runtimeOf(join(ctx.workDir, 'ferry'), backlogs)) };
      const committed = async () => Object.values(await receiverRows(receiver.url)).reduce((a, b) => a + b, 0);
      const duplicates = async () => {
        const m = await scrape(receiver.url);
        return Object.fromEntries(STREAMS.map((s) => [s, total(m, 'ferry_receiver_duplicates_total', { stream: s })])) as Record<LineStream, number>;
      };
      const t0 = performance.now();
      let shipper = await startWatchedShipper(env);
      const perKill: Row[] = [];
      for (let k = 1; k <= kills; k++) {
        const at = await until(async () => {
          const n = await committed();
          return n >= (lines * k) / (kills + 1) ? n : undefined;
        }, { everyMs: 20, timeoutS: 1800, alive: () => shipper.child.exitCode === null, what: `kill ${k}` });
        const before = await duplicates();
        const { next, resumeSeconds } = await killAndRestart(shipper.child, () => startWatchedShipper(env), (p) => p.moved());
        shipper = next;
        if (resumeSeconds === undefined) throw new Error(`kill ${k}: the shipper did not resume`);
        // What this kill made the new process send again shows once it has passed where the old one was.
        await until(async () => ((await committed()) > at ? true : undefined), { everyMs: 50, timeoutS: 600, alive: () => shipper.child.exitCode === null, what: `after kill ${k}` });
        const after = await duplicates();
        ctx.progress(`kill ${k}: at ${at.toLocaleString()} rows, resumed in ${resumeSeconds.toFixed(2)} s`);
        perKill.push({ kill: k, 'rows at SIGKILL': at, 'resume s': Number(resumeSeconds.toFixed(3)), ...Object.fromEntries(STREAMS.map((s) => [`${s} re-sent`, after[s] - before[s]])) });
      }
      await until(async () => {
        const rows = await receiverRows(receiver.url);
        return STREAMS.every((s) => (rows[TABLES[s].table] ?? 0) >= backlogs[s].lines) ? true : undefined;
      }, { everyMs: 200, timeoutS: 1800, alive: () => shipper.child.exitCode === null, what: 'the rest of the backlog' });
      const seconds = (performance.now() - t0) / 1000;
      await stopChild(shipper.child);
      await receiver.stop();

      const rows: Row[] = [];
      for (const s of STREAMS) {
        const stored = await db.count(TABLES[s].table);
        const resent = perKill.map((r) => Number(r[`${s} re-sent`]));
        rows.push({ stream: s, lines: backlogs[s].lines, 'rows stored': stored, 'lost or doubled': stored - backlogs[s].lines, 'one batch (lines)': oneBatch[s], 'most re-sent after a kill': Math.max(...resent), 're-sent in all': resent.reduce((a, b) => a + b, 0) });
      }
      const table = printTable(`crash: ${kills} SIGKILLs while shipping ${STREAMS.map((s) => `${s} ${(backlogs[s].bytes / 1e6).toFixed(0)} MB`).join(', ')} (${seconds.toFixed(0)} s in all)`, rows);
      printTable('per kill', perKill);
      const resumes = perKill.map((r) => Number(r['resume s']));
      const verdicts = [
        { target: 'every line stored exactly once', measured: rows.map((r) => `${r.stream} ${Number(r['lost or doubled']) === 0 ? 'exact' : `${r['lost or doubled']} off`}`).join(', '), met: rows.every((r) => r['lost or doubled'] === 0) },
        { target: 're-sent after a kill <= one batch per stream', measured: rows.map((r) => `${r.stream} ${r['most re-sent after a kill']}/${r['one batch (lines)']}`).join(', '), met: rows.every((r) => Number(r['most re-sent after a kill']) <= Number(r['one batch (lines)'])) },
        { target: 'resumes within 3 s of the restart', measured: `${Math.max(...resumes).toFixed(2)} s at most`, met: Math.max(...resumes) <= 3 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const charts: Chart[] = [
        { kind: 'bar', id: 'resent', title: 'lines re-sent after each SIGKILL, per stream (vs one batch)', y: 'lines', bars: [
          ...STREAMS.map((s): Bar => ({ label: `one batch: ${s}`, value: oneBatch[s], baseline: true })),
          ...perKill.flatMap((r) => STREAMS.map((s): Bar => ({ label: `kill ${r.kill}: ${s}`, value: Number(r[`${s} re-sent`]) }))),
        ] },
        { kind: 'bar', id: 'resume', title: 'time from restart to the first batch accepted', y: 'seconds', bars: perKill.map((r) => ({ label: `kill ${r.kill}`, value: Number(r['resume s']) })) },
      ];
      return {
        table, rows, verdicts, charts,
        tables: { 'per kill': perKill },
        notes: ['Re-sent lines are what the receiver skipped as already committed (ferry_receiver_duplicates_total): the shipper asks the receiver where each stream stands when it starts, so only a batch in flight at the kill can come again.'],
      };
    } finally {
      await db.close();
    }
  },
};
