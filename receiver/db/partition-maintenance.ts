// Partition maintenance, on every replica: before the receiver is ready and
// then every MAINTENANCE_PERIOD_MS, create the partitions ahead, drop those
// past their retention, and report what is there. Replicas share the work
// through the database (partitions.ts): whichever runs first does it, the
// others find it done. The latest view of the partitions feeds the time
// window (ingest/time-window.ts).

import type pg from 'pg';
import type { ReceiverEvents } from '../events.js';
import {
  applyRetention, coveredUntil, ensurePartitions, PARTITIONED_TABLES, tableBytes,
  type Partition, type PartitionedTable, type PartitionPolicy,
} from './partitions.js';

export const MAINTENANCE_PERIOD_MS = 10 * 60_000;

export interface PartitionReport {
  table: PartitionedTable;
  partitions: number;
  /** End of the oldest partition's range: the retention drops it once that is older than the table's retention. */
  oldestEndMs: number;
  /** From then on, a row stamped MAX_FUTURE_SECONDS ahead would find no partition, unless more are created. */
  exhaustedAtMs: number;
  bytes: number;
}

export const MAINTENANCE_STEPS = ['create', 'retention', 'report'] as const;
export type MaintenanceStep = (typeof MAINTENANCE_STEPS)[number];

export interface PartitionMaintenance {
  /** The partitions as the last run saw them (none before the first). */
  partitions(): readonly Partition[];
  /** Creates what is missing ahead; throws what failed (the receiver is ready only after it succeeded). */
  prepare(now?: number): Promise<void>;
  /** One whole run: create, drop, report. A failing step is reported and the next one still runs. */
  run(now?: number): Promise<void>;
  /** Runs now (in the background), then every MAINTENANCE_PERIOD_MS. */
  start(): void;
  /** No further runs; waits for one in progress. */
  stop(): Promise<void>;
}

type MaintenanceEvents = Pick<ReceiverEvents, 'onPartitionsCreated' | 'onPartitionsDropped' | 'onPartitionReport' | 'onPartitionMaintenanceFailed'>;

export function createPartitionMaintenance(pool: pg.Pool, policy: PartitionPolicy, events: MaintenanceEvents): PartitionMaintenance {
  let view: readonly Partition[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  async function prepare(now = Date.now()): Promise<void> {
    const { partitions, created } = await ensurePartitions(pool, policy, now);
    view = partitions;
    if (created.length > 0) events.onPartitionsCreated(created);
  }

  async function step(name: MaintenanceStep, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      events.onPartitionMaintenanceFailed(name, err);
    }
  }

  async function run(now = Date.now()): Promise<void> {
    await step('create', () => prepare(now));
    await step('retention', async () => {
      const dropped = await applyRetention(pool, policy, now);
      if (dropped.length === 0) return;
      const gone = new Set(dropped.map((d) => d.partition));
      view = view.filter((p) => !gone.has(p.name));
      events.onPartitionsDropped(dropped);
    });
    await step('report', async () => {
      const bytes = await tableBytes(pool);
      events.onPartitionReport(PARTITIONED_TABLES.map((table) => {
        const mine = view.filter((p) => p.table === table && !p.detaching);
        return {
          table,
          partitions: mine.length,
          oldestEndMs: Math.min(...mine.map((p) => p.to)),
          exhaustedAtMs: coveredUntil(view, table, now) - policy.maxFutureMs,
          bytes: bytes[table],
        };
      }));
    });
  }

  const runThenWait = () => {
    if (stopped) return;
    running = run().finally(() => {
      if (stopped) return;
      timer = setTimeout(runThenWait, MAINTENANCE_PERIOD_MS);
      timer.unref();
    });
  };

  return {
    partitions: () => view,
    prepare,
    run,
    start: runThenWait,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
