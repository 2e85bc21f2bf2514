// The receiver's error catalogue: stable codes, their HTTP status, and the
// reasons a single line is rejected. The README's tables are checked against
// these by test/receiver/errors.test.ts.

export const REQUEST_ERRORS = {
  missing_header: { status: 400, meaning: 'a required X-Workspace-Id, X-Source-Id or X-Source-Offset header is missing' },
  bad_header: { status: 400, meaning: 'a header has an invalid value (offset not a non-negative integer, id too long or not printable)' },
  bad_body: { status: 400, meaning: 'the body cannot be read: bad gzip, not a JSON array in Vector mode, not a JSON object where one is expected' },
  bad_query: { status: 400, meaning: 'a query parameter is missing or invalid' },
  unauthorized: { status: 401, meaning: 'no bearer token, or a token that is not valid here' },
  forbidden: { status: 403, meaning: 'a per-workspace token used for another workspace (a header, a Vector event\'s workspace_id, a recording path)' },
  not_found: { status: 404, meaning: 'no such route, or nothing stored for what was asked (a workspace, a recording)' },
  request_timeout: { status: 408, meaning: 'the body did not arrive within REQUEST_TIMEOUT_MS; the connection is closed' },
  offset_gap: { status: 409, meaning: 'the request starts beyond the committed offset; resume from next_offset' },
  body_too_large: { status: 413, meaning: 'the body (after gzip decoding) is over MAX_BODY_BYTES' },
  too_many_lines: { status: 413, meaning: 'the body holds more lines (or Vector events) than MAX_REQUEST_LINES' },
  unsupported_media_type: { status: 415, meaning: 'Content-Type or Content-Encoding is not one the route accepts' },
  rate_limited: { status: 429, meaning: 'the workspace wrote more than WORKSPACE_RATE_BYTES per second (burst WORKSPACE_BURST_BYTES) on this replica; retry after Retry-After seconds' },
  client_aborted: { status: 499, meaning: 'the client closed the connection before its request was read (never an error of the receiver\'s; nothing was stored)' },
  internal: { status: 500, meaning: 'a bug; the request changed nothing' },
  storage_unavailable: { status: 502, meaning: 'the object store failed or could not be reached; retry later' },
  database_unavailable: { status: 503, meaning: 'PostgreSQL cannot be reached; retry after Retry-After seconds' },
  not_ready: { status: 503, meaning: 'migrations have not finished, or the receiver is shutting down' },
  overloaded: { status: 503, meaning: 'this replica already holds INGEST_MEMORY_BYTES of request bodies; retry after Retry-After seconds' },
} as const;

export type RequestErrorCode = keyof typeof REQUEST_ERRORS;

/** A whole-request failure; routes throw it and the server's error handler answers it. */
export class RequestError extends Error {
  readonly status: number;
  /** `extra` joins the JSON answer; `retryAfterSeconds` becomes Retry-After (503s get a default). */
  constructor(readonly code: RequestErrorCode, message: string, readonly extra: Record<string, unknown> = {}, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = 'RequestError';
    this.status = REQUEST_ERRORS[code].status;
  }
}

export const REJECT_REASONS = {
  empty_line: 'the line is empty',
  line_too_long: 'the line is over the line limit (MAX_LINE_BYTES here, or the shipper\'s own limit)',
  invalid_utf8: 'the bytes are not valid UTF-8',
  bad_json: 'the line is not valid JSON',
  not_an_object: 'the line is valid JSON but not an object',
  missing_field: 'a required field is absent or null',
  wrong_type: 'a field has the wrong JSON type',
  bad_timestamp: 'a timestamp is neither ISO-8601 nor Unix epoch seconds, or is out of range (years 1-9999)',
  timestamp_too_old: 'the timestamp is older than its table keeps (<TABLE>_RETENTION_DAYS), or than the table\'s oldest partition',
  timestamp_too_far_ahead: 'the timestamp is more than MAX_FUTURE_SECONDS ahead of the receiver\'s clock',
  out_of_range: 'a number cannot be stored exactly (an integer beyond 2^53, an exit code beyond 32 bits, or infinity)',
  too_deep: 'JSON nested deeper than 128 levels, beyond what PostgreSQL jsonb reliably parses',
  nul_byte: 'a string holds U+0000, which PostgreSQL text and jsonb cannot store',
  invalid_unicode: 'a string holds a lone UTF-16 surrogate (\\uD800-\\uDFFF escape), which cannot be stored as UTF-8',
} as const;

export type RejectReason = keyof typeof REJECT_REASONS;
