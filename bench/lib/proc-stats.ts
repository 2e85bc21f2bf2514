// CPU and memory of a process from /proc, sampled while a scenario runs.

import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100;

export interface ProcSample {
  /** Seconds since sampling started. */
  t: number;
  rssBytes: number;
  /** CPU seconds used (user + system) so far. */
  cpuSeconds: number;
}

function read(pid: number): { rssBytes: number; hwmBytes: number; cpuSeconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), cpuSeconds };
  } catch {
    return undefined;
  }
}

export interface Sampler {
  samples: ProcSample[];
  stop(): ProcSummary;
}

export interface ProcSummary {
  peakRssBytes: number;
  cpuSeconds: number;
  samples: ProcSample[];
}

export function sampleProcess(pid: number, everyMs = 100): Sampler {
  const started = performance.now();
  const first = read(pid);
  const samples: ProcSample[] = [];
  let hwm = 0;
  const take = () => {
    const s = read(pid);
    if (s) hwm = Math.max(hwm, s.hwmBytes);
    if (s) samples.push({ t: (performance.now() - started) / 1000, rssBytes: s.rssBytes, cpuSeconds: s.cpuSeconds - (first?.cpuSeconds ?? 0) });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return {
        // The kernel's high-water mark catches peaks between samples.
        peakRssBytes: Math.max(hwm, ...samples.map((s) => s.rssBytes)),
        cpuSeconds: samples.at(-1)?.cpuSeconds ?? 0,
        samples,
      };
    },
  };
}
