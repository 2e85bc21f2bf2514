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

function read(pid: number): { rssBytes: number; cpuSeconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { rssBytes: rssKb * 1024, cpuSeconds };
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
  const take = () => {
    const s = read(pid);
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
        peakRssBytes: Math.max(0, ...samples.map((s) => s.rssBytes)),
        cpuSeconds: samples.at(-1)?.cpuSeconds ?? 0,
        samples,
      };
    },
  };
}
