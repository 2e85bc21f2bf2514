// The Grafana dashboard, the rules and the shipper's PodMonitor use only
// series that exist: a real receiver and a real shipper run, ship lines, and
// their live /metrics pages are the reference; names with a colon must be
// recorded by the rules, and the shipper's names must survive the
// PodMonitor's relabeling. Every query is filtered by the dashboard's
// variables, and an idle shipper exports what the README says.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLog } from '../../shipper/json-log.js';
import { createProcessRegistry } from '../../shared/metric-classes.js';
import { createShipperEvents } from '../../shipper/observe.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { keptNames, rulesOf, selectors, type Rule, type Selector } from './lib/promql.js';
import { K8S_DIR, only, render, type K8sObject } from './lib/render.js';

const ROOT = new URL('../../', import.meta.url);

/** Series of other exporters the rules use, by the names kube-state-metrics and the kubelet give them. */
const KUBERNETES_SERIES = new Set([
  'kube_deployment_spec_replicas', 'kube_deployment_status_replicas_available',
  'kube_horizontalpodautoscaler_status_current_replicas', 'kube_horizontalpodautoscaler_spec_max_replicas',
  'kube_pod_container_status_waiting_reason', 'kube_pod_init_container_status_waiting_reason',
  'kube_pod_container_status_restarts_total', 'kube_pod_init_container_status_restarts_total',
  'kube_pod_container_status_last_terminated_reason', 'kube_pod_init_container_status_last_terminated_reason',
  'kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes',
]);

/** The series names a /metrics page can hold, from its `# TYPE` lines (a labelled series appears only once observed). */
function exported(page: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** The samples of a /metrics page, one per series. */
const samples = (page: string) => page.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const sampleName = (line: string) => /^[^{ ]+/.exec(line)![0];

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

let live: Set<string>;
let shipperPage: string;
let keep: RegExp;
let rules: Rule[];
let recorded: Set<string>;
let dashboard: { panels: Panel[]; templating: { list: Array<{ name: string; query?: string | { query: string } }> } };
/** Shipper metrics with a pipeline label, from the shipper's own definitions. */
let pipelineLabelled: Set<string>;

beforeAll(async () => {
  const url = await freshDatabase();
  const receiver = await startTestReceiver(url);
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const shipper = await startShipper(shipperEnv(receiver.url, dirs, 'ws-metrics'));
  // One line in each file: an idle shipper that has shipped on every pipeline.
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), '{"command":"ls","exit_code":0,"timestamp":1763892000}\n');
  await writeFile(join(dirs.runtimeDir, 'state-events.jsonl'), '{"event_type":"step_started","step_id":"s1","timestamp":1763892000}\n');
  await writeFile(join(dirs.runtimeDir, 'llm-history.jsonl'), '{"step_id":"s1","prompt_context":{},"response":"r","model":"m","requested_at":1763892000}\n');
  const db = queryPool(url);
  await waitFor(async () => (await db.query('SELECT (SELECT count(*) FROM command_log) + (SELECT count(*) FROM state_timeline) + (SELECT count(*) FROM llm_interactions) AS n')).rows[0].n === '3', 'a line in each table');
  const receiverPage = await (await fetch(`${receiver.url}/metrics`)).text();
  shipperPage = await (await fetch(`${shipper.metricsUrl}/metrics`)).text();
  live = new Set([...exported(receiverPage), ...exported(shipperPage)]);

  const monitoring = await render('monitoring');
  keep = keptNames(only(monitoring, 'PodMonitor'));
  rules = rulesOf(only(monitoring, 'PrometheusRule'));
  recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
  dashboard = JSON.parse(await readFile(join(K8S_DIR, 'monitoring/grafana-dashboard.json'), 'utf8'));

  const registry = createProcessRegistry('ferry_shipper_');
  createShipperEvents(registry, createLog('ferry-shipper', 'silent'), () => 0);
  pipelineLabelled = new Set(registry.getMetricsAsArray()
    .filter((m) => (m as unknown as { labelNames: string[] }).labelNames.includes('pipeline'))
    .flatMap((m) => [m.name, `${m.name}_sum`, `${m.name}_count`, `${m.name}_bucket`]));
});

/** Why a selected series would never exist, or '' when it does. */
function missing({ name }: Selector, external: Set<string>): string {
  if (name.startsWith('ferry_shipper_')) return !live.has(name) ? 'not exported' : keep.test(name) ? '' : 'dropped by the PodMonitor';
  if (name.startsWith('ferry_receiver_')) return live.has(name) ? '' : 'not exported';
  if (name.includes(':')) return recorded.has(name) ? '' : 'not recorded by the rules';
  return name === 'up' || external.has(name) ? '' : 'from no known exporter';
}

