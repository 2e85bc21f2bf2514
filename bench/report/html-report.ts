// The report: one HTML page drawn only from the scenarios' JSON results
// (tables, targets, notes, charts), so every number in it is one of the run's.

import type { ScenarioResult, Row } from '../scenario.js';
import { formatNumber } from '../lib/table.js';
import { escapeXml, renderChart } from './svg-chart.js';

/** A scenario's JSON file, as run.ts writes it. */
export interface StoredResult extends ScenarioResult {
  scenario: string;
  /** A labelled run (BENCH_LABEL), shown beside the plain one. */
  label?: string;
  /** Absent in results written before the report existed. */
  description?: string;
  started: string;
  seconds?: number;
  /** One-minute load average when the scenario started and ended. */
  load?: { before: number; after: number };
  machine: Record<string, string | number | undefined>;
}

/** Where a chart's PNG is written, relative to the report. */
export function chartPng(scenario: string, chartId: string): string {
  return `charts/${scenario}-${chartId}.png`;
}

function table(rows: readonly Row[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? `<td class="n">${formatNumber(v)}</td>` : `<td>${escapeXml(v ?? '')}</td>`);
  return `<table><thead><tr>${cols.map((c) => `<th>${escapeXml(c)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${cols.map((c) => cell(r[c])).join('')}</tr>`).join('\n')}</tbody></table>`;
}

/** The scenario's name, with the run's label when it has one: the section's id and the file's name. */
export function runName(r: StoredResult): string {
  return r.label ? `${r.scenario}@${r.label}` : r.scenario;
}

function section(r: StoredResult): string {
  const met = r.verdicts.filter((v) => v.met).length;
  const name = runName(r);
  return `<section id="${escapeXml(name)}">
<h2>${escapeXml(name)} <span class="${met === r.verdicts.length ? 'ok' : 'missed'}">${met}/${r.verdicts.length} targets met</span></h2>
<p class="what">${escapeXml(r.description ?? '')}</p>
<p class="when">run ${escapeXml(r.started)}${r.seconds === undefined ? '' : `, ${formatNumber(r.seconds)} s`}${r.load ? `, load average ${r.load.before.toFixed(1)} → ${r.load.after.toFixed(1)} on ${escapeXml(String(r.machine.cpus))} cores` : ''}; data: <a href="${escapeXml(name)}.json">${escapeXml(name)}.json</a></p>
${table(r.rows)}
${Object.entries(r.tables ?? {}).map(([title, rows]) => `<h3>${escapeXml(title)}</h3>\n${table(rows)}`).join('\n')}
<ul class="verdicts">${r.verdicts.map((v) => `<li class="${v.met ? 'ok' : 'missed'}">${v.met ? 'met' : 'MISSED'}: ${escapeXml(v.target)} — measured ${escapeXml(v.measured)}</li>`).join('')}</ul>
${(r.notes ?? []).length > 0 ? `<ul class="notes">${r.notes!.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>` : ''}
<div class="charts">${(r.charts ?? []).map((c) => `<figure>${renderChart(c)}<figcaption><a href="${chartPng(name, c.id)}">PNG</a></figcaption></figure>`).join('\n')}</div>
</section>`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1600px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
h2 span { font-size: 0.8rem; font-weight: normal; margin-left: 0.6rem; }
.ok { color: #1e7a34; } .missed { color: #b3261e; font-weight: 600; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; } th { background: #f4f4f4; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.what, .when { margin: 0.2rem 0; color: #444; } .notes { color: #555; font-size: 0.9rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; } figcaption { font-size: 0.8rem; }
`;

export function buildReport(results: readonly StoredResult[], generated: Date): string {
  const machine = results[0]?.machine ?? {};
  const summary = results.map((r) => ({ scenario: runName(r), run: r.started, 'targets met': `${r.verdicts.filter((v) => v.met).length}/${r.verdicts.length}` }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferry benchmarks</title><style>${STYLE}</style></head>
<body>
<h1>ferry benchmarks</h1>
<p>Generated ${escapeXml(generated.toISOString())} from the JSON files beside this page. Machine: ${escapeXml(Object.entries(machine).map(([k, v]) => `${k} ${v}`).join(', '))}. Every figure beside its baseline, measured in the same run on the same data.</p>
${table(summary)}
${results.map(section).join('\n')}
</body></html>
`;
}
