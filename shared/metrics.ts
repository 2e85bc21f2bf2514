import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry with the process metrics (CPU, RSS, heap, event loop lag) under the program's prefix. */
export function createRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** Buckets for request and COPY durations: 1 ms to 30 s. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
