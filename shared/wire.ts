// The wire protocol between shipper and receiver, described once.

/** The line streams: each is one JSONL file on the shipper side and one table on the receiver side. */
export const LINE_STREAMS = ['commands', 'events', 'llm'] as const;
export type LineStream = (typeof LINE_STREAMS)[number];

export function isLineStream(s: string): s is LineStream {
  return (LINE_STREAMS as readonly string[]).includes(s);
}

export const HEADERS = {
  workspaceId: 'x-workspace-id',
  sourceId: 'x-source-id',
  sourceOffset: 'x-source-offset',
} as const;

export const CONTENT_TYPES = {
  /** Native format: the exact bytes of complete lines. */
  ndjson: 'application/x-ndjson',
  /** Vector-compatible format: a JSON array of events. */
  json: 'application/json',
} as const;

/** Other names clients use for newline-delimited JSON; all mean the native format. */
export const NDJSON_ALIASES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'];

export const PATHS = {
  ingest: (stream: LineStream) => `/ingest/${stream}`,
  recordings: '/ingest/recordings',
  rejects: '/ingest/rejects',
  offsets: '/ingest/offsets',
  /** The recording's object-store calls, made or presigned by the receiver for the workspace's own prefix. */
  recordingObjects: '/ingest/recordings/objects',
  recordingHead: '/ingest/recordings/head',
  recordingUploads: '/ingest/recordings/uploads',
  recordingPresign: '/ingest/recordings/presign',
  recordingMultipart: '/ingest/recordings/multipart',
  recordingComplete: '/ingest/recordings/complete',
  recordingAbort: '/ingest/recordings/abort',
  drains: '/ingest/drains',
} as const;

/**
 * A field every 2xx answer of the receiver holds, per path: the shipper tells
 * the receiver's answer from another server's 2xx (an ingress' default page)
 * by it, and counts nothing as delivered without it.
 */
export const ANSWER_KEYS = {
  ingest: 'next_offset',
  rejects: 'next_offset',
  offsets: 'offsets',
  recordings: 'last_sync_byte',
  recordingObjects: 'objects',
  recordingHead: 'object',
  recordingUploads: 'uploads',
  recordingPresign: 'url',
  recordingMultipart: 'upload_id',
  recordingComplete: 'completed',
  recordingAbort: 'aborted',
  drains: 'stored',
} as const;

/** Answer to a line-stream POST: every line of the request is counted exactly once. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The stream's committed offset after this request; null for Vector arrays, which carry no offsets. */
  next_offset: number | null;
}

/** Whole-request failures: `error` is a stable code from the receiver's catalogue. */
export interface ErrorBody {
  error: string;
  message: string;
  /** Present on `offset_gap` (409): where the stream must resume. */
  next_offset?: number;
}

export interface StreamOffset {
  stream: LineStream;
  source_id: string;
  next_offset: number;
  updated_at: string;
}

/** `GET /ingest/offsets?workspace_id=...[&stream=...][&source_id=...]` */
export interface OffsetsResponse {
  workspace_id: string;
  offsets: StreamOffset[];
}

/**
 * `POST /ingest/rejects`: a line the shipper will not send (it is over its line
 * limit). The receiver stores it as a reject and advances the stream past it, so
 * the offsets stay contiguous.
 */
export interface RejectReport {
  stream: LineStream;
  source_id: string;
  offset: number;
  /** Length of the whole line in bytes, newline included. */
  length: number;
  reason: 'line_too_long';
  /** The first bytes of the line, base64. */
  prefix_base64: string;
}

/** `POST /ingest/recordings`: how much of the workspace's recording is durable in object storage. */
export interface RecordingReport {
  storage_path: string;
  last_sync_byte: number;
}

// The recording's object-store calls. The shipper holds no object-store
// credential: the receiver lists, heads and finishes uploads for it, and
// presigns each PUT (an object up to 5 MiB, or one part of a multipart
// upload), always inside the token's workspace prefix, recordings/<ws>/.

