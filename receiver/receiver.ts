// Composes the receiver: pool, metrics, routes, migrations, the live stream.
// The CLI (main.ts), the demo and the tests all start it through here.

import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Logger } from '../shared/log.js';
import { createRegistry } from '../shared/metrics.js';
import { createAuth } from './auth.js';
import type { ReceiverConfig } from './config.js';
import { migrate } from './db/migrate.js';
import { createPartitionMaintenance } from './db/partition-maintenance.js';
import { partitionPolicy } from './db/partitions.js';
import { createPool, isDatabaseUnavailable } from './db/pool.js';
import { createIngestQueue } from './ingest/ingest-queue.js';
import { createTimeWindow } from './ingest/time-window.js';
import { createReceiverEvents } from './observe.js';
import type { ReceiverState } from './routes/context.js';
import { createServer } from './server.js';
import { createStreamHub } from './stream/hub.js';

const MIGRATE_RETRY_MS = { first: 250, max: 5_000 };

/** Another replica's partition maintenance held a lock longer than ours waits (lock_timeout): try again. */
const isLockTimeout = (err: unknown) => (err as { code?: unknown }).code === '55P03';

export interface RunningReceiver {
  url: string;
  pool: pg.Pool;
  registry: Registry;
  state: ReceiverState;
  /** Resolves once the schema is migrated (the receiver keeps retrying until the database is there). */
  ready: Promise<void>;
  /** Stops accepting, finishes in-flight requests, closes the pool. */
  stop(): Promise<void>;
}

export async function startReceiver(config: ReceiverConfig, log: Logger): Promise<RunningReceiver> {
  const pool = createPool(config.databaseUrl, config.poolMax, log);
  const registry = createRegistry('ferry_receiver_');
  const events = createReceiverEvents(registry, log, pool);
  const state: ReceiverState = { migrated: false, streaming: false, shuttingDown: false };
  const auth = createAuth(config);
  const hub = createStreamHub(pool, {
    listenUrl: config.streamDatabaseUrl ?? config.databaseUrl,
    replaySeconds: config.streamReplaySeconds,
    heartbeatMs: config.streamHeartbeatMs,
    clientBufferBytes: config.streamClientBufferBytes,
  }, events);
  const ingest = createIngestQueue(pool, { concurrency: config.ingestConcurrency, groupLines: config.maxRequestLines, onGroup: events.onIngestGroup });
  const policy = partitionPolicy(config);
  const partitions = createPartitionMaintenance(pool, policy, events);
  const window = createTimeWindow(policy, partitions.partitions);
  const app = createServer({ config, pool, auth, events, state, hub, ingest, window }, { requestTimeoutMs: config.requestTimeoutMs, registry, s3: config });

  await app.listen({ host: config.host, port: config.port });
  const { address, port } = app.server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
  log.info({ url }, 'receiver listening');

  // Listening before the database is there lets /healthz answer and /readyz say why not.
  const ready = (async () => {
    for (let attempt = 1, wait = MIGRATE_RETRY_MS.first; !state.shuttingDown; attempt++, wait = Math.min(wait * 2, MIGRATE_RETRY_MS.max)) {
      try {
        const applied = await migrate(pool);
        // Rows may be stamped up to a day ahead: their partitions must exist before the first request.
        await partitions.prepare();
        events.onMigrated(applied);
        state.migrated = true;
        await hub.start();
        state.streaming = true;
        partitions.start();
        return;
      } catch (err) {
        if (!isDatabaseUnavailable(err) && !isLockTimeout(err)) throw err;
        events.onDatabaseWait(err, attempt);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  })();

  return {
    url, pool, registry, state, ready,
    async stop() {
      state.shuttingDown = true;
      // Stream clients would hold the server open: they are told to go (and reconnect elsewhere).
      await hub.stop();
      await app.close();
      await ready.catch(() => undefined);
      await partitions.stop();
      await pool.end();
      log.info('receiver stopped');
    },
  };
}
