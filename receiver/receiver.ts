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
import { createPool, isDatabaseUnavailable } from './db/pool.js';
import type { RouteAccess } from './access.js';
import { createIngestQueue } from './ingest/ingest-queue.js';
import { createMemoryBudget } from './limits/memory-budget.js';
import { createWorkspaceRate } from './limits/workspace-rate.js';
import { createReceiverEvents } from './observe.js';
import type { ReceiverState } from './routes/context.js';
import { createServer } from './server.js';
import { createStreamHub } from './stream/hub.js';

const MIGRATE_RETRY_MS = { first: 250, max: 5_000 };

export interface RunningReceiver {
  url: string;
  pool: pg.Pool;
  registry: Registry;
  state: ReceiverState;
  /** Every route and the access it declares. */
  routes: RouteAccess[];
  /** Resolves once the schema is migrated (the receiver keeps retrying until the database is there). */
  ready: Promise<void>;
  /** Stops accepting, finishes in-flight requests, closes the pool. */
  stop(): Promise<void>;
}

export async function startReceiver(config: ReceiverConfig, log: Logger): Promise<RunningReceiver> {
  const pool = createPool(config.databaseUrl, config.poolMax, log);
  const registry = createRegistry('ferry_receiver_');
  const budget = createMemoryBudget(config.ingestMemoryBytes);
  const rate = config.workspaceRateBytes > 0 ? createWorkspaceRate({ bytesPerSecond: config.workspaceRateBytes, burstBytes: config.workspaceBurstBytes }) : undefined;
  const events = createReceiverEvents(registry, log, pool, budget);
  const state: ReceiverState = { migrated: false, streaming: false, shuttingDown: false };
  const auth = createAuth(config);
  const hub = createStreamHub(pool, {
    listenUrl: config.streamDatabaseUrl ?? config.databaseUrl,
    replaySeconds: config.streamReplaySeconds,
    heartbeatMs: config.streamHeartbeatMs,
    clientBufferBytes: config.streamClientBufferBytes,
  }, events);
  const ingest = createIngestQueue(pool, { concurrency: config.ingestConcurrency, groupLines: config.maxRequestLines, onGroup: events.onIngestGroup });
  const { app, routes } = createServer({ config, pool, auth, events, state, hub, ingest }, { requestTimeoutMs: config.requestTimeoutMs, registry, s3: config, budget, rate, trustProxy: config.trustProxy });

  await app.listen({ host: config.host, port: config.port });
  const { address, port } = app.server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
  log.info({ url }, 'receiver listening');

  // Listening before the database is there lets /healthz answer and /readyz say why not.
  const ready = (async () => {
    for (let attempt = 1, wait = MIGRATE_RETRY_MS.first; !state.shuttingDown; attempt++, wait = Math.min(wait * 2, MIGRATE_RETRY_MS.max)) {
      try {
        events.onMigrated(await migrate(pool));
        state.migrated = true;
        await hub.start();
        state.streaming = true;
        return;
      } catch (err) {
        if (!isDatabaseUnavailable(err)) throw err;
        events.onDatabaseWait(err, attempt);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  })();

  return {
    url, pool, registry, state, routes, ready,
    async stop() {
      state.shuttingDown = true;
      // Stream clients would hold the server open: they are told to go (and reconnect elsewhere).
      await hub.stop();
      await app.close();
      await ready.catch(() => undefined);
      await pool.end();
      log.info('receiver stopped');
    },
  };
}
