// A real Prometheus scrapes a real receiver and two real shippers (one of
// them refused by the receiver) every second, with the PodMonitor's metric
// relabeling and the PrometheusRule's groups as a cluster would run them.
// Every query of the Grafana dashboard returns series, and a shipper that is
// stopped (SIGSTOP) while its files grow raises the lag alert's expression;
// let go, it ships every line exactly once and the expression clears.
// (The alerts' `for:` durations are minutes long: the test evaluates their
// expressions, and promtool's unit tests cover the rest.)

import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { startS3 } from '../../dev/embedded-s3.js';
import { freePort } from '../../dev/free-port.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { postLines } from '../helpers/http.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperDirs, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { relabelConfig, rulesOf } from './lib/promql.js';
import { startPrometheus, type Prometheus } from './lib/prometheus.js';
import { K8S_DIR, only, render, type K8sObject } from './lib/render.js';
import { receiverS3 } from '../helpers/recording.js';

/** Grafana's values for the dashboard's variables: every namespace and pipeline, and a rate window of four 1 s scrapes. */
function asGrafanaSends(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5s').replace(/\$(namespace|workspace_namespace|pipeline)\b/g, '.*');
}

const command = (n: number) => JSON.stringify({ command: `echo ${n}`, exit_code: 0, timestamp: 1763892000 + n }) + '\n';

let prometheus: Prometheus;
let monitoring: K8sObject[];
let db: pg.Pool;
let stoppable: ShipperProcess;
let stoppableDirs: ShipperDirs;
let receiverUrl: string;

beforeAll(async () => {
  monitoring = await render('monitoring');
  const s3 = await startS3();
  atEnd(() => s3.destroy());
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
  const url = await freshDatabase();
  db = queryPool(url);
  const receiverPort = await freePort();
  receiverUrl = `http://127.0.0.1:${receiverPort}`;

  // Started before the receiver listens: its first attempts fail and are retried.
  stoppableDirs = await shipperDirs();
  await mkdir(stoppableDirs.runtimeDir, { recursive: true });
  await writeFile(join(stoppableDirs.runtimeDir, 'command-log.jsonl'), command(0));
  await writeFile(join(stoppableDirs.runtimeDir, 'state-events.jsonl'), '{"event_type":"step_started","step_id":"s1","timestamp":1763892000}\nnot json\n');
  await writeFile(join(stoppableDirs.runtimeDir, 'llm-history.jsonl'), '{"step_id":"s1","prompt_context":{},"response":"r","model":"m","requested_at":1763892000}\n');
  await writeFile(join(stoppableDirs.runtimeDir, 'session.cast'), '{"version":2,"width":80,"height":24}\n[0.1,"o","$ "]\n');
  stoppable = await startShipper(shipperEnv(receiverUrl, stoppableDirs, 'workshop-workspace-a', { ...s3.shipperEnv, RECORDING_SYNC_INTERVAL_MS: '200' }));
  await stoppable.waitForLog((l) => l.msg === 'delivery failed; retrying');

  await startTestReceiver(url, { port: receiverPort, ...receiverS3(s3) });
  const refusedDirs = await shipperDirs();
  await mkdir(refusedDirs.runtimeDir, { recursive: true });
  await writeFile(join(refusedDirs.runtimeDir, 'command-log.jsonl'), command(0));
  const refused = await startShipper(shipperEnv(receiverUrl, refusedDirs, 'workshop-workspace-b', { INGEST_TOKEN: 'not-the-ingest-token' }));
  await refused.waitForLog((l) => String(l.msg).startsWith('receiver REFUSED'));
  // A duplicate and an offset gap, for the dashboard's panel of both.
  for (const offset of [0, 0, 1_000_000]) await postLines(receiverUrl, 'commands', command(0), { workspace: 'ws-probe', offset });

  const podMonitor = only(monitoring, 'PodMonitor');
  const endpoint = podMonitor.spec.podMetricsEndpoints[0];
  const target = (url: string, namespace: string, pod: string) => ({ targets: [new URL(url).host], labels: { namespace, pod } });
  prometheus = await startPrometheus([
    // The ServiceMonitor's job: the operator names it after the Service.
    { job_name: 'ferry-receiver', static_configs: [target(receiverUrl, 'workshop-system', 'ferry-receiver-0')] },
    {
      job_name: 'ferry-shipper',
      metrics_path: endpoint.path,
      static_configs: [target(stoppable.metricsUrl, 'workshop-1', 'workshop-workspace-a'), target(refused.metricsUrl, 'workshop-2', 'workshop-workspace-b')],
      metric_relabel_configs: endpoint.metricRelabelings.map(relabelConfig),
    },
  ], only(monitoring, 'PrometheusRule').spec.groups);
  await waitFor(async () => (await prometheus.query('up == 1')).length === 3, 'three targets up', 20_000, 250);
  // The rules run on their own tick: one that ran before a shipper's first scrape leaves that pod out until the next.
  await waitFor(async () => (await prometheus.query('namespace_pod:ferry_shipper_up:max == 1')).length === 2, 'the rules to see both shippers up', 20_000, 250);
  await waitFor(async () => (await db.query("SELECT 1 FROM recording_refs WHERE workspace_id = 'workshop-workspace-a'")).rowCount === 1, 'the recording synced');
}, 120_000);

