// Chart data: what the report draws, built from a scenario's own measurements
// and stored in its JSON, so every point in the report comes from the run.

import type { ProcSummary } from './proc-stats.js';
import { percentile, MIB } from './stats.js';

/** A line over time; `baseline` draws it as the comparison, not as ferry. */
export interface Series {
  name: string;
  baseline?: boolean;
  /** [x, y] */
  points: Array<[number, number]>;
}

export interface LineChart {
  kind: 'line';
  id: string;
  title: string;
  x: string;
  y: string;
  series: Series[];
}

export interface Bar {
  label: string;
  value: number;
  baseline?: boolean;
  /** Said beside the bar, e.g. "extrapolated". */
  note?: string;
}

export interface BarChart {
  kind: 'bar';
  id: string;
  title: string;
  y: string;
  bars: Bar[];
}

export type Chart = LineChart | BarChart;

/** Enough points to draw a line at report width; more only swell the JSON. */
const MAX_POINTS = 400;

function thin<T>(items: readonly T[]): T[] {
  if (items.length <= MAX_POINTS) return [...items];
  const step = Math.ceil(items.length / MAX_POINTS);
  return items.filter((_, i) => i % step === 0 || i === items.length - 1);
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** A process to chart: its samples, and whether it is a baseline. */
export interface ChartedProcess {
  name: string;
  summary: ProcSummary;
  baseline?: boolean;
}

/** CPU (% of one core) and RSS (MiB) over time, one line per process, on shared axes. */
export function processCharts(id: string, what: string, processes: ChartedProcess[]): Chart[] {
  const cpu = processes.map(({ name, summary, baseline }) => {
    const s = thin(summary.samples);
    const points = s.slice(1).map((b, i): [number, number] => {
      const a = s[i]!;
      return [round(b.t, 2), round(((b.cpuSeconds - a.cpuSeconds) / Math.max(1e-6, b.t - a.t)) * 100, 1)];
    });
    return { name, baseline, points };
  });
  const rss = processes.map(({ name, summary, baseline }) => ({ name, baseline, points: thin(summary.samples).map((s): [number, number] => [round(s.t, 2), round(s.rssBytes / MIB, 1)]) }));
  return [
    { kind: 'line', id: `${id}-cpu`, title: `CPU per process: ${what}`, x: 'seconds', y: '% of one core', series: cpu },
    { kind: 'line', id: `${id}-rss`, title: `RSS per process: ${what}`, x: 'seconds', y: 'MiB', series: rss },
  ];
}

/** One bar per table row: `value` of each, baselines marked by `isBaseline`. */
export function barsFromRows(id: string, title: string, y: string, rows: ReadonlyArray<Record<string, string | number>>, value: string, isBaseline: (method: string) => boolean, note?: (row: Record<string, string | number>) => string | undefined): BarChart {
  return {
    kind: 'bar', id, title, y,
    bars: rows.filter((r) => typeof r[value] === 'number').map((r) => ({ label: String(r.method), value: round(Number(r[value]), 2), baseline: isBaseline(String(r.method)), note: note?.(r) })),
  };
}

/** A latency sample: when it was taken (seconds into the run) and how long it took. */
export interface Timed {
  t: number;
  ms: number;
}

/** p50 and p99 per window of `windowS` seconds, one pair of lines per system. */
export function percentilesOverTime(id: string, title: string, systems: Array<{ name: string; baseline?: boolean; samples: readonly Timed[] }>, windowS: number): LineChart {
  const series: Series[] = [];
  for (const { name, baseline, samples } of systems) {
    const windows = new Map<number, number[]>();
    for (const s of samples) {
      if (!Number.isFinite(s.ms)) continue;
      const w = Math.floor(s.t / windowS);
      const list = windows.get(w) ?? [];
      list.push(s.ms);
      windows.set(w, list);
    }
    const keys = [...windows.keys()].sort((a, b) => a - b);
    for (const p of [50, 99]) {
      series.push({ name: `${name} p${p}`, baseline, points: keys.map((w): [number, number] => [round((w + 1) * windowS, 2), round(percentile(windows.get(w)!, p), 2)]) });
    }
  }
  return { kind: 'line', id, title, x: 'seconds', y: 'ms', series };
}

/** A cumulative count over time (rows loaded, bytes uploaded), one line per method. */
export function progressChart(id: string, title: string, y: string, lines: Array<{ name: string; baseline?: boolean; points: Array<[number, number]> }>): LineChart {
  return { kind: 'line', id, title, x: 'seconds', y, series: lines.map((l) => ({ ...l, points: thin(l.points.filter(([, v]) => Number.isFinite(v))).map(([x, v]): [number, number] => [round(x, 2), round(v, 2)]) })) };
}
