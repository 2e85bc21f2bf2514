import { bool, bytes, int, logLevel, optionalStr, optionalUrl, str, type ConfigOf } from '../shared/env.js';

export const RECEIVER_SPEC = {
  databaseUrl: str('DATABASE_URL', { help: 'PostgreSQL connection string (postgres://user:pass@host:5432/db)', secret: true }),
  host: str('HOST', { help: 'address to listen on', default: '0.0.0.0' }),
  port: int('PORT', 0, 65535, { help: 'port for ingest, /metrics, /healthz and /readyz', default: 8080 }),
  tlsCertFile: optionalStr('TLS_CERT_FILE', { help: 'PEM certificate (chain) for HTTPS, with TLS_KEY_FILE (unset: plain HTTP); a renewed file is picked up without a restart', shown: 'unset' }),
  tlsKeyFile: optionalStr('TLS_KEY_FILE', { help: 'PEM private key of the certificate in TLS_CERT_FILE', shown: 'unset' }),
  tlsReloadIntervalMs: int('TLS_RELOAD_INTERVAL_MS', 100, 3_600_000, { help: 'how often TLS_CERT_FILE and TLS_KEY_FILE are read again to find a renewal', default: 10_000 }),
  ingestToken: optionalStr('INGEST_TOKEN', { help: 'shared bearer token for ingest', shown: 'unset', secret: true }),
  ingestTokenSecret: optionalStr('INGEST_TOKEN_SECRET', { help: 'secret for per-workspace ingest tokens (see `ferry-receiver mint-token`)', shown: 'unset', secret: true }),
  readToken: optionalStr('READ_TOKEN', { help: 'bearer token for dashboard reads (unset: reads disabled)', shown: 'unset', secret: true }),
  maxBodyBytes: bytes('MAX_BODY_BYTES', 1024, 1024 ** 3, { help: 'largest request body, after gzip decoding', default: 16 * 1024 ** 2, shown: '16MiB' }),
  maxLineBytes: bytes('MAX_LINE_BYTES', 256, 256 * 1024 ** 2, { help: 'longest line accepted; longer lines become rejects', default: 4 * 1024 ** 2, shown: '4MiB' }),
  maxRequestLines: int('MAX_REQUEST_LINES', 1, 10_000_000, { help: 'most lines (or Vector events) in one request; each costs memory and a row, so more is answered 413', default: 250_000 }),
  rejectRawBytes: bytes('REJECT_RAW_BYTES', 0, 1024 ** 2, { help: 'how many bytes of a rejected line are kept in ingest_rejects.raw', default: 4096, shown: '4KiB' }),
  poolMax: int('PG_POOL_MAX', 1, 1000, { help: 'PostgreSQL connections per receiver process', default: 10 }),
  ingestConcurrency: int('INGEST_CONCURRENCY', 1, 1000, { help: 'ingest transactions a receiver runs at once; requests arriving meanwhile wait and share the next one (below PG_POOL_MAX)', default: 2 }),
  requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 1000, 3_600_000, { help: 'time a client has to send a whole request', default: 30_000 }),
  shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 0, 3_600_000, { help: 'on SIGTERM, how long in-flight requests may take before exit 1', default: 25_000 }),
  recordingBucket: optionalStr('RECORDING_BUCKET', { help: 'bucket the shippers upload recordings to (unset: GET /recordings is off)', shown: 'unset' }),
  awsRegion: str('AWS_REGION', { help: 'S3 region', default: 'us-east-1' }),
  s3Endpoint: optionalUrl('AWS_ENDPOINT_URL_S3', { help: 'S3 endpoint for MinIO and other S3-compatible stores', shown: 'AWS' }),
  s3ForcePathStyle: bool('S3_FORCE_PATH_STYLE', { help: 'path-style bucket addressing (MinIO)', default: false }),
  streamDatabaseUrl: optionalStr('STREAM_DATABASE_URL', { help: 'direct PostgreSQL connection for LISTEN (the live /stream); set it when DATABASE_URL goes through PgBouncer in transaction mode', shown: 'DATABASE_URL', secret: true }),
  streamReplaySeconds: int('STREAM_REPLAY_SECONDS', 10, 7 * 86_400, { help: 'how far back a reconnecting /stream client can resume from its Last-Event-ID', default: 600 }),
  streamHeartbeatMs: int('STREAM_HEARTBEAT_MS', 1_000, 300_000, { help: 'keep-alive comment on /stream connections, so proxies do not close idle ones', default: 15_000 }),
  streamClientBufferBytes: bytes('STREAM_CLIENT_BUFFER_BYTES', 16 * 1024, 256 * 1024 ** 2, { help: 'a /stream client with more unsent bytes than this is cut off (it resumes with Last-Event-ID)', default: 1024 ** 2, shown: '1MiB' }),
  logLevel: logLevel(),
};

export type ReceiverConfig = ConfigOf<typeof RECEIVER_SPEC>;
