// Composes the receiver: pool, metrics, routes, migrations, the live stream.
// The CLI (main.ts), the demo and the tests all start it through here.

import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';
import { createRegistry } from '../shared/metrics.js';
import { fromFiles, openCredential, watchCredentials } from '../shared/credential.js';
import { ConfigError } from '../shared/env.js';
import { createAuth } from './auth.js';
import type { ReceiverConfig } from './config.js';
import { migrate } from './db/migrate.js';
import { createPartitionMaintenance } from './db/partition-maintenance.js';
import { partitionPolicy } from './db/partitions.js';
import { createPool, isDatabaseUnavailable } from './db/pool.js';
import { createDatabaseProbe } from './db/probe.js';
import { RequestError } from './errors.js';
import type { RouteAccess } from './access.js';
import { createIngestQueue } from './ingest/ingest-queue.js';
import { createMemoryBudget } from './limits/memory-budget.js';
import { capConnectionsPerPeer } from './limits/peer-connections.js';
import { createWorkspaceRate } from './limits/workspace-rate.js';
import { createTimeWindow } from './ingest/time-window.js';
import { createReceiverEvents } from './observe.js';
import type { ReceiverState } from './routes/context.js';
import { createServer } from './server.js';
import { createStreamHub } from './stream/hub.js';
import { loadPair, tlsFiles, watchPair } from './tls.js';

const MIGRATE_RETRY_MS = { first: 250, max: 5_000 };
/** The live stream's catch-ups, safety reads and NOTIFYs have connections of their own, apart from ingest's. */
const STREAM_POOL_MAX = 2;

/** Another replica's partition maintenance held a lock longer than ours waits (lock_timeout): try again. */
const isLockTimeout = (err: unknown) => (err as { code?: unknown }).code === '55P03';

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
  // Before anything starts: a missing or bad certificate is a configuration error (main.ts: exit 2).
  const files = tlsFiles(config);
  const tls = files && loadPair(files);
  const pool = createPool(config.databaseUrl, config.poolMax, log);
  const registry = createRegistry('ferry_receiver_');
  const budget = createMemoryBudget(config.ingestMemoryBytes);
  const rate = config.workspaceRateBytes > 0 ? createWorkspaceRate({ bytesPerSecond: config.workspaceRateBytes, burstBytes: config.workspaceBurstBytes }) : undefined;
  const events = createReceiverEvents(registry, log, pool, budget);
  const state: ReceiverState = { migrated: false, streaming: false, shuttingDown: false };
  // Strict: a credential file that cannot be read or is weak stops the receiver now (main.ts: exit 2).
  const [ingestToken, ingestTokenSecret, readToken] = await Promise.all(
    [config.ingestToken, config.ingestTokenSecret, config.readToken].map((c) => (c.current ? openCredential(c, events, true) : undefined)),
  );
  if (!ingestToken?.current() && !ingestTokenSecret?.current()) throw new ConfigError('INGEST_TOKEN', 'set, or INGEST_TOKEN_SECRET, to a value or an existing file: ingest is never open', undefined);
  const credentials = [ingestToken, ingestTokenSecret, readToken].filter((c) => c !== undefined);
  const stopCredentials = fromFiles([config.ingestToken, config.ingestTokenSecret, config.readToken]) ? watchCredentials(credentials, config.credentialsReloadIntervalMs) : () => {};
  const auth = createAuth({ ingestToken, ingestTokenSecret, readToken }, (c) => events.onPreviousCredentialUsed(c));
  const streamPool = createPool(config.databaseUrl, STREAM_POOL_MAX, log);
  const hub = createStreamHub(streamPool, {
    listenUrl: config.streamDatabaseUrl ?? config.databaseUrl,
    replaySeconds: config.streamReplaySeconds,
    heartbeatMs: config.streamHeartbeatMs,
    clientBufferBytes: config.streamClientBufferBytes,
  }, events);
  const ingest = createIngestQueue(pool, { concurrency: config.ingestConcurrency, groupLines: config.maxRequestLines, deadlineMs: config.databaseTimeoutMs, onGroup: events.onIngestGroup });
  const policy = partitionPolicy(config);
  const partitions = createPartitionMaintenance(pool, policy, events);
  const window = createTimeWindow(policy, partitions.partitions);
  const database = createDatabaseProbe(config.databaseUrl, (up, err) => {
    events.onDatabaseProbe(up, err);
    if (!up) ingest.abandon(new RequestError('database_unavailable', 'PostgreSQL stopped answering while this request waited; retry later'));
  });
  const { app, routes } = createServer({ config, pool, auth, events, state, hub, ingest, database, window }, { requestTimeoutMs: config.requestTimeoutMs, registry, s3: config, budget, rate, trustProxy: config.trustProxy, https: tls?.pair });

  if (config.maxConnectionsPerPeer > 0) {
    const exempt = config.trustProxy?.split(',').map((e) => e.trim()) ?? [];
    capConnectionsPerPeer(app.server, { max: config.maxConnectionsPerPeer, exempt, onRefused: (address, report) => events.onPeerConnectionRefused(address, report) });
  }
  await app.listen({ host: config.host, port: config.port });
  const { address, port } = app.server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;
  log.info({ url }, 'receiver listening');
  let stopRenewals = () => {};
  if (files && tls) {
    events.onCertificate(tls.info, 'loaded');
    const server = app.server as https.Server;
    stopRenewals = watchPair(files, tls.pair, config.tlsReloadIntervalMs, {
      // Connections already open keep their session; new ones get the new pair.
      onRenewed: (pair, info) => {
        server.setSecureContext(pair);
        events.onCertificate(info, 'renewed');
      },
      onFailed: (err) => events.onCertificateRenewalFailed(err),
    });
  }

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
    url, pool, registry, state, routes, ready,
    async stop() {
      state.shuttingDown = true;
      stopRenewals();
      stopCredentials();
      // Stream clients would hold the server open: they are told to go (and reconnect elsewhere).
      await hub.stop();
      await app.close();
      await ready.catch(() => undefined);
      await partitions.stop();
      await database.stop();
      await Promise.all([pool.end(), streamPool.end()]);
      log.info('receiver stopped');
    },
  };
}
