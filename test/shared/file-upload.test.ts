// The whole-file upload on a real S3-compatible store (s3rver): one object,
// byte-identical, in parts read from the file; a failure or an abort leaves
// no multipart upload open.

import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { startS3, type S3Server } from '../../dev/embedded-s3.js';
import { PART_SIZE, type PositionalSource } from '../../shared/file-upload.js';
import { createObjectStore, type ObjectStore } from '../../shared/object-store.js';
import { atEnd } from '../helpers/cleanup.js';

let s3: S3Server;
let store: ObjectStore;

beforeAll(async () => {
  s3 = await startS3();
  atEnd(() => s3.destroy());
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
  store = await createObjectStore({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
  atEnd(() => store.destroy());
});

/** A file in memory, read positionally in reads of at most `readMax` bytes, as a file can return short reads. */
function source(bytes: Buffer, readMax = 1 << 20): PositionalSource {
  return {
    read: async (into, length, position) => bytes.copy(into, 0, position, Math.min(position + length, position + readMax, bytes.length)),
  };
}

function recorder() {
  const seen: string[] = [];
  return { seen, onMultipartStarted: (k: string) => seen.push(`started ${k}`), onMultipartFinished: (k: string, o: string) => seen.push(`${o} ${k}`) };
}

async function sha256(stream: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c);
  return h.digest('hex');
}

it('uploads a range of several parts as one byte-identical object with its metadata', async () => {
  const bytes = randomBytes(777 + 2 * PART_SIZE + 12_345 + 99);
  const events = recorder();
  await store.upload('t/three-parts.cast', { source: source(bytes), start: 777, size: 2 * PART_SIZE + 12_345 }, { generation: 'g1' }, events);
  expect(await sha256(await store.read('t/three-parts.cast'))).toBe(createHash('sha256').update(bytes.subarray(777, 777 + 2 * PART_SIZE + 12_345)).digest('hex'));
  expect((await store.head('t/three-parts.cast'))?.metadata).toEqual({ generation: 'g1' });
  expect(events.seen).toEqual(['started t/three-parts.cast', 'completed t/three-parts.cast']);
  expect(await s3.pendingUploads()).toEqual([]);
});

it('puts a range of one part or less in one request, without a multipart upload', async () => {
  const bytes = randomBytes(1000);
  const events = recorder();
  await store.upload('t/small.cast', { source: source(bytes, 300), start: 100, size: 600 }, {}, events);
  expect(await sha256(await store.read('t/small.cast'))).toBe(createHash('sha256').update(bytes.subarray(100, 700)).digest('hex'));
  expect(events.seen).toEqual([]);
});

it('aborts the multipart upload when the file turns out shorter than its size', async () => {
  const bytes = randomBytes(PART_SIZE + 100);
  const events = recorder();
  await expect(store.upload('t/short.cast', { source: source(bytes), start: 0, size: 3 * PART_SIZE }, {}, events)).rejects.toThrow(/the file ended at byte/);
  expect(events.seen).toEqual(['started t/short.cast', 'aborted t/short.cast']);
  expect(await s3.pendingUploads()).toEqual([]);
  expect(await store.head('t/short.cast')).toBeUndefined();
});

it('stops when aborted, and leaves no upload open', async () => {
  const bytes = randomBytes(6 * PART_SIZE);
  const events = recorder();
  const abort = new AbortController();
  const cancelling: PositionalSource = {
    async read(into, length, position) {
      if (position >= 2 * PART_SIZE) abort.abort(new Error('drain deadline'));
      return source(bytes).read(into, length, position);
    },
  };
  await expect(store.upload('t/aborted.cast', { source: cancelling, start: 0, size: bytes.length }, {}, events, abort.signal)).rejects.toThrow();
  expect(events.seen).toEqual(['started t/aborted.cast', 'aborted t/aborted.cast']);
  expect(await s3.pendingUploads()).toEqual([]);
  expect(await store.head('t/aborted.cast')).toBeUndefined();
});
