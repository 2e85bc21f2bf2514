// The fleet generator (bench/fleet-generator.ts) as a child process, and its
// JSON lines as events: a tick per second, each stage's start and end, done.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { FLEET_GENERATOR_BIN } from './programs.js';

export interface FleetStage {
  scale: number;
  seconds: number;
  warmUp?: boolean;
}

export interface FleetEvent {
  type: 'tick' | 'stage-start' | 'stage-end' | 'done';
  /** Seconds since the generator started. */
  t: number;
  stage?: number;
  scale?: number;
  warmUp?: boolean;
  /** With `stage-end`: the stage's length. */
  seconds?: number;
  requests?: number;
  errors?: number;
  lines?: number;
  p50?: number;
  p99?: number;
  max?: number;
  statuses?: Record<string, number>;
  /** With `done`: lines the receiver accepted, per stream. */
  accepted?: Record<string, number>;
}

export interface FleetRun {
  child: ChildProcess;
  events: AsyncIterable<FleetEvent>;
  exited: Promise<void>;
}

export function startFleetGenerator(o: { url: string; token: string; workspaces: number; intervalMs: number; stages: FleetStage[] }): FleetRun {
  const child = spawn(process.execPath, [FLEET_GENERATOR_BIN], {
    env: { PATH: process.env.PATH, URL: o.url, TOKEN: o.token, WORKSPACES: String(o.workspaces), COMMAND_INTERVAL_MS: String(o.intervalMs), STAGES: JSON.stringify(o.stages) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  async function* events(): AsyncGenerator<FleetEvent> {
    for await (const line of createInterface({ input: child.stdout! })) yield JSON.parse(line) as FleetEvent;
  }
  return { child, events: events(), exited };
}