describe('the Grafana dashboard', () => {
  let panels: Panel[];
  let queries: string[];

  beforeAll(() => {
    panels = dashboard.panels.filter((p) => p.type !== 'row');
    queries = panels.flatMap((p) => p.targets!.map((t) => t.expr));
  });

  it('gives every panel at least one query', () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) expect(p.targets?.filter((t) => t.expr).length, p.title).toBeGreaterThan(0);
  });

  it('opens with a row that answers "is ferry healthy?": ingest rate, error ratio, p99 latency, lag, rejects, replicas', () => {
    const [row, ...rest] = dashboard.panels;
    expect(row!.type).toBe('row');
    const top = rest.slice(0, rest.findIndex((p) => p.type === 'row'));
    expect(top.map((p) => p.type)).toEqual(Array(6).fill('stat'));
    expect(top.map((p) => p.title)).toEqual(['Ingest rate', 'Error ratio', 'Ingest p99', 'Oldest unshipped line', 'Rejected lines / s', 'Receivers up']);
  });

  it('queries only series the programs export (and the PodMonitor keeps) or the rules record', () => {
    // A variable's label_values(metric, label) selects its first argument.
    const variables = dashboard.templating.list.flatMap((v) => (typeof v.query === 'object' ? [/^label_values\(([^,]+),/.exec(v.query.query)![1]!] : []));
    const used = [...queries, ...variables].flatMap((q) => selectors(q));
    expect(used.length).toBeGreaterThan(panels.length);
    expect(used.map((s) => [s.name, missing(s, new Set())]).filter(([, why]) => why)).toEqual([]);
  });

  it('filters every query by the variables of its program: namespace for the receiver, workspace namespace and pipeline for the shippers', () => {
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(['datasource', 'namespace', 'workspace_namespace', 'pipeline']);
    const unfiltered = queries.flatMap((q) => selectors(q)).filter((s) => {
      const shipper = s.name.includes('ferry_shipper_') || s.matchers.includes('job="ferry-shipper"');
      const needed = shipper ? ['namespace=~"$workspace_namespace"'] : ['namespace=~"$namespace"'];
      if (shipper && pipelineLabelled.has(s.name)) needed.push('pipeline=~"$pipeline"');
      return needed.some((m) => !s.matchers.includes(m));
    });
    expect(unfiltered).toEqual([]);
  });

  it('is shipped as the ConfigMap Grafana\'s sidecar loads', async () => {
    const map = only(await render('monitoring'), 'ConfigMap');
    expect(map.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(map.data['ferry.json'])).toEqual(dashboard);
  });
});

describe('the PrometheusRule', () => {
  it('uses only series the programs export (the PodMonitor keeps), the rules record, or kube-state-metrics and the kubelet provide', () => {
    const used = rules.flatMap((r) => selectors(r.expr));
    expect(used.map((s) => [s.name, missing(s, KUBERNETES_SERIES)]).filter(([, why]) => why)).toEqual([]);
    // And every Kubernetes series named above is used.
    expect([...KUBERNETES_SERIES].filter((name) => !used.some((s) => s.name === name))).toEqual([]);
  });

  it('records only series an alert, another rule or the dashboard reads', () => {
    const read = new Set([...rules.flatMap((r) => selectors(r.expr)), ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => selectors(t.expr)))]
      .map((s) => s.name).filter((n) => n.includes(':')));
    expect([...recorded].filter((name) => !read.has(name))).toEqual([]);
  });
});

describe('the shipper\'s PodMonitor', () => {
  let objects: K8sObject[];

  beforeAll(async () => {
    objects = await render('monitoring');
  });

  it('keeps only series the dashboard, the rules or the runbook use', async () => {
    const runbook = await readFile(new URL('docs/runbook.md', ROOT), 'utf8');
    const dashboardText = JSON.stringify(dashboard);
    const used = (name: string) => rules.some((r) => selectors(r.expr).some((s) => s.name === name)) || dashboardText.includes(name) || runbook.includes(name);
    const kept = [...live].filter((name) => name.startsWith('ferry_shipper_') && keep.test(name));
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.filter((name) => !used(name))).toEqual([]);
  });

  it('sets the job label the rules select shippers by', () => {
    const monitor = only(objects, 'PodMonitor');
    expect(monitor.spec.podMetricsEndpoints[0].relabelings).toContainEqual({ targetLabel: 'job', replacement: 'ferry-shipper' });
    expect(rules.some((r) => r.expr.includes('job="ferry-shipper"'))).toBe(true);
  });

  it('leaves an idle shipper with the number of series the README states, under a third of what it serves', async () => {
    const readme = await readFile(new URL('README.md', ROOT), 'utf8');
    const stated = /an\s+idle\s+shipper\s+exports\s+(\d+)\s+series\s+instead\s+of\s+(\d+)/.exec(readme);
    expect(stated, 'the README\'s sentence').not.toBeNull();
    const all = samples(shipperPage);
    const kept = all.filter((line) => keep.test(sampleName(line)));
    expect(kept.length).toBe(Number(stated![1]));
    // Node's default metrics vary a little with the version (GC kinds, heap spaces).
    expect(all.length).toBeGreaterThanOrEqual(Number(stated![2]) - 10);
    expect(kept.length * 3).toBeLessThan(all.length);
  });
});
