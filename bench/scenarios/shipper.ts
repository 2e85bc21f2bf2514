// Scenario "shipper": ferry-shipper alone, a 1 GB backlog of command events to
// a receiver that accepts and discards, beside the read ceiling measured in the
// same run (reading the file and counting newlines), with peak RSS. A sweep of
// batch sizes shows where the defaults come from.

import { execFile } from 'node:child_process';
import { open, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandBacklog, type Backlog } from '../lib/backlog.js';
import { barsFromRows, processCharts } from '../lib/charts.js';
import { sampleProcess } from '../lib/proc-stats.js';
import { placeFile } from '../lib/runtime-dir.js';
import { BENCH_TOKEN, DISCARD_RECEIVER_BIN, startListening, startShipperProcess, stopChild } from '../lib/programs.js';
import { MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Scenario, ScenarioContext } from '../scenario.js';

const exec = promisify(execFile);

async function readAndCount(path: string): Promise<{ seconds: number; lines: number }> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafe(MIB);
  let lines = 0;
  const started = performance.now();
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const view = buf.subarray(0, bytesRead);
    for (let i = view.indexOf(10); i !== -1; i = view.indexOf(10, i + 1)) lines++;
    pos += bytesRead;
  }
  await fh.close();
  return { seconds: (performance.now() - started) / 1000, lines };
}

async function shipOnce(ctx: ScenarioContext, backlog: Backlog, run: number, batch: { events: number; bytes: number } | undefined) {
  const receiver = await startListening(DISCARD_RECEIVER_BIN, {}, 'discard receiver listening');
  const dir = join(ctx.workDir, `run-${run}`);
  await mkdir(join(dir, 'runtime'), { recursive: true });
  await placeFile(backlog.path, join(dir, 'runtime', 'command-log.jsonl'));
  const started = performance.now();
  const shipper = startShipperProcess({
    WORKSPACE_ID: 'bench', DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: BENCH_TOKEN, RUNTIME_DIR: join(dir, 'runtime'), STATE_DIR: join(dir, 'state'),
    ...(batch ? { COMMANDS_BATCH_MAX_EVENTS: String(batch.events), COMMANDS_BATCH_MAX_BYTES: String(batch.bytes) } : {}),
  });
  const sampler = sampleProcess(shipper.pid!, 50);
  let got = { bytes: 0, requests: 0 };
  while (got.bytes < backlog.bytes) {
    await new Promise((r) => setTimeout(r, 20));
    got = (await (await fetch(`${receiver.url}/stats`)).json()) as typeof got;
    if (shipper.exitCode !== null) throw new Error(`the shipper exited (${shipper.exitCode})`);
  }
  const seconds = (performance.now() - started) / 1000;
  const stats = sampler.stop();
  await stopChild(shipper);
  await receiver.stop();
  return { seconds, requests: got.requests, stats };
}

export const shipper: Scenario = {
  name: 'shipper',
  description: 'ferry-shipper alone to a discarding receiver, vs reading the file and counting newlines',
  async run(ctx) {
    const backlog = await commandBacklog(ctx.int('BENCH_SHIPPER_BYTES', 1_000_000_000), 1, ctx.progress);
    const rows: Array<Record<string, string | number>> = [];
    const row = (method: string, seconds: number, extra: Record<string, string | number> = {}) => {
      rows.push({ method, 'MB/s': backlog.bytes / seconds / 1e6, 'lines/s': backlog.lines / seconds, seconds: Number(seconds.toFixed(2)), ...extra });
    };

    ctx.progress('read ceiling: read the file, count newlines');
    await readAndCount(backlog.path); // warm the page cache, as it is for the shipper runs
    const ceiling = await readAndCount(backlog.path);
    if (ceiling.lines !== backlog.lines) throw new Error('line count mismatch');
    row('read + count newlines (node, 1 MiB reads)', ceiling.seconds);
    const wcStart = performance.now();
    await exec('wc', ['-l', backlog.path]);
    row('wc -l', (performance.now() - wcStart) / 1000);

    ctx.progress('ferry-shipper with its defaults');
    const main = await shipOnce(ctx, backlog, 0, undefined);
    row('ferry-shipper (defaults: 50,000 lines / 4 MiB)', main.seconds, { requests: main.requests, 'peak RSS MiB': main.stats.peakRssBytes / MIB, 'CPU s': main.stats.cpuSeconds });

    const sweep = [{ events: 1_000, bytes: 256 * 1024 }, { events: 10_000, bytes: MIB }, { events: 100_000, bytes: 16 * MIB }];
    for (const [i, b] of sweep.entries()) {
      ctx.progress(`sweep: ${b.events} lines / ${b.bytes / 1024} KiB`);
      const r = await shipOnce(ctx, backlog, i + 1, b);
      row(`  batch ${b.events.toLocaleString()} lines / ${b.bytes / 1024} KiB`, r.seconds, { requests: r.requests, 'peak RSS MiB': r.stats.peakRssBytes / MIB, 'CPU s': r.stats.cpuSeconds });
    }

    const table = printTable(`shipper alone: ${(backlog.bytes / 1e9).toFixed(2)} GB, ${backlog.lines.toLocaleString()} command events, page cache warm`, rows);
    const mbps = backlog.bytes / main.seconds / 1e6;
    const rss = main.stats.peakRssBytes / MIB;
    const verdicts = [
      { target: 'shipper >= 300 MB/s', measured: `${mbps.toFixed(0)} MB/s`, met: mbps >= 300 },
      { target: 'shipper peak RSS <= 96 MiB', measured: `${rss.toFixed(0)} MiB`, met: rss <= 96 },
    ];
    printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
    const charts = [barsFromRows('rate', 'shipper alone: MB/s (read ceiling beside it)', 'MB/s', rows, 'MB/s', (m) => !m.includes('ferry') && !m.includes('batch')), ...processCharts('shipper', 'ferry-shipper with its defaults', [{ name: 'ferry-shipper', summary: main.stats }])];
    return { table, rows, verdicts, charts };
  },
};
