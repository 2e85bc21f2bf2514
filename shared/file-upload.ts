// A byte range of a file as one object: a single PutObject up to PART_SIZE,
// otherwise a multipart upload whose parts are read from the file into
// buffers that are reused for every part. A stream's chunks, as lib-storage's
// Upload and a streamed PutObject took them before, stayed allocated until V8
// collected them once sent: 45-70 MiB of ArrayBuffers at the peaks on Node 24,
// which took the shipper past its memory budget. Here an upload holds its
// buffers, PART_SIZE each.

import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand,
  type CompletedPart, type S3Client,
} from '@aws-sdk/client-s3';
import { SOURCE_CHANGED, SourceError, type PositionalSource } from './positional-source.js';

export { SOURCE_CHANGED, SourceError, type PositionalSource };

export const PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight at once, each with its own buffer. */
const PARTS_IN_FLIGHT = 2;
/** How long a failed or cancelled upload waits for the store to drop its parts. */
const ABORT_WAIT_MS = 2_000;

export interface MultipartEvents {
  onMultipartStarted(key: string): void;
  /** `left_open`: the upload failed and the store would not abort it (it lacks the call, or was unreachable). */
  onMultipartFinished(key: string, outcome: 'completed' | 'aborted' | 'left_open'): void;
}

/** Bytes [start, start + size) of a file. */
export interface FileRange {
  source: PositionalSource;
  start: number;
  size: number;
}

export interface FileUpload {
  Bucket: string;
  Key: string;
  range: FileRange;
  Metadata: Record<string, string>;
  events: MultipartEvents;
  signal?: AbortSignal;
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

export async function uploadFile(client: S3Client, u: FileUpload): Promise<void> {
  const { Bucket, Key, Metadata, events } = u;
  const { source, start, size } = u.range;
  if (size <= PART_SIZE) {
    const Body = await readExactly(source, Buffer.allocUnsafe(size), size, start);
    await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: size, Metadata }), { abortSignal: u.signal });
    return;
  }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, Metadata }), { abortSignal: u.signal });
  events.onMultipartStarted(Key);
  // One part failing stops the others at once.
  const failed = new AbortController();
  const signal = u.signal ? AbortSignal.any([u.signal, failed.signal]) : failed.signal;
  const count = Math.ceil(size / PART_SIZE);
  const parts: CompletedPart[] = [];
  let next = 0;
  async function sendParts(buffer: Buffer): Promise<void> {
    while (next < count) {
      signal.throwIfAborted();
      const PartNumber = ++next;
      const offset = (PartNumber - 1) * PART_SIZE;
      const Body = await readExactly(source, buffer, Math.min(PART_SIZE, size - offset), start + offset);
      const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }), { abortSignal: signal });
      parts[PartNumber - 1] = { ETag, PartNumber };
    }
  }
  try {
    const senders = Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, () => sendParts(Buffer.allocUnsafe(PART_SIZE)));
    await Promise.all(senders.map((s) => s.catch((err: unknown) => {
      failed.abort(err);
      throw err;
    })));
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: u.signal });
    events.onMultipartFinished(Key, 'completed');
  } catch (err) {
    // Also after a cancel (the drain deadline), but briefly: when the store
    // cannot be reached, the next start aborts what is left open under the
    // workspace's prefix; a store without the call has the bucket's
    // AbortIncompleteMultipartUpload lifecycle rule for it (README).
    const aborted = await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal: AbortSignal.timeout(ABORT_WAIT_MS) }).then(() => true, () => false);
    events.onMultipartFinished(Key, aborted ? 'aborted' : 'left_open');
    throw err;
  }
}
