// The alerts as an SRE adopting ferry reads them: each is fleet-level,
// waits out a `for:`, says what happened and links its own runbook section;
// and promtool's rule unit tests (alerts.promtool.yaml) show each one firing
// on a series that should fire it and staying quiet on one that must not:
// a burst of client hang-ups, a receiver restart, one rejected line, one
// student's workspace.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REQUEST_ERRORS } from '../../receiver/errors.js';
import { atEnd } from '../helpers/cleanup.js';
import { rulesOf, type Rule } from './lib/promql.js';
import { K8S_DIR, only, render, type K8sObject } from './lib/render.js';

const exec = promisify(execFile);
/** Debian's prometheus package (test/setup.sh installs it). */
const PROMTOOL = '/usr/bin/promtool';
const UNIT_TESTS = new URL('alerts.promtool.yaml', import.meta.url);
const RUNBOOK = new URL('../../docs/runbook.md', import.meta.url);

interface UnitTests {
  rule_files: string[];
  tests: Array<{
    name: string;
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: Array<{ exp_labels?: Record<string, string> }> }>;
  }>;
}

/** GitHub's anchor for a markdown heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

/** Seconds in a Prometheus duration such as `15m` or `1h`. */
function seconds(duration: string): number {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const m = /^(\d+)([smhd])$/.exec(duration);
  if (!m) throw new Error(`not a duration: ${duration}`);
  return Number(m[1]) * units[m[2]!]!;
}

let rule: K8sObject;
let alerts: Rule[];
let unitTests: UnitTests;
let settings: { release: string; runbookUrl: string };

beforeAll(async () => {
  rule = only(await render('monitoring'), 'PrometheusRule');
  alerts = rulesOf(rule).filter((r) => r.alert);
  unitTests = parse(await readFile(UNIT_TESTS, 'utf8'));
  settings = parse(await readFile(join(K8S_DIR, 'monitoring/settings.yaml'), 'utf8')).data;
});

async function promtool(args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec(PROMTOOL, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout + stderr;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${PROMTOOL} is missing: test/setup.sh installs Debian's prometheus package`);
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout}\n${e.stderr}`);
  }
}

describe('promtool', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-promtool-'));
    atEnd(() => rm(dir, { recursive: true, force: true }));
  });

  it('accepts the rules as Prometheus loads them, templates included', async () => {
    await writeFile(join(dir, 'all-rules.yaml'), stringify({ groups: rule.spec.groups }));
    expect(await promtool(['check', 'rules', join(dir, 'all-rules.yaml')])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes the rule unit tests: every alert fires on its series and stays quiet on the others', async () => {
    // The unit tests compare labels and the summary; description and runbook_url are static, checked below.
    const groups = structuredClone(rule.spec.groups) as Array<{ rules: Rule[] }>;
    for (const r of groups.flatMap((g) => g.rules)) {
      if (r.annotations) r.annotations = { summary: r.annotations.summary! };
    }
    await writeFile(join(dir, 'rules.yaml'), stringify({ groups }));
    expect(unitTests.rule_files).toEqual(['rules.yaml']);
    await writeFile(join(dir, 'alerts.promtool.yaml'), await readFile(UNIT_TESTS, 'utf8'));
    expect(await promtool(['test', 'rules', join(dir, 'alerts.promtool.yaml')])).toContain('SUCCESS');
  }, 120_000);
});

describe('the unit tests', () => {
  const cases = () => unitTests.tests.flatMap((t) => (t.alert_rule_test ?? []).map((c) => ({ test: t.name, ...c })));

  it('give every alert a case where it fires and one where it must not', () => {
    for (const { alert } of alerts) {
      const mine = cases().filter((c) => c.alertname === alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} fires somewhere`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} stays quiet somewhere`).toBe(true);
    }
    expect(cases().filter((c) => !alerts.some((a) => a.alert === c.alertname))).toEqual([]);
  });

  it('show every alert fleet-level: none fires per pod or per scrape target', () => {
    const labels = cases().flatMap((c) => (c.exp_alerts ?? []).map((a) => Object.keys(a.exp_labels ?? {})));
    expect(labels.length).toBeGreaterThan(alerts.length);
    expect(labels.flat().filter((l) => ['pod', 'instance', 'job'].includes(l))).toEqual([]);
  });

  it('include a burst of client hang-ups and a receiver restart', () => {
    const text = JSON.stringify(unitTests);
    expect(text).toContain('code=\\"client_aborted\\"');
    expect(unitTests.tests.filter((t) => /restart/.test(t.name)).length).toBeGreaterThanOrEqual(2);
  });
});

describe('every alert', () => {
  it('waits out a for:, and has a severity, a summary and a description', () => {
    for (const a of alerts) {
      expect(seconds(a.for ?? ''), a.alert).toBeGreaterThan(0);
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description?.length, a.alert).toBeGreaterThan(40);
    }
  });

  it('links its own section of docs/runbook.md, under the runbook URL of the settings', async () => {
    const runbook = await readFile(RUNBOOK, 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{2,4} (.+)$/gm)].map(([, h]) => anchor(h!)));
    for (const a of alerts) {
      expect(a.annotations?.runbook_url, a.alert).toBe(`${settings.runbookUrl}#${a.alert!.toLowerCase()}`);
      expect(anchors, a.alert).toContain(a.alert!.toLowerCase());
    }
    // The situations an operator meets before knowing which alert it is.
    for (const section of ['a-stuck-shipper', 'a-rejecting-receiver', 'a-database-outage', 'a-full-disk']) expect(anchors).toContain(section);
  });
});

it('counts as the receiver\'s errors exactly the catalogue\'s 5xx codes (not client_aborted, not 4xx)', () => {
  const errors = rulesOf(rule).find((r) => r.record === 'namespace:ferry_receiver_request_errors:rate5m')!;
  const codes = /code=~"([^"]+)"/.exec(errors.expr)![1]!.split('|');
  const serverSide = Object.entries(REQUEST_ERRORS).filter(([, e]) => e.status >= 500).map(([code]) => code);
  expect(codes).toEqual(serverSide.sort());
  expect(codes).not.toContain('client_aborted');
});

it.each(['monitoring', 'overlays/self-contained', 'overlays/managed', 'overlays/pgbouncer'])(
  '%s: labels the monitors and the rule with the release a kube-prometheus-stack Prometheus selects',
  async (kustomization) => {
    const objects = (await render(kustomization)).filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'));
    expect(objects.map((o) => o.kind).sort()).toEqual(['PodMonitor', 'PrometheusRule', 'ServiceMonitor']);
    for (const o of objects) expect(o.metadata.labels?.release, o.kind).toBe(settings.release);
  },
);
