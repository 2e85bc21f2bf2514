// The benchmark report renders in headless Chromium, every chart with a size
// and saved as PNG, and every number in its tables is one of the JSON's.

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../../bench/report/write-report.js';
import type { StoredResult } from '../../bench/report/html-report.js';
import { formatNumber } from '../../bench/lib/table.js';
import { atEnd } from '../helpers/cleanup.js';

const result: StoredResult = {
  scenario: 'catch-up',
  description: 'a backlog through shipper → receiver → PostgreSQL vs psql \\copy & the naive pair <escaped>',
  started: '2026-11-23T12:00:00.000Z',
  seconds: 321,
  machine: { cpus: 2, node: 'v20.20.2' },
  table: '',
  rows: [
    { method: 'psql \\copy (ceiling)', 'rows/s': 151023.4, 'MB/s': 16.44 },
    { method: 'ferry (shipper → receiver → COPY)', 'rows/s': 105781.2, 'MB/s': 11.51 },
    { method: 'naive pair (extrapolated)', 'rows/s': 2345.6, 'MB/s': 0.25 },
  ],
  verdicts: [{ target: 'ferry >= 50% of psql \\copy', measured: '70%', met: true }, { target: 'p99 <= 250 ms', measured: '647 ms', met: false }],
  notes: ['The naive pair ran on a sample.'],
  charts: [
    { kind: 'bar', id: 'rate', title: 'rows/s', y: 'rows/s', bars: [{ label: 'psql \\copy', value: 151023.4, baseline: true }, { label: 'ferry', value: 105781.2 }, { label: 'naive', value: 2345.6, baseline: true, note: 'extrapolated' }] },
    { kind: 'line', id: 'cpu', title: 'CPU per process', x: 'seconds', y: '% of one core', series: [{ name: 'ferry-receiver', points: [[0, 10], [1, 80], [2, 95]] }, { name: 'rsyslogd', baseline: true, points: [[0, 5], [1, 40], [2, 42]] }] },
  ],
};

describe('benchmark report', () => {
  it('renders in Chromium with every chart, saves PNGs, and shows only numbers from the JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-report-'));
    atEnd(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'catch-up.json'), JSON.stringify(result));

    const report = await writeReport(dir, ['ingest', 'catch-up']);

    expect(report.results).toBe(1);
    expect(report.rendered.charts).toBe(2);
    for (const png of [report.rendered.pageScreenshot, ...report.rendered.chartScreenshots]) expect((await stat(png)).size).toBeGreaterThan(1000);
    const html = await readFile(report.html, 'utf8');
    expect(html).toContain('&lt;escaped&gt;');
    expect(html).toContain('MISSED: p99 &lt;= 250 ms');
    const cells = [...html.matchAll(/<td class="n">([^<]*)<\/td>/g)].map((m) => m[1]);
    const fromJson = new Set(result.rows.flatMap((r) => Object.values(r)).filter((v): v is number => typeof v === 'number').map(formatNumber));
    expect(cells.length).toBeGreaterThan(0);
    for (const cell of cells) expect(fromJson).toContain(cell);
  });
});
