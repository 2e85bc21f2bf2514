// Scenario "ingest": command events posted through the receiver into
// PostgreSQL, beside `psql \copy` of the same rows (the ceiling) and the naive
// one-request-one-INSERT receiver of seed 001, all in one run. The ceiling and
// ferry run in alternating rounds, and the round with the median share is
// reported: on a shared host one slow second moves a single run by 10 points.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { batchesOf, postCommandStreams } from '../lib/post-streams.js';
import { copyRow, copyText } from '../../receiver/ingest/copy-encode.js';
import { toUtcTimestamp } from '../../receiver/ingest/timestamp.js';
import { startBenchDb } from '../lib/bench-db.js';
import { barsFromRows, processCharts } from '../lib/charts.js';
import { sampleProcess, sampleProcessTree, type ProcSummary } from '../lib/proc-stats.js';
import { BENCH_TOKEN, NAIVE_RECEIVER_BIN, startListening, startReceiverProcess } from '../lib/programs.js';
import { printTable } from '../lib/table.js';
import { commandLines } from '../../dev/workload.js';
import type { Scenario } from '../scenario.js';


export const ingest: Scenario = {
  name: 'ingest',
  description: 'receiver COPY ingest vs psql \\copy (ceiling) and one INSERT per event (naive)',
  async run(ctx) {
    const events = ctx.int('BENCH_EVENTS', 1_000_000);
    const naiveEvents = ctx.int('BENCH_NAIVE_EVENTS', 50_000);
    const streams = ctx.int('BENCH_STREAMS', 4);
    const batchBytes = ctx.int('BENCH_BATCH_BYTES', 1 << 20);
    const rounds = ctx.int('BENCH_ROUNDS', 3);

    ctx.progress(`generating ${events.toLocaleString()} command events`);
    const lines = commandLines(events);
    const workspaceOf = (i: number) => `bench-ws-${Math.floor((i * streams) / events)}`;
    const ndjsonLines = lines.map((l) => `${JSON.stringify(l)}\n`);
    const totalBytes = ndjsonLines.reduce((n, l) => n + Buffer.byteLength(l), 0);
    const tsvFile = join(ctx.workDir, 'commands.tsv');
    await writeFile(tsvFile, lines.map((l, i) => copyRow([copyText(workspaceOf(i)), copyText(l.command), String(l.exit_code), toUtcTimestamp(l.timestamp)!])).join(''));
    // Encoded before any clock starts, as psql's file was.
    const streamBodies = Array.from({ length: streams }, (_, s) => ({
      workspaceId: workspaceOf(Math.floor((s * events) / streams)),
      sourceId: 'bench',
      batches: batchesOf(ndjsonLines.slice(Math.floor((s * events) / streams), Math.floor(((s + 1) * events) / streams)), batchBytes),
    }));

    const db = await startBenchDb();
    const postmaster = await db.postmasterPid();
    const rateOf = (n: number, seconds: number) => ({ seconds: Number(seconds.toFixed(2)), 'events/s': n / seconds, 'MB/s': (totalBytes / events) * n / seconds / 1e6 });
    try {
      const copyRound = async (): Promise<Measured> => {
        await db.reset();
        const pg = sampleProcessTree(postmaster);
        const t = performance.now();
        await db.psqlCopy('command_log', 'workspace_id, command, exit_code, "timestamp"', tsvFile);
        const seconds = (performance.now() - t) / 1000;
        // psql's backend counts once the postmaster has reaped it, a moment after psql exits.
        await sleep(500);
        const pgCpu = pg.stop().cpuSeconds;
        if ((await db.count('command_log')) !== events) throw new Error('psql \\copy did not load every row');
        return { seconds, pgCpu };
      };

      // One request in flight per stream, like shippers.
      const ferryRound = async (): Promise<Measured & { requests: number; clientCpu: number; receiver: ProcSummary }> => {
        await db.reset();
        const receiver = await startReceiverProcess(db.url, BENCH_TOKEN);
        const receiverStats = sampleProcess(receiver.child.pid!);
        const pg = sampleProcessTree(postmaster);
        const clientCpu = process.cpuUsage();
        const t = performance.now();
        const requests = await postCommandStreams(receiver.url, BENCH_TOKEN, streamBodies);
        const seconds = (performance.now() - t) / 1000;
        const receiverSummary = receiverStats.stop();
        const pgCpu = pg.stop().cpuSeconds;
        const { user, system } = process.cpuUsage(clientCpu);
        await receiver.stop();
        if ((await db.count('command_log')) !== events) throw new Error('ferry did not load every row');
        return { seconds, pgCpu, requests, clientCpu: (user + system) / 1e6, receiver: receiverSummary };
      };

      const measured = [];
      for (let round = 1; round <= rounds; round++) {
        ctx.progress(`round ${round}/${rounds}: psql \\copy`);
        const copy = await copyRound();
        ctx.progress(`round ${round}/${rounds}: ferry receiver, ${streams} streams, ${batchBytes} byte batches`);
        const ferry = await ferryRound();
        measured.push({ round, copy, ferry, share: copy.seconds / ferry.seconds });
      }
      const roundRows = measured.map((m) => ({
        round: m.round, 'psql \\copy s': Number(m.copy.seconds.toFixed(2)), 'ferry s': Number(m.ferry.seconds.toFixed(2)), 'vs \\copy': percent(m.share),
        'PostgreSQL CPU s (\\copy)': m.copy.pgCpu, 'PostgreSQL CPU s (ferry)': m.ferry.pgCpu, 'receiver CPU s': m.ferry.receiver.cpuSeconds,
      }));
      printTable('ingest rounds (ceiling, then ferry)', roundRows);
      const median = [...measured].sort((a, b) => a.share - b.share)[Math.floor(measured.length / 2)]!;

      // Naive: one POST and one INSERT per event, on a prefix of the same rows.
      await db.reset();
      const naive = await startListening(NAIVE_RECEIVER_BIN, { DATABASE_URL: db.url }, 'naive receiver listening');
      const naiveAgent = new Agent({ connections: 8 });
      ctx.progress(`naive receiver: ${naiveEvents.toLocaleString()} events, 8 clients`);
      const t = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let i = next++; i < naiveEvents; i = next++) {
          const res = await request(`${naive.url}/commands`, { method: 'POST', dispatcher: naiveAgent, body: JSON.stringify({ workspace_id: workspaceOf(i), ...lines[i] }), headers: { 'content-type': 'application/json' } });
          await res.body.dump();
          if (res.statusCode !== 201) throw new Error(`naive receiver answered ${res.statusCode}`);
        }
      }));
      const naiveSeconds = (performance.now() - t) / 1000;
      await naiveAgent.close();
      await naive.stop();
      if ((await db.count('command_log')) !== naiveEvents) throw new Error('naive receiver did not load every row');

      const copyRate = events / median.copy.seconds;
      const ferryRate = events / median.ferry.seconds;
      const naiveRate = naiveEvents / naiveSeconds;
      const results = [
        { method: 'psql \\copy (ceiling)', events, ...rateOf(events, median.copy.seconds), 'vs \\copy': '100%', 'PostgreSQL CPU s': median.copy.pgCpu },
        {
          method: 'ferry receiver (COPY)', events, ...rateOf(events, median.ferry.seconds), 'vs \\copy': percent(ferryRate / copyRate), 'PostgreSQL CPU s': median.ferry.pgCpu,
          requests: median.ferry.requests, 'client CPU s': median.ferry.clientCpu, 'receiver CPU s': median.ferry.receiver.cpuSeconds, 'receiver peak RSS MiB': median.ferry.receiver.peakRssBytes / 2 ** 20,
        },
        { method: 'naive: 1 INSERT per event', events: naiveEvents, ...rateOf(naiveEvents, naiveSeconds), 'vs \\copy': percent(naiveRate / copyRate) },
      ];
      const table = printTable(`ingest: ${events.toLocaleString()} command events (${(totalBytes / 1e6).toFixed(0)} MB NDJSON), ${streams} streams, ${batchBytes} B batches; round ${median.round} of ${rounds} (the median share)`, results);
      const verdicts = [
        { target: 'ferry >= 60% of psql \\copy', measured: percent(ferryRate / copyRate), met: ferryRate / copyRate >= 0.6 },
        { target: 'ferry >= 20x naive', measured: `${(ferryRate / naiveRate).toFixed(1)}x`, met: ferryRate / naiveRate >= 20 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const charts = [barsFromRows('rate', 'ingest: events/s into PostgreSQL', 'events/s', results, 'events/s', (m) => !m.startsWith('ferry')), ...processCharts('receiver', 'ferry-receiver during its run', [{ name: 'ferry-receiver', summary: median.ferry.receiver }])];
      return {
        table, rows: results, verdicts, charts, tables: { 'ingest rounds (ceiling, then ferry)': roundRows },
        notes: [
          `The ceiling and ferry ran in ${rounds} alternating rounds; the figures are those of the round with the median share, and every round is listed.`,
          `The naive receiver ran on the first ${naiveEvents.toLocaleString()} events; its rate is measured on them, not extrapolated.`,
        ],
      };
    } finally {
      await db.close();
    }
  },
};

interface Measured {
  seconds: number;
  /** CPU seconds of the postmaster and its backends during the load. */
  pgCpu: number;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(0)}%`;
}
