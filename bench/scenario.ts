// What a benchmark scenario is: a name, and a run that returns its figures
// beside the baselines it measured in the same run.

export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

export interface ScenarioResult {
  /** The printed table, as it appeared on the terminal. */
  table: string;
  rows: Array<Record<string, string | number>>;
  verdicts: Verdict[];
  /** Samples over time (CPU, RSS, latency), by series name. */
  series?: Record<string, unknown[]>;
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
