// A byte range of a file as one object: a single PutObject up to PART_SIZE,
// otherwise a multipart upload whose parts are read from the file into
// buffers that are reused for every part. A stream's chunks, as lib-storage's
// Upload and a streamed PutObject took them before, stayed allocated until V8
// collected them once sent: 45-70 MiB of ArrayBuffers at the peaks on Node 24,
// which took the shipper past its memory budget. Here an upload holds its
// buffers, PART_SIZE each. The calls themselves go through a PartTarget: the
// S3 client's (shared/object-store.ts), or the shipper's, which PUTs to URLs
// the receiver presigns (shipper/record/receiver-store.ts) and needs no SDK.

export const PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight at once, each with its own buffer. */
const PARTS_IN_FLIGHT = 2;
/** How long a failed or cancelled upload waits for the store to drop its parts. */
const ABORT_WAIT_MS = 2_000;

/** Where the bytes come from: positional reads, as a file handle does them. */
export interface PositionalSource {
  read(into: Buffer, length: number, position: number): Promise<number>;
}

export interface MultipartEvents {
  onMultipartStarted(key: string): void;
  /** `left_open`: the upload failed and the store would not abort it (it lacks the call, or was unreachable). */
  onMultipartFinished(key: string, outcome: 'completed' | 'aborted' | 'left_open'): void;
}

/** Code of a SourceError for a file that changed under the upload: it ended before the range did, or its source says it was rewritten. */
export const SOURCE_CHANGED = 'ECHANGED';

/**
 * The file failed, not the store: a read error, or the file changed
 * (SOURCE_CHANGED). No retry of the upload can fix it; the caller looks at
 * the file again.
 */
export class SourceError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Bytes [start, start + size) of a file. */
export interface FileRange {
  source: PositionalSource;
  start: number;
  size: number;
}

export interface FileUpload {
  key: string;
  range: FileRange;
  metadata: Record<string, string>;
  events: MultipartEvents;
  signal?: AbortSignal;
}

/** The five object-store calls an upload makes. */
export interface PartTarget {
  putObject(key: string, body: Buffer, metadata: Record<string, string>, signal: AbortSignal | undefined): Promise<void>;
  /** Starts a multipart upload; resolves with its id. */
  createUpload(key: string, metadata: Record<string, string>, signal: AbortSignal | undefined): Promise<string>;
  /** Resolves with the part's ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, signal: AbortSignal): Promise<string>;
  completeUpload(key: string, uploadId: string, parts: CompletedPart[], signal: AbortSignal | undefined): Promise<void>;
  abortUpload(key: string, uploadId: string, signal: AbortSignal): Promise<void>;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** `length` bytes at `position` into the start of `into`; the file must still hold them. */
async function readExactly(source: PositionalSource, into: Buffer, length: number, position: number): Promise<Buffer> {
  for (let got = 0; got < length;) {
    const n = await source.read(into.subarray(got), length - got, position + got).catch((err: unknown) => {
      if (err instanceof SourceError) throw err;
      const code = (err as { code?: unknown })?.code;
      throw new SourceError(`reading the file: ${(err as Error)?.message ?? String(err)}`, typeof code === 'string' ? code : 'EIO', { cause: err });
    });
    if (n === 0) throw new SourceError(`the file ended at byte ${position + got}, before ${position + length}`, SOURCE_CHANGED);
    got += n;
  }
  return into.subarray(0, length);
}

export async function uploadFile(target: PartTarget, u: FileUpload): Promise<void> {
  const { key, metadata, events } = u;
  const { source, start, size } = u.range;
  if (size <= PART_SIZE) {
    const body = await readExactly(source, Buffer.allocUnsafe(size), size, start);
    await target.putObject(key, body, metadata, u.signal);
    return;
  }
  const uploadId = await target.createUpload(key, metadata, u.signal);
  events.onMultipartStarted(key);
  // One part failing stops the others at once.
  const failed = new AbortController();
  const signal = u.signal ? AbortSignal.any([u.signal, failed.signal]) : failed.signal;
  const count = Math.ceil(size / PART_SIZE);
  const parts: CompletedPart[] = [];
  let next = 0;
  async function sendParts(buffer: Buffer): Promise<void> {
    while (next < count) {
      signal.throwIfAborted();
      const partNumber = ++next;
      const offset = (partNumber - 1) * PART_SIZE;
      const body = await readExactly(source, buffer, Math.min(PART_SIZE, size - offset), start + offset);
      parts[partNumber - 1] = { partNumber, etag: await target.uploadPart(key, uploadId, partNumber, body, signal) };
    }
  }
  try {
    const senders = Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, () => sendParts(Buffer.allocUnsafe(PART_SIZE)));
    await Promise.all(senders.map((s) => s.catch((err: unknown) => {
      failed.abort(err);
      throw err;
    })));
    await target.completeUpload(key, uploadId, parts, u.signal);
    events.onMultipartFinished(key, 'completed');
  } catch (err) {
    // Also after a cancel (the drain deadline), but briefly: when the store
    // cannot be reached, the next start aborts what is left open under the
    // workspace's prefix; a store without the call has the bucket's
    // AbortIncompleteMultipartUpload lifecycle rule for it (README).
    const aborted = await target.abortUpload(key, uploadId, AbortSignal.timeout(ABORT_WAIT_MS)).then(() => true, () => false);
    events.onMultipartFinished(key, aborted ? 'aborted' : 'left_open');
    throw err;
  }
}