it('scrapes the receiver by the Service\'s name and the shippers through the PodMonitor\'s relabeling', async () => {
  expect(only(monitoring, 'ServiceMonitor').spec.jobLabel).toBeUndefined();
  expect(only(await render('receiver'), 'Service').metadata.name).toBe('ferry-receiver');
  expect(await prometheus.query('count by (job) (up)')).toHaveLength(2);
  // Node's default metrics stay on the shippers' pages; the receiver keeps them.
  expect(await prometheus.query('{job="ferry-shipper", __name__=~"ferry_shipper_nodejs_.+"}')).toEqual([]);
  expect((await prometheus.query('{job="ferry-receiver", __name__=~"ferry_receiver_nodejs_.+"}')).length).toBeGreaterThan(0);
});

describe('the Grafana dashboard', () => {
  it('gets series from every query, its variables set to all', async () => {
    const dashboard = JSON.parse(await readFile(join(K8S_DIR, 'monitoring/grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: asGrafanaSends(t.expr) })));
    expect(queries.length).toBeGreaterThan(20);
    let empty: typeof queries = [];
    await waitFor(async () => {
      empty = [];
      for (const q of queries) if ((await prometheus.query(q.expr)).length === 0) empty.push(q);
      return empty.length === 0;
    }, 'every query to return series', 30_000, 500).catch(() => undefined);
    expect(empty).toEqual([]);
  }, 60_000);
});

describe('the lag alert', () => {
  const alertExpr = () => rulesOf(only(monitoring, 'PrometheusRule')).find((r) => r.alert === 'FerryShippersBehind')!.expr;

  it('stays quiet while the shippers answer, even the one the receiver refuses', async () => {
    expect(await prometheus.query(alertExpr())).toEqual([]);
  });

  it('is raised by a stopped shipper whose files grow, and clears once it ships them, each line once', async () => {
    stoppable.child.kill('SIGSTOP');
    const lines = Array.from({ length: 20 }, (_, i) => command(i + 1)).join('');
    await appendFile(join(stoppableDirs.runtimeDir, 'command-log.jsonl'), lines);
    const raised = await waitFor(async () => {
      const result = await prometheus.query(alertExpr());
      return result.length > 0 && result;
    }, 'the lag alert\'s expression', 20_000, 250);
    expect(Number(raised[0]!.value[1])).toBe(0.5);
    expect(await prometheus.query('namespace_pod:ferry_shipper_up:max{pod="workshop-workspace-a"} == 0')).toHaveLength(1);

    stoppable.child.kill('SIGCONT');
    await waitFor(async () => (await db.query("SELECT 1 FROM command_log WHERE workspace_id = 'workshop-workspace-a'")).rowCount === 21, 'every command line', 20_000, 100);
    const { rows } = await db.query("SELECT command, count(*)::int AS n FROM command_log WHERE workspace_id = 'workshop-workspace-a' GROUP BY 1 ORDER BY 1");
    expect(rows).toEqual(Array.from({ length: 21 }, (_, i) => ({ command: `echo ${i}`, n: 1 })).sort((a, b) => a.command.localeCompare(b.command)));
    await waitFor(async () => (await prometheus.query(alertExpr())).length === 0, 'the expression to clear', 20_000, 250);
  }, 60_000);
});
