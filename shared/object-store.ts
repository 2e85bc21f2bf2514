// The few S3 operations ferry needs, on @aws-sdk/client-s3. The SDK is
// loaded only when a recording bucket is configured (it costs memory).
// Checksums are sent only when S3 requires them, so MinIO and other
// S3-compatible stores that predate the SDK's default CRC trailers work too.

import type { Readable } from 'node:stream';
import type { FileRange, MultipartEvents } from './file-upload.js';

export interface ObjectStoreConfig {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, s3rver); unset means AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
}

export interface ObjectStore {
  bucket: string;
  /** Uploads a byte range of a file as one object (multipart above 5 MiB, in bounded memory: file-upload.ts). */
  upload(key: string, range: FileRange, metadata: Record<string, string>, events: MultipartEvents, signal?: AbortSignal): Promise<void>;
  list(prefix: string): Promise<StoredObject[]>;
  /** The "folders" right under a prefix: the common prefixes up to the next `/`, each ending with it. */
  folders(prefix: string): Promise<string[]>;
  /** The object's user metadata and size, or undefined when it does not exist. */
  head(key: string): Promise<{ metadata: Record<string, string>; size: number } | undefined>;
  read(key: string): Promise<Readable>;
  listUploads(prefix: string): Promise<Array<{ key: string; uploadId: string }>>;
  abortUpload(key: string, uploadId: string): Promise<void>;
  destroy(): void;
}

export interface StoredObject {
  key: string;
  size: number;
}

export async function createObjectStore(c: ObjectStoreConfig): Promise<ObjectStore> {
  const s3 = await import('@aws-sdk/client-s3');
  const { uploadFile } = await import('./file-upload.js');
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
    upload: (Key, range, Metadata, events, signal) => uploadFile(client, { Bucket, Key, range, Metadata, events, signal }),
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
    async folders(prefix) {
      const out: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new s3.ListObjectsV2Command({ Bucket, Prefix: prefix, Delimiter: '/', ContinuationToken }));
        for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix);
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out;
    },
    async head(key) {
      try {
        const head = await client.send(new s3.HeadObjectCommand({ Bucket, Key: key }));
        return { metadata: head.Metadata ?? {}, size: head.ContentLength ?? 0 };
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
