// A simulated student workspace: appends realistic lines to the runtime files
// the way the workshop container does (a shell hook, the state machine, the
// tutor). Used by the demo and the benchmarks.

import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from './random.js';
import { nextActivity } from './workload.js';

export interface SimulatorOptions {
  /** Mean commands per second. */
  commandsPerSecond: number;
  seed?: number;
}

export interface Simulator {
  written(): { commands: number; events: number; llm: number; castBytes: number };
  stop(): void;
}

export async function simulateWorkspace(runtimeDir: string, o: SimulatorOptions): Promise<Simulator> {
  await mkdir(runtimeDir, { recursive: true });
  const rand = seededRandom(o.seed ?? 1);
  const counts = { commands: 0, events: 0, llm: 0, castBytes: 0 };
  const started = Date.now();
  let stopped = false;
  // The terminal recording: an asciicast v2 header, then output events.
  const cast = async (line: string) => {
    await appendFile(join(runtimeDir, 'session.cast'), line);
    counts.castBytes += Buffer.byteLength(line);
  };
  await cast(`${JSON.stringify({ version: 2, width: 120, height: 40, timestamp: Math.floor(started / 1000), env: { SHELL: '/bin/bash', TERM: 'xterm-256color' } })}\n`);

  const loop = async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, (-Math.log(1 - rand()) * 1000) / o.commandsPerSecond));
      if (stopped) break;
      const a = nextActivity(rand, counts);
      await appendFile(join(runtimeDir, 'command-log.jsonl'), `${JSON.stringify(a.command)}\n`);
      counts.commands++;
      const t = (Date.now() - started) / 1000;
      await cast(`${JSON.stringify([t, 'i', `${a.command.command}\r`])}\n${JSON.stringify([t + 0.05, 'o', `$ ${a.command.command}\r\n${'output line\r\n'.repeat(1 + Math.floor(rand() * 5))}`])}\n`);
      if (a.event) await appendFile(join(runtimeDir, 'state-events.jsonl'), `${JSON.stringify(a.event)}\n`);
      if (a.llm) await appendFile(join(runtimeDir, 'llm-history.jsonl'), `${JSON.stringify(a.llm)}\n`);
    }
  };
  void loop();
  return { written: () => ({ ...counts }), stop: () => { stopped = true; } };
}
