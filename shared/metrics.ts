import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry with the process metrics (CPU, RSS, heap, event loop lag) under the program's prefix. */
export function createRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

export { DURATION_BUCKETS } from './metric-classes.js';
