// CPU and memory of a process (or a process and its children, for
// PostgreSQL's postmaster and backends) from /proc, sampled while a scenario runs.

import { readdirSync, readFileSync } from 'node:fs';
import { max } from './stats.js';

const CLOCK_TICKS = 100;

export interface ProcSample {
  /** Seconds since sampling started. */
  t: number;
  rssBytes: number;
  /** CPU seconds used (user + system) so far. */
  cpuSeconds: number;
}

interface Reading {
  rssBytes: number;
  hwmBytes: number;
  cpuSeconds: number;
}

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function statusKb(pid: number, field: string, file = 'status'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))?.[1] ?? 0) * 1024;
}

function readOne(pid: number): Reading | undefined {
  try {
    const f = statFields(pid);
    return { rssBytes: statusKb(pid, 'VmRSS'), hwmBytes: statusKb(pid, 'VmHWM'), cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/**
 * A process and its live children. CPU includes the children already reaped
 * (cutime, cstime), so short-lived backends count. Memory is PSS: backends
 * share PostgreSQL's buffers, and RSS would count them once per backend.
 */
function readTree(root: number): Reading | undefined {
  try {
    const f = statFields(root);
    let cpuSeconds = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
    let rssBytes = statusKb(root, 'Pss', 'smaps_rollup');
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === root) continue;
      try {
        const c = statFields(pid);
        if (Number(c[1]) !== root) continue;
        cpuSeconds += (Number(c[11]) + Number(c[12])) / CLOCK_TICKS;
        rssBytes += statusKb(pid, 'Pss', 'smaps_rollup');
      } catch {
        // the child exited between the listing and the read
      }
    }
    return { rssBytes, hwmBytes: rssBytes, cpuSeconds };
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

function sampler(read: () => Reading | undefined, everyMs: number): Sampler {
  const started = performance.now();
  const first = read();
  const samples: ProcSample[] = [];
  let hwm = 0;
  const take = () => {
    const s = read();
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
        peakRssBytes: Math.max(hwm, max(samples.map((s) => s.rssBytes))),
        cpuSeconds: samples.at(-1)?.cpuSeconds ?? 0,
        samples,
      };
    },
  };
}

export function sampleProcess(pid: number, everyMs = 100): Sampler {
  return sampler(() => readOne(pid), everyMs);
}

/** PostgreSQL as a whole: the postmaster and every backend. Slower to read, so sampled less often. */
export function sampleProcessTree(rootPid: number, everyMs = 500): Sampler {
  return sampler(() => readTree(rootPid), everyMs);
}

/** Context switches of every thread of a process so far: how often it woke, whatever it did then. */
export function contextSwitches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const field of ['voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches']) n += Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return n;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/**
 * A process's resident memory by kind: anonymous (its own heap and stacks:
 * what each process adds) and file-backed (mostly the node binary's code,
 * one copy in the page cache for every process that runs the same file).
 */
export function residentParts(pid: number): { anonBytes: number; fileBytes: number } {
  return { anonBytes: statusKb(pid, 'RssAnon'), fileBytes: statusKb(pid, 'RssFile') };
}
