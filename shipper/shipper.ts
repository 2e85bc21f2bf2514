// Composes the shipper: checkpoint, transport, watcher, one pipeline per file,
// and the ops server. The CLI (main.ts), the demo and the tests start it here.

import { join } from 'node:path';
import type { Log } from './json-log.js';
import { createProcessRegistry } from '../shared/metric-classes.js';
import type { ShipperConfig } from './config.js';
import type { ShipperEvents } from './events.js';
import { createShipperEvents } from './observe.js';
import { startOpsServer } from './ops-server.js';
import { createHttpTransport } from './ship/http-transport.js';
import { createLinePipeline, type LinePipeline } from './ship/line-pipeline.js';
import { reportDrain } from './ship/drain-report.js';
import { createRetryingTransport } from './ship/retrying-transport.js';
import { createCheckpointStore, loadCheckpoint } from './tail/checkpoint-store.js';
import { createWatcher } from './tail/watcher.js';
import { createReceiverStore, type ReceiverStore } from './record/receiver-store.js';
import { createRecordingPipeline, type RecordingPipeline } from './record/recording-pipeline.js';
import { fromFiles, openCredential, watchCredentials, type LiveCredential } from '../shared/credential.js';
import { sleep } from './ship/backoff.js';
import type { DrainReport } from '../shared/wire.js';

export interface RunningShipper {
  metricsUrl: string;
  pipelines: LinePipeline[];
  /** Ships everything there is, then stops; past the deadline, stops anyway. Resolves true when nothing was left. */
  drain(deadlineMs: number, signal?: string): Promise<boolean>;
}

