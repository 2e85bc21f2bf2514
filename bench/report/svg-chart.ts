// Charts as SVG text, small enough to read: a line chart over time and a
// horizontal bar chart. No charting library: these two shapes are all the
// report needs, and the SVG inlines into the HTML and screenshots to PNG as is.

import type { BarChart, Chart, LineChart } from '../lib/charts.js';
import { formatNumber } from '../lib/table.js';

const WIDTH = 760;
const PLOT_HEIGHT = 240;
const MARGIN = { left: 70, right: 20, top: 36, bottom: 44 };
const LEGEND_ROW = 18;
/** ferry's lines in strong colours; baselines in their own, dashed. */
const FERRY_COLOURS = ['#1f5fbf', '#2a9d4b', '#7b3fb5', '#0e8fa3', '#b5178a'];
const BASELINE_COLOURS = ['#d1492e', '#e08a00', '#7a5a3a', '#6b6b6b', '#a33d5c'];

export function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** Round tick steps (1, 2, 5 × 10^n) covering 0..max. */
export function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Axis labels stay short: 20M, 150k. */
function tickLabel(v: number): string {
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return formatNumber(v);
}

function colourer() {
  let ferry = 0;
  let baseline = 0;
  return (isBaseline: boolean | undefined) => (isBaseline ? BASELINE_COLOURS[baseline++ % BASELINE_COLOURS.length]! : FERRY_COLOURS[ferry++ % FERRY_COLOURS.length]!);
}

function frame(chart: Chart, height: number, body: string): string {
  return `<svg class="chart" data-chart="${escapeXml(chart.id)}" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${MARGIN.left}" y="20" font-size="14" font-weight="600">${escapeXml(chart.title)}</text>
${body}
</svg>`;
}

function lineChart(chart: LineChart): string {
  const series = chart.series.filter((s) => s.points.length > 0);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xTicks = ticks(Math.max(1e-9, ...xs));
  const yTicks = ticks(Math.max(1e-9, ...ys));
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const X = (v: number) => MARGIN.left + (v / xMax) * plotW;
  const Y = (v: number) => MARGIN.top + PLOT_HEIGHT - (v / yMax) * PLOT_HEIGHT;
  const colour = colourer();
  const parts: string[] = [];
  for (const v of yTicks) parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e4e4e4"/><text x="${MARGIN.left - 6}" y="${Y(v) + 4}" text-anchor="end" fill="#444">${tickLabel(v)}</text>`);
  for (const v of xTicks) parts.push(`<text x="${X(v)}" y="${MARGIN.top + PLOT_HEIGHT + 16}" text-anchor="middle" fill="#444">${tickLabel(v)}</text>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_HEIGHT}" stroke="#888"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + PLOT_HEIGHT}" y2="${MARGIN.top + PLOT_HEIGHT}" stroke="#888"/>`);
  parts.push(`<text x="${WIDTH - MARGIN.right}" y="${MARGIN.top + PLOT_HEIGHT + 34}" text-anchor="end" fill="#444">${escapeXml(chart.x)}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle" fill="#444">${escapeXml(chart.y)}</text>`);
  const legendTop = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom;
  series.forEach((s, i) => {
    const c = colour(s.baseline);
    const dash = s.baseline ? ' stroke-dasharray="6 3"' : '';
    const d = s.points.filter((p) => Number.isFinite(p[1])).map((p, j) => `${j === 0 ? 'M' : 'L'}${X(p[0]).toFixed(1)} ${Y(p[1]).toFixed(1)}`).join(' ');
    // A single point draws no line: mark it.
    parts.push(s.points.length === 1 ? `<circle cx="${X(s.points[0]![0])}" cy="${Y(s.points[0]![1])}" r="3" fill="${c}"/>` : `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.8"${dash}/>`);
    const ly = legendTop + i * LEGEND_ROW;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2.5"${dash}/><text x="${MARGIN.left + 30}" y="${ly}">${escapeXml(s.name)}${s.baseline ? ' (baseline)' : ''}</text>`);
  });
  return frame(chart, legendTop + series.length * LEGEND_ROW + 6, parts.join('\n'));
}

const BAR = { label: 300, height: 22, gap: 8 };

function barChart(chart: BarChart): string {
  const max = Math.max(1e-9, ...chart.bars.map((b) => b.value));
  const xTicks = ticks(max);
  const xMax = xTicks.at(-1)!;
  const left = BAR.label + 10;
  const plotW = WIDTH - left - MARGIN.right - 90;
  const X = (v: number) => left + (v / xMax) * plotW;
  const colour = colourer();
  const parts: string[] = [];
  const bottom = MARGIN.top + chart.bars.length * (BAR.height + BAR.gap);
  for (const v of xTicks) parts.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${MARGIN.top - 4}" y2="${bottom}" stroke="#e4e4e4"/><text x="${X(v)}" y="${bottom + 16}" text-anchor="middle" fill="#444">${tickLabel(v)}</text>`);
  chart.bars.forEach((b, i) => {
    const y = MARGIN.top + i * (BAR.height + BAR.gap);
    const label = b.label.length > 46 ? `${b.label.slice(0, 45)}…` : b.label;
    parts.push(`<text x="${BAR.label}" y="${y + BAR.height / 2 + 4}" text-anchor="end">${escapeXml(label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, X(b.value) - left)}" height="${BAR.height}" fill="${colour(b.baseline)}"${b.note ? ' fill-opacity="0.55"' : ''}/>`);
    parts.push(`<text x="${X(b.value) + 6}" y="${y + BAR.height / 2 + 4}">${formatNumber(b.value)}${b.note ? ` (${escapeXml(b.note)})` : ''}</text>`);
  });
  parts.push(`<text x="${WIDTH - MARGIN.right}" y="${bottom + 34}" text-anchor="end" fill="#444">${escapeXml(chart.y)}</text>`);
  return frame(chart, bottom + 44, parts.join('\n'));
}

export function renderChart(chart: Chart): string {
  return chart.kind === 'line' ? lineChart(chart) : barChart(chart);
}
