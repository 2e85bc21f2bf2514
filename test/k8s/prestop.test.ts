// The classic container's preStop hook (dist/shipper/prestop.js) holds the
// shipper's SIGTERM back until the workspace has stopped writing, and no
// longer than SETTLE_MAX_MS.

import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { run } from '../helpers/process.js';
import { shipperDirs } from '../helpers/shipper.js';

const PRESTOP = fileURLToPath(new URL('../../dist/shipper/prestop.js', import.meta.url));

async function runtimeDir(): Promise<string> {
  const { runtimeDir: dir } = await shipperDirs();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'command-log.jsonl'), '{"command":"ls","exit_code":0,"timestamp":0}\n');
  return dir;
}

async function timed(env: Record<string, string>): Promise<number> {
  const started = Date.now();
  const exit = await run(PRESTOP, [], env);
  expect(exit.code, exit.stderr).toBe(0);
  expect(exit.stderr).toBe('');
  return Date.now() - started;
}

/** Appends a line every 100 ms for `ms`; resolves with the time the last append began. */
async function keepWriting(dir: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let last = Date.now();
  while (Date.now() < end) {
    last = Date.now();
    await appendFile(join(dir, 'command-log.jsonl'), '{"command":"echo","exit_code":0,"timestamp":0}\n');
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

it('returns after the quiet period when the workspace has stopped writing', async () => {
  const dir = await runtimeDir();
  const took = await timed({ RUNTIME_DIR: dir, SETTLE_QUIET_MS: '300', SETTLE_MAX_MS: '10000' });
  expect(took).toBeGreaterThanOrEqual(300);
  expect(took).toBeLessThan(3_000);
});

it('waits while the workspace writes its final lines, then returns once they stop', async () => {
  const dir = await runtimeDir();
  let returnedAt = 0;
  const [took, lastWrite] = await Promise.all([
    timed({ RUNTIME_DIR: dir, SETTLE_QUIET_MS: '500', SETTLE_MAX_MS: '20000' }).finally(() => { returnedAt = Date.now(); }),
    keepWriting(dir, 2_000),
  ]);
  expect(returnedAt - lastWrite).toBeGreaterThanOrEqual(500);
  expect(took).toBeLessThan(2_000 + 500 + 3_000);
});

it('returns at SETTLE_MAX_MS when the writes never stop', async () => {
  const dir = await runtimeDir();
  const [took] = await Promise.all([
    timed({ RUNTIME_DIR: dir, SETTLE_QUIET_MS: '500', SETTLE_MAX_MS: '1000' }),
    keepWriting(dir, 2_500),
  ]);
  expect(took).toBeGreaterThanOrEqual(1_000);
  expect(took).toBeLessThan(2_500);
});

it('returns at once, exit 0, with a one-line complaint when its settings are wrong', async () => {
  const exit = await run(PRESTOP, [], { RUNTIME_DIR: '/nonexistent', SETTLE_QUIET_MS: 'soon' });
  expect(exit.code).toBe(0);
  expect(exit.stderr.trim()).toBe('ferry-shipper preStop: SETTLE_QUIET_MS must be an integer from 100 to 60000, got "soon"');
});
