// What an object-storage failure means for the recording: worth retrying soon
// (transient), a configuration fault that no retry soon will fix (retried
// slowly and loudly), or a call this store does not offer (unsupported; only
// housekeeping may do without one). Pure functions over explicit lists, as
// ship/is-retryable.ts is for the receiver.

export type S3FailureKind = 'transient' | 'configuration' | 'unsupported';

/** Errors that say the store lacks the call or forbids it to these credentials. */
const UNSUPPORTED_CODES = new Set(['NotImplemented', 'MethodNotAllowed', 'AccessDenied']);
const UNSUPPORTED_STATUSES = new Set([405, 501]);

/** The bucket, the credentials, the endpoint or the region are wrong. */
const CONFIGURATION_CODES = new Set([
  'AccessDenied', 'AllAccessDisabled', 'AccountProblem', 'AuthorizationHeaderMalformed', 'InvalidAccessKeyId', 'InvalidBucketName',
  'InvalidToken', 'MethodNotAllowed', 'NoSuchBucket', 'NotImplemented', 'NotSignedUp', 'PermanentRedirect', 'SignatureDoesNotMatch',
  // The receiver, which the shipper reaches the store through (record/receiver-store.ts): its certificate refused, or another server's 2xx.
  'ReceiverUntrusted', 'ReceiverMisdirected',
]);

/** 4xx answers that pass by themselves: a slow request, expired temporary credentials or URL, throttling, an upload aborted under us. */
const TRANSIENT_CODES = new Set([
  'RequestTimeout', 'ExpiredToken', 'TokenRefreshRequired', 'SlowDown', 'Throttling', 'TooManyRequests', 'NoSuchUpload', 'RequestTimeTooSkewed',
  // A presigned URL used after its time: the next attempt asks the receiver for a new one.
  'PresignedUrlExpired',
]);
const TRANSIENT_STATUSES = new Set([408, 429]);

/** The S3 error code (the SDK names the error after it) and the HTTP status, when there was an answer. */
function describe(err: unknown): { code: string; status: number | undefined } {
  const e = err as { name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number } };
  const code = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : '';
  return { code, status: e?.$metadata?.httpStatusCode };
}

/** `housekeeping`: listing and aborting multipart uploads, which the recording can do without. */
export function s3FailureKind(err: unknown, housekeeping: boolean): S3FailureKind {
  const { code, status } = describe(err);
  if (housekeeping && (UNSUPPORTED_CODES.has(code) || (status !== undefined && UNSUPPORTED_STATUSES.has(status)))) return 'unsupported';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  if (CONFIGURATION_CODES.has(code)) return 'configuration';
  if (status !== undefined && status >= 400 && status < 500 && !TRANSIENT_STATUSES.has(status)) return 'configuration';
  return 'transient';
}

/** A short label for logs: the S3 code and status, or the error's message. */
export function s3FailureReason(err: unknown): string {
  const { code, status } = describe(err);
  const message = (err as Error)?.message ?? String(err);
  return status !== undefined ? `${code || 'error'} (HTTP ${status}): ${message}` : message;
}