export async function startShipper(config: ShipperConfig, log: Log): Promise<RunningShipper> {
  // First: an unreadable CA file is a configuration error (main.ts: exit 2). TLS is loaded only then.
  const ca = config.tlsCaFile ? (await import('./ship/trust.js')).trustedCAs(config.tlsCaFile) : undefined;
  const registry = createProcessRegistry('ferry_shipper_');
  // The store is created below; the age gauge reads it through this holder.
  let checkpointAge = () => 0;
  const events = createShipperEvents(registry, log, () => checkpointAge());

  const loaded = await loadCheckpoint(config.stateDir, config.workspaceId);
  events.onCheckpointLoaded(loaded.status, loaded.status === 'corrupt' ? loaded.reason : loaded.status === 'other_workspace' ? loaded.workspaceId : undefined);
  const checkpoints = await createCheckpointStore(
    config.stateDir, config.workspaceId, loaded.status === 'ok' ? loaded.checkpoint : undefined, config.checkpointIntervalMs,
    (ms) => events.onCheckpointWritten(ms), (err) => events.onCheckpointError(err),
  );
  checkpointAge = () => checkpoints.ageMs();

  // Lenient: a token that is missing, unreadable or weak makes the shipper idle, not exit (README, "Shipper configuration").
  const token = await openCredential(config.ingestToken, events, false);
  const stopCredentials = fromFiles([config.ingestToken]) ? watchCredentials([token], config.credentialsReloadIntervalMs) : () => {};
  // One connection per pipeline (one request in flight each), the recording's included.
  const connections = config.pipelines.length + (config.recordingBucket ? 1 : 0);
  const http = createHttpTransport({ baseUrl: config.receiverUrl, token: () => token.current(), timeoutMs: config.requestTimeoutMs, connections, ca });
  const transport = createRetryingTransport(http, { maxDelayMs: config.retryMaxDelayMs, refusedDelayMs: config.refusedRetryDelayMs, onUnauthorized: () => token.reload() });
  const watcher = createWatcher(config.runtimeDir, {
    pollMs: config.pollIntervalMs, safetyPollMs: config.safetyPollIntervalMs, onError: (err) => events.onWatchError(err), onUnannounced: (file) => events.onChangeUnannounced(file),
  });

  const pipelines = config.pipelines.map((def) => createLinePipeline({
    def,
    path: join(config.runtimeDir, def.file),
    limits: { ...config.batches[def.name]!, maxLineBytes: config.maxLineBytes },
    workspaceId: config.workspaceId,
    format: config.deliveryFormat === 'vector' ? { kind: 'vector', host: config.hostName } : { kind: 'native' },
    gzip: config.gzip,
    transport,
    checkpoints,
    wakeup: watcher.subscribe(def.file),
    events,
    retryMaxDelayMs: config.retryMaxDelayMs,
  }));

  // No object-store credential here: the receiver presigns every PUT for this workspace's prefix.
  let store: ReceiverStore | undefined;
  let recording: RecordingPipeline | undefined;
  if (config.recordingBucket) {
    store = createReceiverStore({ http, workspaceId: config.workspaceId, bucket: config.recordingBucket, timeoutMs: config.requestTimeoutMs, onUnauthorized: () => token.reload() });
    recording = createRecordingPipeline({
      path: join(config.runtimeDir, config.recordingFile),
      workspaceId: config.workspaceId,
      store,
      transport,
      checkpoints,
      events,
      wakeup: watcher.subscribe(config.recordingFile),
      syncIntervalMs: config.recordingSyncIntervalMs,
      idleMs: config.recordingIdleMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      refusedRetryDelayMs: config.refusedRetryDelayMs,
    });
  }

  const abort = new AbortController();
  /** Ends an idle wait for the token: at a drain there is nothing to wait for. */
  const stopWaiting = new AbortController();
  const ops = await startOpsServer(config.metricsHost, config.metricsPort, registry, () => true);
  let started = false;
  const running = (async () => {
    if (!(await usable(token, config.credentialsReloadIntervalMs, AbortSignal.any([abort.signal, stopWaiting.signal]), events))) return [false];
    started = true;
    events.onStarted([...pipelines.map((p) => p.name), ...(recording ? ['recording'] : [])]);
    return Promise.all([...pipelines.map((p) => p.run(abort.signal)), ...(recording ? [recording.run(abort.signal)] : [])]);
  })();

  let draining: Promise<boolean> | undefined;
  return {
    metricsUrl: ops.url,
    pipelines,
    drain(deadlineMs, signal = 'drain') {
      draining ??= (async () => {
        events.onDrainStarted(signal, deadlineMs);
        const deadline = setTimeout(() => abort.abort(), deadlineMs);
        stopWaiting.abort();
        pipelines.forEach((p) => p.drain());
        recording?.drain();
        const began = performance.now();
        const results = await running;
        clearTimeout(deadline);
        const complete = !abort.signal.aborted && results.every(Boolean);
        await checkpoints.flush();
        // Without a token nothing was read, nor can the receiver be told.
        if (started) {
          const report: DrainReport = {
            outcome: complete ? 'complete' : abort.signal.aborted ? 'deadline' : 'file_errors',
            unshipped: Object.fromEntries([...pipelines.map((p) => [p.name, p.lagBytes()]), ...(recording ? [['recording', recording.unsyncedBytes()]] : [])]),
            seconds: (performance.now() - began) / 1000,
          };
          events.onDrainEnded(report, await reportDrain(http, config.workspaceId, report));
        }
        stopCredentials();
        watcher.close();
        await Promise.all([http.close(), ops.close()]);
        store?.close();
        return complete;
      })();
      return draining;
    },
  };
}

/**
 * Resolves true once the token is usable, false when the signal ends the
 * wait. Until then the shipper is idle: it reads no file (it could ship
 * nothing) and says so once; /healthz and /metrics answer all along.
 */
async function usable(token: LiveCredential, intervalMs: number, signal: AbortSignal, events: ShipperEvents): Promise<boolean> {
  if (token.current()) return true;
  events.onIdle(token.name);
  // A token file is read again by watchCredentials; a variable cannot change.
  while (!token.current()) {
    await sleep(intervalMs, signal);
    if (signal.aborted) return false;
  }
  events.onConfigured(token.name);
  return true;
}
