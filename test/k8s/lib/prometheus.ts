// A real Prometheus (Debian's prometheus package, installed by test/setup.sh)
// on loopback, with the scrape configuration and rule groups a test gives
// it, and its query API.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../../dev/free-port.js';
import { atEnd } from '../../helpers/cleanup.js';
import { waitFor } from '../../helpers/wait.js';

const PROMETHEUS = '/usr/bin/prometheus';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  /** An instant query at the current time. */
  query(expr: string): Promise<Sample[]>;
  /** What Prometheus printed, for failure messages. */
  output(): string;
}

/** Starts Prometheus with `scrapeConfigs` and `ruleGroups`, scraping and evaluating every `intervalSeconds`. */
export async function startPrometheus(scrapeConfigs: object[], ruleGroups: object[], intervalSeconds = 1): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-prometheus-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  const interval = `${intervalSeconds}s`;
  await writeFile(join(dir, 'rules.yaml'), stringify({ groups: ruleGroups }));
  await writeFile(join(dir, 'prometheus.yaml'), stringify({
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: [join(dir, 'rules.yaml')],
    scrape_configs: scrapeConfigs,
  }));
  const port = await freePort();
  const child = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yaml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => (output += `\n${err.message}`));
  atEnd(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited: ${output}`);
    return (await fetch(`${base}/-/ready`)).ok;
  }, 'Prometheus to be ready', 30_000, 100);

  return {
    async query(expr) {
      const res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Sample[] } };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data.resultType === 'vector' ? body.data.result : [];
    },
    output: () => output,
  };
}
