// Composes the shipper: checkpoint, transport, watcher, one pipeline per file,
// and the ops server. The CLI (main.ts), the demo and the tests start it here.

import { join } from 'node:path';
import type { Logger } from '../shared/log.js';
import { createProcessRegistry } from '../shared/metric-classes.js';
import type { ShipperConfig } from './config.js';
import { createShipperEvents } from './observe.js';
import { startOpsServer } from './ops-server.js';
import { createHttpTransport } from './ship/http-transport.js';
import { createLinePipeline, type LinePipeline } from './ship/line-pipeline.js';
import { createRetryingTransport } from './ship/retrying-transport.js';
import { createCheckpointStore, loadCheckpoint } from './tail/checkpoint-store.js';
import { createWatcher } from './tail/watcher.js';
import { createRecordingPipeline, type RecordingPipeline } from './record/recording-pipeline.js';
import type { ObjectStore } from '../shared/object-store.js';

export interface RunningShipper {
  metricsUrl: string;
  pipelines: LinePipeline[];
  /** Ships everything there is, then stops; past the deadline, stops anyway. Resolves true when nothing was left. */
  drain(deadlineMs: number, signal?: string): Promise<boolean>;
}

export async function startShipper(config: ShipperConfig, log: Logger): Promise<RunningShipper> {
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

  const http = createHttpTransport({ baseUrl: config.receiverUrl, token: config.ingestToken, timeoutMs: config.requestTimeoutMs, connections: config.pipelines.length, ca });
  const transport = createRetryingTransport(http, { maxDelayMs: config.retryMaxDelayMs, refusedDelayMs: config.refusedRetryDelayMs });
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

  // The S3 client is loaded only when there is a bucket: it costs memory.
  let store: ObjectStore | undefined;
  let recording: RecordingPipeline | undefined;
  if (config.recordingBucket) {
    const { createObjectStore } = await import('../shared/object-store.js');
    store = await createObjectStore({ bucket: config.recordingBucket, region: config.awsRegion, endpoint: config.s3Endpoint, forcePathStyle: config.s3ForcePathStyle });
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
  const ops = await startOpsServer(config.metricsHost, config.metricsPort, registry, () => true);
  const running = [...pipelines.map((p) => p.run(abort.signal)), ...(recording ? [recording.run(abort.signal)] : [])];
  events.onStarted([...pipelines.map((p) => p.name), ...(recording ? ['recording'] : [])]);

  let draining: Promise<boolean> | undefined;
  return {
    metricsUrl: ops.url,
    pipelines,
    drain(deadlineMs, signal = 'drain') {
      draining ??= (async () => {
        events.onDrainStarted(signal, deadlineMs);
        const deadline = setTimeout(() => abort.abort(), deadlineMs);
        pipelines.forEach((p) => p.drain());
        recording?.drain();
        const results = await Promise.all(running);
        clearTimeout(deadline);
        const complete = !abort.signal.aborted && results.every(Boolean);
        await checkpoints.flush();
        watcher.close();
        await Promise.all([http.close(), ops.close()]);
        store?.destroy();
        return complete;
      })();
      return draining;
    },
  };
}
