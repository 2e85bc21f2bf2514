// What a benchmark scenario is: a name, and a run that returns its figures
// beside the baselines it measured in the same run.

import type { Chart } from './lib/charts.js';

export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

export type Row = Record<string, string | number>;

export interface ScenarioResult {
  /** The printed table, as it appeared on the terminal. */
  table: string;
  rows: Row[];
  verdicts: Verdict[];
  /** Further tables (per stage, per kill, ...), by title. */
  tables?: Record<string, Row[]>;
  /** What a reader must know to read the figures honestly (samples, extrapolations, shared machine). */
  notes?: string[];
  /** Charts of this run: the report draws them, with every point taken from here. */
  charts?: Chart[];
}

export interface ScenarioContext {
  /** A scratch folder removed after the scenario. */
  workDir: string;
  /** An integer setting from the environment, with its default. */
  int(name: string, fallback: number): number;
  progress(message: string): void;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
