// The shipper's configuration: the seed pod spec's variable names first, then
// ferry's own. Pipelines are data: a fifth file is one more PIPELINES entry.

import { hostname } from 'node:os';
import { bool, bytes, credential, int, logLevel, oneOf, optionalStr, str, url, type ConfigOf, type Setting } from '../shared/env.js';
import { isLineStream, isValidId, type LineStream } from '../shared/wire.js';

export interface PipelineDef {
  /** Names the pipeline in metrics, logs, the checkpoint and its settings (`<NAME>_BATCH_MAX_EVENTS`). */
  name: string;
  /** File name inside RUNTIME_DIR. */
  file: string;
  /** Receiver stream: POST /ingest/<stream>. */
  stream: LineStream;
}

const DEFAULT_PIPELINES = 'commands:command-log.jsonl:commands,events:state-events.jsonl:events,llm:llm-history.jsonl:llm';

function pipelines(raw: string): PipelineDef[] | undefined {
  const defs = raw.split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
    const [name, file, stream] = entry.split(':');
    return { name: name ?? '', file: file ?? '', stream: stream ?? '' };
  });
  const names = new Set(defs.map((d) => d.name));
  const ok = defs.length > 0 && names.size === defs.length && defs.every((d) =>
    /^[a-z][a-z0-9_]*$/.test(d.name) && d.file !== '' && !d.file.includes('/') && isLineStream(d.stream));
  return ok ? (defs as PipelineDef[]) : undefined;
}

export const SHIPPER_SPEC = {
  workspaceId: { ...str('WORKSPACE_ID', { help: 'this workspace (the pod name: fieldRef metadata.name)' }), expected: '1-253 printable characters', parse: (raw: string) => (isValidId(raw) ? raw : undefined) } as Setting<string>,
  receiverUrl: url('DASHBOARD_SERVICE_URL', { help: 'base URL of ferry-receiver (the dashboard service)' }),
  // Unset, unreadable or weak: the shipper runs idle until a usable value comes (shipper.ts), instead of exiting.
  ingestToken: credential('INGEST_TOKEN', { help: 'bearer token for the receiver (shared or per-workspace); without a usable one the shipper waits, idle', previous: false, shown: 'unset: idle' }),
  credentialsReloadIntervalMs: int('CREDENTIALS_RELOAD_INTERVAL_MS', 100, 3_600_000, { help: 'how often INGEST_TOKEN_FILE is read again (and at once after a 401)', default: 10_000 }),
  tlsCaFile: optionalStr('TLS_CA_FILE', { help: 'PEM file of the CA(s) an https:// receiver\'s certificate chains to, trusted besides Node\'s store and NODE_EXTRA_CA_CERTS', shown: 'unset' }),
  recordingBucket: optionalStr('RECORDING_BUCKET', { help: 'the receiver\'s recording bucket: set, session.cast is uploaded through the receiver, which presigns every PUT (unset: recording pipeline off)', shown: 'unset' }),
  recordingFile: str('RECORDING_FILE', { help: 'the asciinema recording inside RUNTIME_DIR', default: 'session.cast' }),
  recordingSyncIntervalMs: int('RECORDING_SYNC_INTERVAL_MS', 100, 30_000, { help: 'how often new complete lines of the recording are uploaded as a segment', default: 10_000 }),
  recordingIdleMs: int('RECORDING_IDLE_MS', 1_000, 86_400_000, { help: 'after this long without growth, the whole recording is uploaded as one object', default: 300_000 }),
  runtimeDir: str('RUNTIME_DIR', { help: 'folder the workspace writes its files into', default: '/workshop/runtime' }),
  stateDir: str('STATE_DIR', { help: 'folder for checkpoints (the shipper\'s own volume)', default: '/var/lib/ferry' }),
  pipelines: { env: 'PIPELINES', help: 'name:file:stream entries, comma-separated', expected: 'name:file:stream entries (stream one of commands, events, llm; names unique, lowercase)', parse: pipelines, fallback: { value: pipelines(DEFAULT_PIPELINES)!, shown: DEFAULT_PIPELINES } } as Setting<PipelineDef[]>,
  deliveryFormat: oneOf('DELIVERY_FORMAT', ['native', 'vector'] as const, { help: 'native (exactly once) or vector (JSON arrays as Vector sent them; at least once)', default: 'native' }),
  gzip: bool('GZIP', { help: 'gzip request bodies', default: false }),
  maxLineBytes: bytes('MAX_LINE_BYTES', 1024, 256 * 1024 ** 2, { help: 'longest line shipped; longer lines are reported to /ingest/rejects', default: 1024 ** 2, shown: '1MiB' }),
  requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 100, 600_000, { help: 'time for one request to the receiver', default: 30_000 }),
  retryMaxDelayMs: int('RETRY_MAX_DELAY_MS', 100, 600_000, { help: 'cap of the exponential backoff between retries', default: 30_000 }),
  refusedRetryDelayMs: int('REFUSED_RETRY_DELAY_MS', 100, 3_600_000, { help: 'wait before retrying after a configuration fault: a 4xx from the receiver, a 2xx that is not its answer, an S3 refusal', default: 60_000 }),
  pollIntervalMs: int('POLL_INTERVAL_MS', 10, 60_000, { help: 'how often files are checked where filesystem notifications do not come: RUNTIME_DIR cannot be watched, or a file changed without one', default: 250 }),
  safetyPollIntervalMs: int('SAFETY_POLL_INTERVAL_MS', 100, 3_600_000, { help: 'how often files are checked while filesystem notifications come: the safety net for one that was missed', default: 10_000 }),
  checkpointIntervalMs: int('CHECKPOINT_INTERVAL_MS', 0, 60_000, { help: 'at most one checkpoint write per interval (coalescing)', default: 1_000 }),
  drainTimeoutMs: int('DRAIN_TIMEOUT_MS', 0, 3_600_000, { help: 'on SIGTERM/SIGINT, time to ship everything before exiting non-zero', default: 25_000 }),
  metricsHost: str('METRICS_HOST', { help: 'address for /metrics, /healthz, /readyz', default: '0.0.0.0' }),
  metricsPort: int('METRICS_PORT', 0, 65535, { help: 'port for /metrics, /healthz, /readyz', default: 9464 }),
  hostName: str('HOSTNAME', { help: 'host name sent in Vector mode events', default: hostname(), shown: 'the host name' }),
  logLevel: logLevel(),
};