/** `GET /ingest/recordings/objects?prefix=P[&delimiter=/]`: the objects under P, or with the delimiter the folders right under it. */
export interface RecordingObjectsAnswer {
  objects: Array<{ key: string; size: number }>;
  folders: string[];
}

/** `GET /ingest/recordings/head?key=K`: null when there is no such object. */
export interface RecordingHeadAnswer {
  object: { size: number; metadata: Record<string, string> } | null;
}

/** `GET /ingest/recordings/uploads?prefix=P`: multipart uploads left open under P. */
export interface RecordingUploadsAnswer {
  uploads: Array<{ key: string; upload_id: string }>;
}

/** `POST /ingest/recordings/presign`: a PutObject, or with upload_id and part_number an UploadPart, of `size` bytes. */
export interface PresignRequest {
  key: string;
  size: number;
  metadata?: Record<string, string>;
  upload_id?: string;
  part_number?: number;
}

/** Send `headers` as they are, with the body's exact length: both are signed. */
export interface PresignAnswer {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
  expires_in_seconds: number;
}

/** `POST /ingest/recordings/multipart` starts an upload ({key, metadata} → {upload_id}); `/complete` ({key, upload_id, parts}) and `/abort` ({key, upload_id}) end it. */
export interface MultipartRequest {
  key: string;
  upload_id?: string;
  metadata?: Record<string, string>;
  parts?: Array<{ part_number: number; etag: string }>;
}

/** How a shipper's drain (SIGTERM) ended: everything shipped, the deadline passed first, or a file could not be read to its end. */
export const DRAIN_OUTCOMES = ['complete', 'deadline', 'file_errors'] as const;
export type DrainOutcome = (typeof DRAIN_OUTCOMES)[number];

/** `POST /ingest/drains`: the shipper's last request, after its drain. `unshipped`: bytes left per pipeline, and `recording`. */
export interface DrainReport {
  outcome: DrainOutcome;
  unshipped: Record<string, number>;
  seconds: number;
}

/** Workspace and source ids: 1-253 printable characters (a Kubernetes name fits). */
export function isValidId(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return s.length > 0 && s.length <= 253 && !/[\u0000-\u001f\u007f]/.test(s) && s.isWellFormed();
}

// Dashboards' side: GET /stream (Server-Sent Events) and the read API under /api.

/** Streams a batch event can come from: the line streams, and recording progress. */
export type BatchStream = LineStream | 'recordings';

/** A workspace_status row as dashboards read it (timestamps ISO 8601, UTC). */
export interface WorkspaceStatus {
  workspace_id: string;
  workshop_name: string;
  current_step: string | null;
  connected: boolean;
  last_active_at: string | null;
  steps_completed: string[] | null;
  last_goss_passed: boolean | null;
  updated_at: string;
}

export interface CommandSummary {
  command: string;
  exit_code: number;
  timestamp: string;
}

/**
 * The data of one `batch` event on GET /stream: a committed batch of one
 * workspace. The SSE `id` is an opaque position; send it back as
 * Last-Event-ID to resume. Detail fields depend on the stream; when an event
 * would exceed STREAM_EVENT_MAX_BYTES they are left out and `truncated` is set.
 */
export interface StreamEvent {
  workspace_id: string;
  stream: BatchStream;
  /** Rows stored by the batch (for recordings: 1). */
  count: number;
  /** Lines of the batch that went to ingest_rejects. */
  rejected: number;
  /** When the batch was stored (ISO 8601, UTC). */
  at: string;
  status?: WorkspaceStatus;
  last_command?: CommandSummary;
  last_llm?: { step_id: string; model: string; requested_at: string };
  recording?: { storage_path: string; last_sync_byte: number };
  truncated?: true;
}

/** Every list of the read API: `next` is the cursor for the following page, null on the last. */
export interface Page<T> {
  items: T[];
  next: string | null;
}
