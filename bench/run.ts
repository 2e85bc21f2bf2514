// npm run bench [-- scenario ...]: runs the named scenarios (all by default),
// prints their tables and writes bench/results/<scenario>.json.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario.js';
import { e2e } from './scenarios/e2e.js';
import { ingest } from './scenarios/ingest.js';
import { latency } from './scenarios/latency.js';
import { recording } from './scenarios/recording.js';
import { shipper } from './scenarios/shipper.js';

const SCENARIOS: Scenario[] = [ingest, shipper, e2e, latency, recording];
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function usage(): string {
  return `Usage: npm run bench [-- <scenario> ...]\n\nScenarios:\n${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.description}`).join('\n')}\n`;
}

const names = process.argv.slice(2);
if (names.includes('--help') || names.includes('-h')) {
  process.stdout.write(usage());
  process.exit(0);
}
const chosen = names.length === 0 ? SCENARIOS : names.map((n) => SCENARIOS.find((s) => s.name === n) ?? (process.stderr.write(`unknown scenario ${n}\n${usage()}`), process.exit(2)));

await mkdir(RESULTS_DIR, { recursive: true });
const machine = { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
let failed = false;
for (const scenario of chosen) {
  const workDir = await mkdtemp(join(tmpdir(), `ferry-bench-${scenario.name}-`));
  const started = new Date();
  try {
    const result = await scenario.run({
      workDir,
      int: (name, fallback) => (process.env[name] ? Number.parseInt(process.env[name]!, 10) : fallback),
      progress: (m) => process.stderr.write(`[${scenario.name} ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${m}\n`),
    });
    await writeFile(join(RESULTS_DIR, `${scenario.name}.json`), JSON.stringify({ scenario: scenario.name, started: started.toISOString(), machine, ...result }, null, 2));
    if (result.verdicts.some((v) => !v.met)) failed = true;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
process.exitCode = failed ? 1 : 0;
