// npm run chaos -- --minutes 10 [--seed N] [--workspaces 4]: the long chaos run, by name.
// Prints the seed and the whole schedule first, the verdict last; exit 1 on FAIL.

import { parseArgs } from 'node:util';
import { runChaos } from './run.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' }, workspaces: { type: 'string', default: '4' } } });
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const result = await runChaos({
  seed,
  durationMs: Number(values.minutes) * 60_000,
  workspaces: Number(values.workspaces),
  meanGapMs: 1_200,
  say: (line) => process.stdout.write(`${line}\n`),
});
process.exit(result.ok ? 0 : 1);
