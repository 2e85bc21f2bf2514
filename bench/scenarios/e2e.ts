// Scenario "e2e": a backlog of command events through shipper → receiver →
// PostgreSQL, beside psql \copy of the same rows (the ceiling) and rsyslog's
// imfile → ompgsql on the same file, in the same run.

import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { copyRow, copyText } from '../../receiver/ingest/copy-encode.js';
import { toUtcTimestamp } from '../../receiver/ingest/timestamp.js';
import { commandBacklog } from '../lib/backlog.js';
import { startBenchDb, type BenchDb } from '../lib/bench-db.js';
import { sampleProcess, type ProcSummary } from '../lib/proc-stats.js';
import { startReceiverProcess, startShipperProcess, stopChild } from '../lib/programs.js';
import { startRsyslog } from '../lib/rsyslog.js';
import { MIB } from '../lib/stats.js';
import { printTable } from '../lib/table.js';
import type { Scenario } from '../scenario.js';

const TOKEN = 'bench-token';
const WORKSPACE = 'e2e';

/** The same rows as COPY text, for psql \copy. */
async function copyFile(jsonl: string, out: string): Promise<void> {
  const rows: string[] = [];
  for await (const line of createInterface({ input: createReadStream(jsonl) })) {
    const l = JSON.parse(line) as { command: string; exit_code: number; timestamp: string };
    rows.push(copyRow([WORKSPACE, copyText(l.command), String(l.exit_code), toUtcTimestamp(l.timestamp)!]));
  }
  await writeFile(out, rows.join(''));
}

async function untilRows(db: BenchDb, n: number, timeoutS: number, stillRunning: () => boolean): Promise<number> {
  const started = performance.now();
  for (;;) {
    if ((await db.count('command_log')) >= n) return (performance.now() - started) / 1000;
    if (!stillRunning()) throw new Error('the pipeline stopped before loading every row');
    if (performance.now() - started > timeoutS * 1000) throw new Error(`not all rows after ${timeoutS} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const e2e: Scenario = {
  name: 'e2e',
  description: 'backlog through shipper → receiver → PostgreSQL vs psql \\copy (ceiling) and rsyslog imfile → ompgsql',
  async run(ctx) {
    const backlog = await commandBacklog(ctx.int('BENCH_E2E_BYTES', 100_000_000), 2, ctx.progress);
    const db = await startBenchDb();
    const rows: Array<Record<string, string | number>> = [];
    const row = (method: string, seconds: number, stats?: ProcSummary, extra: Record<string, string | number> = {}) => rows.push({
      method, rows: backlog.lines, seconds: Number(seconds.toFixed(2)), 'rows/s': backlog.lines / seconds, 'MB/s': backlog.bytes / seconds / 1e6,
      ...(stats ? { 'CPU s': stats.cpuSeconds, 'peak RSS MiB': stats.peakRssBytes / MIB } : {}), ...extra,
    });
    try {
      ctx.progress('psql \\copy of the same rows');
      const tsv = join(ctx.workDir, 'rows.tsv');
      await copyFile(backlog.path, tsv);
      await db.reset();
      let t = performance.now();
      await db.psqlCopy('command_log', 'workspace_id, command, exit_code, "timestamp"', tsv);
      row('psql \\copy (ceiling)', (performance.now() - t) / 1000);

      ctx.progress('ferry: shipper → receiver → PostgreSQL');
      await db.reset();
      const dir = join(ctx.workDir, 'ferry');
      await mkdir(join(dir, 'runtime'), { recursive: true });
      await symlink(backlog.path, join(dir, 'runtime', 'command-log.jsonl'));
      const receiver = await startReceiverProcess(db.url, TOKEN);
      const receiverStats = sampleProcess(receiver.child.pid!);
      t = performance.now();
      const shipper = startShipperProcess({ WORKSPACE_ID: WORKSPACE, DASHBOARD_SERVICE_URL: receiver.url, INGEST_TOKEN: TOKEN, RUNTIME_DIR: join(dir, 'runtime'), STATE_DIR: join(dir, 'state') });
      const shipperStats = sampleProcess(shipper.pid!);
      await untilRows(db, backlog.lines, 600, () => shipper.exitCode === null);
      const ferrySeconds = (performance.now() - t) / 1000;
      const sStats = shipperStats.stop();
      const rStats = receiverStats.stop();
      await stopChild(shipper);
      await receiver.stop();
      row('ferry (shipper → receiver → COPY)', ferrySeconds, rStats, { 'shipper CPU s': sStats.cpuSeconds, 'shipper peak RSS MiB': sStats.peakRssBytes / MIB });

      ctx.progress('rsyslog: imfile → mmjsonparse → ompgsql');
      await db.reset();
      const rdir = join(ctx.workDir, 'rsyslog');
      await mkdir(rdir, { recursive: true });
      t = performance.now();
      const rsyslog = await startRsyslog({ workDir: rdir, file: backlog.path, databaseUrl: db.url, workspaceId: WORKSPACE });
      const rsStats = sampleProcess(rsyslog.child.pid!);
      await untilRows(db, backlog.lines, 1800, () => rsyslog.child.exitCode === null);
      const rsSeconds = (performance.now() - t) / 1000;
      const rsSummary = rsStats.stop();
      await rsyslog.stop();
      row('rsyslog imfile → mmjsonparse → ompgsql', rsSeconds, rsSummary);

      const rate = (i: number) => Number(rows[i]!['rows/s']);
      for (const r of rows) r['vs \\copy'] = `${((Number(r['rows/s']) / rate(0)) * 100).toFixed(0)}%`;
      const table = printTable(`end to end: ${backlog.lines.toLocaleString()} command events (${(backlog.bytes / 1e6).toFixed(0)} MB) into PostgreSQL, durable settings`, rows);
      const vsRsyslog = rate(1) / rate(2);
      const verdicts = [{ target: 'ferry >= 3x rsyslog imfile → ompgsql', measured: `${vsRsyslog.toFixed(1)}x`, met: vsRsyslog >= 3 }];
      printTable('targets', verdicts.map((v) => ({ ...v, met: v.met ? 'yes' : 'NO' })));
      return { table, rows, verdicts, series: { receiver: rStats.samples, shipper: sStats.samples, rsyslog: rsSummary.samples } };
    } finally {
      await db.close();
    }
  },
};
