// Where a process spent its CPU: the functions with the most self time in a
// V8 .cpuprofile (node --cpu-prof), for the report's profile table.

import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
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
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${n.callFrame.functionName}@${where}`;
    const entry = self.get(key) ?? { fn: n.callFrame.functionName || '(anonymous)', where, hits: 0 };
    entry.hits += hits;
    self.set(key, entry);
    all += hits;
  }
  return [...self.values()].sort((a, b) => b.hits - a.hits).slice(0, count).map((e) => ({ function: e.fn, where: e.where, 'self %': Number(((e.hits / all) * 100).toFixed(1)) }));
}
