// prom-client's registry, metric classes and process collectors, required from
// their own files. The package's entry point also loads its Pushgateway
// (node:http, https, zlib) and its cluster aggregator, and its CPU collector
// loads OpenTelemetry's API (for exemplars): 8.5 MiB of RSS at rest on Node
// 20, 13 on Node 24. Its event loop collector samples every 10 ms: 100
// wakeups a second. The shipper, a sidecar in every workspace pod and idle
// most of its life, carries none of it (bench `idle`). The classes are the
// package's own objects: the receiver's, from the entry point, are the same.

import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry.js') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter.js') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
export const Histogram = require('prom-client/lib/histogram.js') as typeof PromClient.Histogram;

/** Buckets for request and COPY durations: 1 ms to 30 s. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Collector = (registry: PromClient.Registry, config: { prefix: string }) => void;

/**
 * A registry with the process metrics that are read when scraped and cost
 * nothing in between: resident memory, heap, start time, open file
 * descriptors (prom-client's own collectors) and CPU seconds.
 */
export function createProcessRegistry(prefix: string): PromClient.Registry {
  const registry = new Registry();
  for (const name of ['osMemoryHeap', 'heapSizeAndUsed', 'processStartTime', 'processOpenFileDescriptors', 'processMaxFileDescriptors']) {
    (require(`prom-client/lib/metrics/${name}.js`) as Collector)(registry, { prefix });
  }
  let last = process.cpuUsage();
  const registers = [registry];
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`, help: 'Total user CPU time spent in seconds.', registers,
    collect() {
      const now = process.cpuUsage();
      user.inc((now.user - last.user) / 1e6);
      system.inc((now.system - last.system) / 1e6);
      total.inc((now.user - last.user + now.system - last.system) / 1e6);
      last = now;
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers });
  return registry;
}
