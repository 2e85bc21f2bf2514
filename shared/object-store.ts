// The few S3 operations ferry needs, on @aws-sdk/client-s3 and lib-storage.
// The SDK is loaded only when a recording bucket is configured (it costs
// memory). Checksums are sent only when S3 requires them, so MinIO and other
// S3-compatible stores that predate the SDK's default CRC trailers work too.

import type { Readable } from 'node:stream';

export interface ObjectStoreConfig {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, s3rver); unset means AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
}

export interface MultipartEvents {
  onMultipartStarted(key: string): void;
  onMultipartFinished(key: string, outcome: 'completed' | 'aborted'): void;
}

export interface ObjectStore {
  bucket: string;
  /** Uploads `length` bytes from a stream (read from disk) as one object. */
  put(key: string, body: Readable, length: number, signal?: AbortSignal): Promise<void>;
  /** Uploads `size` bytes from a stream with lib-storage (multipart above 5 MiB, bounded memory). */
  upload(key: string, body: Readable, size: number, metadata: Record<string, string>, events: MultipartEvents, signal?: AbortSignal): Promise<void>;
  list(prefix: string): Promise<StoredObject[]>;
  /** The object's user metadata, or undefined when it does not exist. */
  metadata(key: string): Promise<Record<string, string> | undefined>;
  read(key: string): Promise<Readable>;
  listUploads(prefix: string): Promise<Array<{ key: string; uploadId: string }>>;
  abortUpload(key: string, uploadId: string): Promise<void>;
  destroy(): void;
}

export interface StoredObject {
  key: string;
  size: number;
}

export const PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight at once: memory is about PART_SIZE times this. */
const QUEUE_SIZE = 2;

export async function createObjectStore(c: ObjectStoreConfig): Promise<ObjectStore> {
  const s3 = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const client = new s3.S3Client({
    region: c.region,
    endpoint: c.endpoint,
    forcePathStyle: c.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = c.bucket;

  return {
    bucket: Bucket,
    async put(key, Body, length, signal) {
      try {
        await client.send(new s3.PutObjectCommand({ Bucket, Key: key, Body, ContentLength: length }), { abortSignal: signal });
      } finally {
        Body.destroy();
      }
    },
    async upload(key, Body, size, metadata, events, signal) {
      const multipart = size > PART_SIZE;
      const upload = new Upload({
        client,
        params: { Bucket, Key: key, Body, ContentLength: size, Metadata: metadata },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        // On failure lib-storage aborts the multipart upload, so no parts are left behind.
        leavePartsOnError: false,
      });
      const onAbort = () => void upload.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (multipart) events.onMultipartStarted(key);
      try {
        await upload.done();
        if (multipart) events.onMultipartFinished(key, 'completed');
      } catch (err) {
        if (multipart) events.onMultipartFinished(key, 'aborted');
        throw err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        Body.destroy();
      }
    },
    async list(prefix) {
      const keys: StoredObject[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push({ key: o.Key, size: o.Size ?? 0 });
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return keys;
    },
    async metadata(key) {
      try {
        const head = await client.send(new s3.HeadObjectCommand({ Bucket, Key: key }));
        return head.Metadata ?? {};
      } catch (err) {
        if ((err as { name?: string }).name === 'NotFound' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      }
    },
    async read(key) {
      const got = await client.send(new s3.GetObjectCommand({ Bucket, Key: key }));
      return got.Body as Readable;
    },
    async listUploads(prefix) {
      const out: Array<{ key: string; uploadId: string }> = [];
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      do {
        const page = await client.send(new s3.ListMultipartUploadsCommand({ Bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
        for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId });
        KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        UploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (KeyMarker);
      return out;
    },
    async abortUpload(key, uploadId) {
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }));
    },
    destroy: () => client.destroy(),
  };
}