export type ShipperConfig = ConfigOf<typeof SHIPPER_SPEC> & { batches: Record<string, BatchLimits> };

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
}

/** Defaults from the benchmark (bench/README.md, "shipper"). */
export const DEFAULT_BATCH: BatchLimits = { maxEvents: 50_000, maxBytes: 4 * 1024 ** 2 };
export const DEFAULT_BATCH_BY_STREAM: Record<LineStream, BatchLimits> = {
  commands: DEFAULT_BATCH,
  events: DEFAULT_BATCH,
  llm: { maxEvents: 1_000, maxBytes: 4 * 1024 ** 2 },
};

export function batchSettings(p: PipelineDef): { maxEvents: Setting<number>; maxBytes: Setting<number> } {
  const prefix = p.name.toUpperCase();
  const d = DEFAULT_BATCH_BY_STREAM[p.stream];
  return {
    maxEvents: int(`${prefix}_BATCH_MAX_EVENTS`, 1, 1_000_000, { help: `most lines per request for ${p.file}`, default: d.maxEvents }),
    maxBytes: bytes(`${prefix}_BATCH_MAX_BYTES`, 1024, 256 * 1024 ** 2, { help: `most bytes per request for ${p.file}`, default: d.maxBytes, shown: `${d.maxBytes / 1024 ** 2}MiB` }),
  };
}

/** Reads the whole configuration; throws ConfigError naming the first bad variable. */
export function loadShipperConfig(load: <S extends Record<string, Setting<unknown>>>(spec: S) => ConfigOf<S>): ShipperConfig {
  const base = load(SHIPPER_SPEC);
  const batches: Record<string, BatchLimits> = {};
  for (const p of base.pipelines) batches[p.name] = load(batchSettings(p));
  return { ...base, batches };
}
