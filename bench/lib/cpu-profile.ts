// Where a process spent its CPU: the functions with the most self time in a
// V8 .cpuprofile (node --cpu-prof), for the report's profile table.

import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** A node's function: its name, where it is (relative to node_modules or dist), and a key for both. */
function frameOf(n: ProfileNode): { key: string; fn: string; where: string } {
  const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '';
  return { key: `${n.callFrame.functionName}@${where}`, fn: n.callFrame.functionName || '(anonymous)', where };
}

export interface HotFunction {
  function: string;
  where: string;
  'self %': number;
}

export async function hottest(file: string, count = 15): Promise<HotFunction[]> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as { nodes: ProfileNode[] };
  const self = new Map<string, { fn: string; where: string; hits: number }>();
  let all = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const { key, fn, where } = frameOf(n);
    const entry = self.get(key) ?? { fn, where, hits: 0 };
    entry.hits += hits;
    self.set(key, entry);
    all += hits;
  }
  return [...self.values()].sort((a, b) => b.hits - a.hits).slice(0, count).map((e) => ({ function: e.fn, where: e.where, 'self %': Number(((e.hits / all) * 100).toFixed(1)) }));
}

export interface BusyFunction {
  function: string;
  where: string;
  /** Milliseconds of samples in this function (self time). */
  ms: number;
}

/**
 * What ran in a window of a profile, counted back from its end (a profile
 * ends when the process exits): self time per function, `(idle)` left out.
 */
export async function busyIn(file: string, fromEndS: number, toEndS: number, count = 15): Promise<{ seconds: number; busyMs: number; functions: BusyFunction[] }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const from = profile.endTime - fromEndS * 1e6;
  const to = profile.endTime - toEndS * 1e6;
  const self = new Map<string, BusyFunction>();
  let t = profile.startTime;
  let busyMs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    const n = byId.get(id)!;
    if (t < from || t >= to || n.callFrame.functionName === '(idle)') continue;
    // A sample stands for the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? delta) / 1000;
    const { key, fn, where } = frameOf(n);
    const entry = self.get(key) ?? { function: fn, where, ms: 0 };
    entry.ms += ms;
    self.set(key, entry);
    busyMs += ms;
  }
  const functions = [...self.values()].sort((a, b) => b.ms - a.ms).slice(0, count).map((f) => ({ ...f, ms: Number(f.ms.toFixed(1)) }));
  return { seconds: (to - from) / 1e6, busyMs: Number(busyMs.toFixed(1)), functions };
}
