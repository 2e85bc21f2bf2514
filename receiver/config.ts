import { isIP } from 'node:net';
import { bool, bytes, ConfigError, credential, int, isPlaceholderSecret, logLevel, notPlaceholder, optionalStr, optionalUrl, str, type ConfigOf, type Setting } from '../shared/env.js';

function isAddressOrCidr(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

export const RECEIVER_SPEC = {
  databaseUrl: str('DATABASE_URL', { help: 'PostgreSQL connection string (postgres://user:pass@host:5432/db)', secret: true }),
  host: str('HOST', { help: 'address to listen on', default: '0.0.0.0' }),
  port: int('PORT', 0, 65535, { help: 'port for ingest, /metrics, /healthz and /readyz', default: 8080 }),
  tlsCertFile: optionalStr('TLS_CERT_FILE', { help: 'PEM certificate (chain) for HTTPS, with TLS_KEY_FILE (unset: plain HTTP); a renewed file is picked up without a restart', shown: 'unset' }),
  tlsKeyFile: optionalStr('TLS_KEY_FILE', { help: 'PEM private key of the certificate in TLS_CERT_FILE', shown: 'unset' }),
  tlsReloadIntervalMs: int('TLS_RELOAD_INTERVAL_MS', 100, 3_600_000, { help: 'how often TLS_CERT_FILE and TLS_KEY_FILE are read again to find a renewal', default: 10_000 }),
  ingestToken: credential('INGEST_TOKEN', { help: 'shared bearer token for ingest', previous: true, shown: 'unset' }),
  ingestTokenSecret: credential('INGEST_TOKEN_SECRET', { help: 'secret for per-workspace ingest tokens (see `ferry-receiver mint-token`)', previous: true, shown: 'unset' }),
  readToken: credential('READ_TOKEN', { help: 'bearer token for dashboard reads (unset: reads disabled)', previous: true, shown: 'unset' }),
  credentialsReloadIntervalMs: int('CREDENTIALS_RELOAD_INTERVAL_MS', 100, 3_600_000, { help: 'how often the *_FILE credentials are read again to find a rotated value', default: 10_000 }),
  pgPasswordSet: notPlaceholder('PGPASSWORD', 'PostgreSQL password, when not in DATABASE_URL (read by node-postgres)'),
  awsSecretSet: notPlaceholder('AWS_SECRET_ACCESS_KEY', 'S3 secret key for recording reads (read by the AWS SDK; unset: its other credential sources)'),
  maxBodyBytes: bytes('MAX_BODY_BYTES', 1024, 1024 ** 3, { help: 'largest request body, after gzip decoding', default: 16 * 1024 ** 2, shown: '16MiB' }),
  maxLineBytes: bytes('MAX_LINE_BYTES', 256, 256 * 1024 ** 2, { help: 'longest line accepted; longer lines become rejects', default: 4 * 1024 ** 2, shown: '4MiB' }),
  maxRequestLines: int('MAX_REQUEST_LINES', 1, 10_000_000, { help: 'most lines (or Vector events) in one request; each costs memory and a row, so more is answered 413', default: 250_000 }),
  rejectRawBytes: bytes('REJECT_RAW_BYTES', 0, 1024 ** 2, { help: 'how many bytes of a rejected line are kept in ingest_rejects.raw', default: 4096, shown: '4KiB' }),
  ingestMemoryBytes: bytes('INGEST_MEMORY_BYTES', 1024 ** 2, 64 * 1024 ** 3, { help: 'request body bytes this replica holds at once (read, parsed, queued, loading); past it, 503 before the body is read. Size it from the memory limit: see the README', default: 32 * 1024 ** 2, shown: '32MiB' }),
  workspaceRateBytes: bytes('WORKSPACE_RATE_BYTES', 0, 1024 ** 3, { help: 'body bytes per second one workspace may send to this replica; past it, 429 with Retry-After (0: no limit)', default: 512 * 1024, shown: '512KiB' }),
  workspaceBurstBytes: bytes('WORKSPACE_BURST_BYTES', 1024, 64 * 1024 ** 3, { help: 'bytes a workspace may send at once above its rate (at least MAX_BODY_BYTES)', default: 16 * 1024 ** 2, shown: '16MiB' }),
  trustProxy: {
    ...optionalStr('TRUST_PROXY', { help: 'addresses or CIDRs (comma-separated) of proxies whose X-Forwarded-Proto and -For count, e.g. an ingress that ends TLS', shown: 'unset: none' }),
    expected: 'IP addresses or CIDRs, comma-separated',
    parse: (raw: string) => (raw.split(',').every((e) => isAddressOrCidr(e.trim())) ? raw : undefined),
  } as Setting<string | undefined>,
  maxConnectionsPerPeer: int('MAX_CONNECTIONS_PER_PEER', 0, 1_000_000, { help: 'sockets one client address may hold open at once; past it, a new one is closed as soon as it is accepted (0: no limit). A proxy in TRUST_PROXY is not counted', default: 32 }),
  poolMax: int('PG_POOL_MAX', 1, 1000, { help: 'PostgreSQL connections per receiver process', default: 10 }),
  ingestConcurrency: int('INGEST_CONCURRENCY', 1, 1000, { help: 'ingest transactions a receiver runs at once; requests arriving meanwhile wait and share the next one (below PG_POOL_MAX)', default: 2 }),
  databaseTimeoutMs: int('DATABASE_TIMEOUT_MS', 1_000, 600_000, { help: 'longest an ingest transaction may wait for PostgreSQL; past it the connection is dropped and the request answered 503 (a database that accepts and never answers)', default: 20_000 }),
  requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 1000, 3_600_000, { help: 'time a client has to send a whole request', default: 30_000 }),
  shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 0, 3_600_000, { help: 'on SIGTERM, how long in-flight requests may take before exit 1', default: 25_000 }),
  recordingBucket: optionalStr('RECORDING_BUCKET', { help: 'bucket the shippers upload recordings to (unset: GET /recordings is off)', shown: 'unset' }),
  awsRegion: str('AWS_REGION', { help: 'S3 region', default: 'us-east-1' }),
  s3Endpoint: optionalUrl('AWS_ENDPOINT_URL_S3', { help: 'S3 endpoint for MinIO and other S3-compatible stores', shown: 'AWS' }),
  s3ForcePathStyle: bool('S3_FORCE_PATH_STYLE', { help: 'path-style bucket addressing (MinIO)', default: false }),
  recordingWriterAccessKeyId: optionalStr('RECORDING_WRITER_ACCESS_KEY_ID', { help: 'access key of the identity that writes recordings: starts and finishes uploads, signs the shippers\' PUTs (unset: the same identity as reads)', shown: 'unset' }),
  recordingWriterSecretAccessKey: {
    ...optionalStr('RECORDING_WRITER_SECRET_ACCESS_KEY', { help: 'secret key of that identity', shown: 'unset', secret: true }),
    expected: 'a real value, not a placeholder from the repository\'s manifests',
    parse: (raw: string) => (isPlaceholderSecret(raw) ? undefined : raw),
  } as Setting<string | undefined>,
  streamDatabaseUrl: optionalStr('STREAM_DATABASE_URL', { help: 'direct PostgreSQL connection for LISTEN (the live /stream); set it when DATABASE_URL goes through PgBouncer in transaction mode', shown: 'DATABASE_URL', secret: true }),
  streamReplaySeconds: int('STREAM_REPLAY_SECONDS', 10, 7 * 86_400, { help: 'how far back a reconnecting /stream client can resume from its Last-Event-ID', default: 600 }),
  streamHeartbeatMs: int('STREAM_HEARTBEAT_MS', 1_000, 300_000, { help: 'keep-alive comment on /stream connections, so proxies do not close idle ones', default: 15_000 }),
  streamClientBufferBytes: bytes('STREAM_CLIENT_BUFFER_BYTES', 16 * 1024, 256 * 1024 ** 2, { help: 'a /stream client with more unsent bytes than this is cut off (it resumes with Last-Event-ID)', default: 1024 ** 2, shown: '1MiB' }),
  partitionIntervalHours: int('PARTITION_INTERVAL_HOURS', 1, 744, { help: 'time range of one partition of the log tables (aligned on multiples of it since the Unix epoch: 24 is midnight UTC); 6 suits a fleet of about 1,000 workspaces', default: 24 }),
  maxFutureSeconds: int('MAX_FUTURE_SECONDS', 60, 30 * 86_400, { help: 'a line stamped further ahead of the receiver\'s clock is rejected (timestamp_too_far_ahead)', default: 86_400 }),
  commandLogRetentionDays: int('COMMAND_LOG_RETENTION_DAYS', 0, 36_500, { help: 'days command_log keeps rows (whole partitions are dropped; 0 keeps them forever)', default: 90 }),
  stateTimelineRetentionDays: int('STATE_TIMELINE_RETENTION_DAYS', 0, 36_500, { help: 'days state_timeline keeps rows (0: forever); workspace_status is not affected', default: 90 }),
  llmInteractionsRetentionDays: int('LLM_INTERACTIONS_RETENTION_DAYS', 0, 36_500, { help: 'days llm_interactions keeps rows (0: forever)', default: 180 }),
  ingestRejectsRetentionDays: int('INGEST_REJECTS_RETENTION_DAYS', 0, 36_500, { help: 'days ingest_rejects keeps rows (0: forever)', default: 30 }),
  logLevel: logLevel(),
};

