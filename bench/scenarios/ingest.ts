// Scenario "ingest": command events posted through the receiver into
// PostgreSQL, beside `psql \copy` of the same rows (the ceiling) and the naive
// one-request-one-INSERT receiver of seed 001, all in one run.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { copyRow, copyText } from '../../receiver/ingest/copy-encode.js';
import { toUtcTimestamp } from '../../receiver/ingest/timestamp.js';
import { startBenchDb } from '../lib/bench-db.js';
import { barsFromRows, processCharts } from '../lib/charts.js';
import { sampleProcess } from '../lib/proc-stats.js';
import { NAIVE_RECEIVER_BIN, startListening, startReceiverProcess } from '../lib/programs.js';
import { printTable } from '../lib/table.js';
import { commandLines } from '../../dev/workload.js';
import type { Scenario } from '../scenario.js';

const TOKEN = 'bench-token';

export const ingest: Scenario = {
  name: 'ingest',
  description: 'receiver COPY ingest vs psql \\copy (ceiling) and one INSERT per event (naive)',
  async run(ctx) {
    const events = ctx.int('BENCH_EVENTS', 1_000_000);
    const naiveEvents = ctx.int('BENCH_NAIVE_EVENTS', 50_000);
    const streams = ctx.int('BENCH_STREAMS', 4);
    const batchBytes = ctx.int('BENCH_BATCH_BYTES', 1 << 20);

    ctx.progress(`generating ${events.toLocaleString()} command events`);
    const lines = commandLines(events);
    const workspaceOf = (i: number) => `bench-ws-${Math.floor((i * streams) / events)}`;
    const ndjsonLines = lines.map((l) => `${JSON.stringify(l)}\n`);
    const totalBytes = ndjsonLines.reduce((n, l) => n + Buffer.byteLength(l), 0);
    const tsvFile = join(ctx.workDir, 'commands.tsv');
    await writeFile(tsvFile, lines.map((l, i) => copyRow([copyText(workspaceOf(i)), copyText(l.command), String(l.exit_code), toUtcTimestamp(l.timestamp)!])).join(''));

    const db = await startBenchDb();
    const results: Array<Record<string, string | number>> = [];
    const record = (method: string, n: number, seconds: number, extra: Record<string, string | number> = {}) => {
      results.push({ method, events: n, seconds: Number(seconds.toFixed(2)), 'events/s': n / seconds, 'MB/s': (totalBytes / events) * n / seconds / 1e6, ...extra });
    };
    try {
      // Ceiling: psql \copy of the same rows.
      await db.reset();
      ctx.progress('psql \\copy');
      let t = performance.now();
      await db.psqlCopy('command_log', 'workspace_id, command, exit_code, "timestamp"', tsvFile);
      const copySeconds = (performance.now() - t) / 1000;
      if ((await db.count('command_log')) !== events) throw new Error('psql \\copy did not load every row');
      record('psql \\copy (ceiling)', events, copySeconds);

      // ferry: one request in flight per stream, like shippers.
      await db.reset();
      const receiver = await startReceiverProcess(db.url, TOKEN);
      const sampler = sampleProcess(receiver.child.pid!);
      const agent = new Agent({ connections: streams });
      ctx.progress(`ferry receiver: ${streams} streams, ${batchBytes} byte batches`);
      t = performance.now();
      let requests = 0;
      await Promise.all(Array.from({ length: streams }, async (_, s) => {
        const from = Math.floor((s * events) / streams);
        const to = Math.floor(((s + 1) * events) / streams);
        let offset = 0;
        for (let i = from; i < to;) {
          const batch: string[] = [];
          let size = 0;
          while (i < to && size < batchBytes) { batch.push(ndjsonLines[i]!); size += Buffer.byteLength(ndjsonLines[i]!); i++; }
          const res = await request(`${receiver.url}/ingest/commands`, {
            method: 'POST', dispatcher: agent, body: batch.join(''),
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', 'x-workspace-id': workspaceOf(from), 'x-source-id': 'bench', 'x-source-offset': String(offset) },
          });
          const answer = (await res.body.json()) as { accepted: number };
          if (res.statusCode !== 200 || answer.accepted !== batch.length) throw new Error(`ingest answered ${res.statusCode}: ${JSON.stringify(answer)}`);
          offset += size;
          requests++;
        }
      }));
      const ferrySeconds = (performance.now() - t) / 1000;
      const stats = sampler.stop();
      await agent.close();
      await receiver.stop();
      if ((await db.count('command_log')) !== events) throw new Error('ferry did not load every row');
      record('ferry receiver (COPY)', events, ferrySeconds, { requests, 'receiver CPU s': stats.cpuSeconds, 'receiver peak RSS MiB': stats.peakRssBytes / 2 ** 20 });

      // Naive: one POST and one INSERT per event, on a prefix of the same rows.
      await db.reset();
      const naive = await startListening(NAIVE_RECEIVER_BIN, { DATABASE_URL: db.url }, 'naive receiver listening');
      const naiveAgent = new Agent({ connections: 8 });
      ctx.progress(`naive receiver: ${naiveEvents.toLocaleString()} events, 8 clients`);
      t = performance.now();
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
      record('naive: 1 INSERT per event', naiveEvents, naiveSeconds);

      const rate = (m: string) => Number(results.find((r) => r.method === m)!['events/s']);
      const ferry = rate('ferry receiver (COPY)');
      const vsCopy = ferry / rate('psql \\copy (ceiling)');
      const vsNaive = ferry / rate('naive: 1 INSERT per event');
      for (const r of results) r['vs \\copy'] = `${((Number(r['events/s']) / rate('psql \\copy (ceiling)')) * 100).toFixed(0)}%`;
      const table = printTable(`ingest: ${events.toLocaleString()} command events (${(totalBytes / 1e6).toFixed(0)} MB NDJSON), ${streams} streams, ${batchBytes} B batches`, results);
      const verdicts = [
        { target: 'ferry >= 60% of psql \\copy', measured: `${(vsCopy * 100).toFixed(0)}%`, met: vsCopy >= 0.6 },
        { target: 'ferry >= 20x naive', measured: `${vsNaive.toFixed(1)}x`, met: vsNaive >= 20 },
      ];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      const charts = [barsFromRows('rate', 'ingest: events/s into PostgreSQL', 'events/s', results, 'events/s', (m) => !m.startsWith('ferry')), ...processCharts('receiver', 'ferry-receiver during its run', [{ name: 'ferry-receiver', summary: stats }])];
      return { table, rows: results, verdicts, charts, notes: [`The naive receiver ran on the first ${naiveEvents.toLocaleString()} events; its rate is measured on them, not extrapolated.`] };
    } finally {
      await db.close();
    }
  },
};
