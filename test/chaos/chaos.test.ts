// The short chaos run (the long one: npm run chaos -- --minutes 10): a seeded
// schedule of faults across the whole pipeline for 45 seconds, then every
// line, status row and recording is checked. The seed and schedule are
// printed, so a failure replays with `npm run chaos -- --seed N --minutes 0.75`.

import { expect, it } from 'vitest';
import { runChaos } from './run.js';
import { FAULTS } from './schedule.js';

/** A seed whose 45 s schedule holds every kind of fault at least once. */
const SEED = Number(process.env.CHAOS_SEED ?? 20261214);

it('whatever breaks, every line is stored once or rejected with its reason, status is the fold, recordings are byte-identical', async () => {
  const log: string[] = [];
  const result = await runChaos({ seed: SEED, durationMs: 45_000, workspaces: 3, meanGapMs: 900, say: (l) => { log.push(l); console.log(l); } });
  expect(result.problems, log.join('\n')).toEqual([]);
  expect(Object.keys(result.byKind).sort()).toEqual(Object.keys(FAULTS).sort());
  expect(result.faults).toBeGreaterThanOrEqual(30);
  expect(result.lines.stored).toBeGreaterThan(1000);
}, 600_000);
