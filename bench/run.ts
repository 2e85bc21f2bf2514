// npm run bench [-- scenario ...]: runs the named scenarios (all by default),
// prints their tables, writes bench/results/<scenario>.json, then the report
// (bench/results/report.html, rendered in Chromium to PNG) from those files.
// `npm run bench -- report` only rebuilds the report.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitIfUnavailable } from '../dev/embedded-postgres.js';
import { writeReport } from './report/write-report.js';
import type { Scenario } from './scenario.js';
import { catchUp } from './scenarios/catch-up.js';
import { connectionFlood } from './scenarios/connection-flood.js';
import { crash } from './scenarios/crash.js';
import { fleet } from './scenarios/fleet.js';
import { growth } from './scenarios/growth.js';
import { idle } from './scenarios/idle.js';
import { ingest } from './scenarios/ingest.js';
import { latency } from './scenarios/latency.js';
import { noisyNeighbour } from './scenarios/noisy-neighbour.js';
import { peer } from './scenarios/peer.js';
import { recording } from './scenarios/recording.js';
import { shipper } from './scenarios/shipper.js';
import { stream } from './scenarios/stream.js';

const SCENARIOS: Scenario[] = [ingest, shipper, catchUp, peer, latency, fleet, noisyNeighbour, connectionFlood, stream, recording, crash, growth, idle];
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
/** BENCH_LABEL=<name> keeps this run beside the plain one (<scenario>@<name>.json): a before/after in one report. */
const label = process.env.BENCH_LABEL?.replace(/[^\w.-]/g, '_');

function usage(): string {
  return `Usage: npm run bench [-- <scenario> ...]\n\nScenarios:\n${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}\n  ${'report'.padEnd(12)} only rebuild bench/results/report.html from the JSON there\n`;
}

const names = process.argv.slice(2);
if (names.includes('--help') || names.includes('-h')) {
  process.stdout.write(usage());
  process.exit(0);
}
const reportOnly = names.length === 1 && names[0] === 'report';
const chosen = names.length === 0 || reportOnly ? (reportOnly ? [] : SCENARIOS) : names.map((n) => SCENARIOS.find((s) => s.name === n) ?? (process.stderr.write(`unknown scenario ${n}\n${usage()}`), process.exit(2)));

await mkdir(RESULTS_DIR, { recursive: true });
const machine = { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
let failed = false;
// The scenarios measure a PostgreSQL of their own (its CPU, memory, durable settings): no DATABASE_URL.
const noPostgres = `The benchmarks measure a PostgreSQL of their own, so DATABASE_URL cannot stand in${process.getuid?.() === 0 ? ': run them as a user other than root (PostgreSQL then runs from the clone itself)' : ''}.`;
try {
  for (const scenario of chosen) {
    const workDir = await mkdtemp(join(tmpdir(), `ferry-bench-${scenario.name}-`));
    const started = new Date();
    // The machine may be shared: its load beside the figures says how much.
    const loadBefore = loadavg()[0]!;
    try {
      const result = await scenario.run({
        workDir,
        int: (name, fallback) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : fallback),
        progress: (m) => process.stderr.write(`[${scenario.name} ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${m}\n`),
      });
      const seconds = Math.round((Date.now() - started.getTime()) / 1000);
      const file = label ? `${scenario.name}@${label}.json` : `${scenario.name}.json`;
      await writeFile(join(RESULTS_DIR, file), JSON.stringify({ scenario: scenario.name, label, description: scenario.description, started: started.toISOString(), seconds, machine, load: { before: loadBefore, after: loadavg()[0]! }, ...result }, null, 2));
      if (result.verdicts.some((v) => !v.met)) failed = true;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
} catch (error) {
  exitIfUnavailable(error, noPostgres);
}
const report = await writeReport(RESULTS_DIR, SCENARIOS.map((s) => s.name));
process.stderr.write(`report: ${report.html} (${report.results} scenarios, ${report.rendered.charts} charts rendered in Chromium; screenshot ${report.rendered.pageScreenshot})\n`);
process.exitCode = failed ? 1 : 0;
