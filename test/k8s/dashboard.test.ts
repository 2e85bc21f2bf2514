// The Grafana dashboard and the alerts use only metrics the programs really
// export: a real receiver and a real shipper run, ship a line, and their live
// /metrics pages are the reference.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import { K8S_DIR, only, render } from './lib/render.js';

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

const ferryMetrics = (expr: string) => [...expr.matchAll(/\bferry_[a-z0-9_]+/g)].map((m) => m[0]);

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

let live: Set<string>;

beforeAll(async () => {
  const url = await freshDatabase();
  const receiver = await startTestReceiver(url);
  const dirs = await shipperDirs();
  await mkdir(dirs.runtimeDir, { recursive: true });
  const shipper = await startShipper(shipperEnv(receiver.url, dirs, 'ws-metrics'));
  await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), '{"command":"ls","exit_code":0,"timestamp":1763892000}\n');
  const db = queryPool(url);
  await waitFor(async () => (await db.query('SELECT 1 FROM command_log')).rowCount === 1, 'the line in command_log');
  const pages = await Promise.all([receiver.url, shipper.metricsUrl].map(async (base) => (await fetch(`${base}/metrics`)).text()));
  live = new Set(pages.flatMap((page) => [...exported(page)]));
});

describe('the Grafana dashboard', () => {
  let panels: Panel[];
  let dashboard: { panels: Panel[]; templating: { list: Array<{ query?: unknown }> } };

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(join(K8S_DIR, 'monitoring/grafana-dashboard.json'), 'utf8'));
    panels = dashboard.panels.filter((p) => p.type !== 'row');
  });

  it('gives every panel at least one query', () => {
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) expect(p.targets?.filter((t) => t.expr).length, p.title).toBeGreaterThan(0);
  });

  it('queries only metrics the receiver and the shipper export', () => {
    const used = [...panels.flatMap((p) => p.targets!.flatMap((t) => ferryMetrics(t.expr))), ...ferryMetrics(JSON.stringify(dashboard.templating))];
    expect(used.length).toBeGreaterThan(panels.length);
    expect([...new Set(used)].filter((name) => !live.has(name))).toEqual([]);
  });

  it('is shipped as the ConfigMap Grafana\'s sidecar loads', async () => {
    const map = only(await render('monitoring'), 'ConfigMap');
    expect(map.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(map.data['ferry.json'])).toEqual(dashboard);
  });
});

describe('the PrometheusRule', () => {
  let alerts: Array<{ alert: string; expr: string }>;

  beforeAll(async () => {
    const rule = only(await render('monitoring'), 'PrometheusRule');
    alerts = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
  });

  it('alerts on lag, retries, refusals, rejects, 5xx, the database, the recording and the certificate', () => {
    expect(alerts.map((a) => a.alert)).toEqual(expect.arrayContaining([
      'FerryShipperLagGrowing', 'FerryShipperRetriesSustained', 'FerryShipperRequestsRefused', 'FerryRejectsAppearing',
      'FerryReceiver5xx', 'FerryDatabaseUnavailable', 'FerryRecordingNotSynced',
      'FerryShipperCertificateUntrusted', 'FerryReceiverCertificateRenewalFailed', 'FerryReceiverCertificateExpiring',
    ]));
  });

  it('uses only metrics the receiver and the shipper export', () => {
    for (const a of alerts) {
      expect(ferryMetrics(a.expr).length, a.alert).toBeGreaterThan(0);
      expect(ferryMetrics(a.expr).filter((name) => !live.has(name)), a.alert).toEqual([]);
    }
  });
});