export type ReceiverConfig = ConfigOf<typeof RECEIVER_SPEC>;

/** What one setting cannot say alone: limits that must fit one another, and ingest that is never open. */
export function checkReceiverConfig(c: ReceiverConfig): ReceiverConfig {
  if (!c.ingestToken.current && !c.ingestTokenSecret.current) throw new ConfigError('INGEST_TOKEN', 'set (or INGEST_TOKEN_SECRET set): ingest is never open', undefined);
  if (!c.recordingWriterAccessKeyId !== !c.recordingWriterSecretAccessKey) throw new ConfigError(c.recordingWriterAccessKeyId ? 'RECORDING_WRITER_SECRET_ACCESS_KEY' : 'RECORDING_WRITER_ACCESS_KEY_ID', 'set with its pair (the writer identity\'s access key and secret key)', undefined);
  if (c.ingestMemoryBytes < c.maxBodyBytes) throw new ConfigError('INGEST_MEMORY_BYTES', `at least MAX_BODY_BYTES (${c.maxBodyBytes}), or the largest body never fits`, String(c.ingestMemoryBytes));
  if (c.workspaceRateBytes > 0 && c.workspaceBurstBytes < c.maxBodyBytes) throw new ConfigError('WORKSPACE_BURST_BYTES', `at least MAX_BODY_BYTES (${c.maxBodyBytes}), or the largest body is never admitted`, String(c.workspaceBurstBytes));
  return c;
}
