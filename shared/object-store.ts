// The few S3 operations ferry needs, on @aws-sdk/client-s3: the receiver's
// (recording reads, and the calls it makes and presigns for shippers), the
// tests' and the benchmarks'. The shipper never loads it: it holds no
// object-store credential and uploads through the receiver
// (shipper/record/receiver-store.ts). Checksums are sent only when S3
// requires them, so MinIO and other S3-compatible stores that predate the
// SDK's default CRC trailers work too, and presigned URLs carry none.

import type { Readable } from 'node:stream';
import type { CompletedPart, FileRange, MultipartEvents } from './file-upload.js';

export interface ObjectStoreConfig {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, s3rver); unset means AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** An identity of its own; unset: the SDK's default chain (AWS_* variables, a web identity, an instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** What the recording pipeline needs of a store, whichever way it reaches the bucket. */
export interface RecordingStore {
  bucket: string;
  /** Uploads a byte range of a file as one object (multipart above 5 MiB, in bounded memory: file-upload.ts). */
  upload(key: string, range: FileRange, metadata: Record<string, string>, events: MultipartEvents, signal?: AbortSignal): Promise<void>;
  list(prefix: string): Promise<StoredObject[]>;
  /** The "folders" right under a prefix: the common prefixes up to the next `/`, each ending with it. */
  folders(prefix: string): Promise<string[]>;
  /** The object's user metadata and size, or undefined when it does not exist. */
  head(key: string): Promise<ObjectHead | undefined>;
  listUploads(prefix: string): Promise<Array<{ key: string; uploadId: string }>>;
  abortUpload(key: string, uploadId: string): Promise<void>;
}

/** A request for a client without credentials: the URL carries the signature; `headers` must be sent as they are (they are signed). */
export interface PresignedRequest {
  method: 'PUT';
  url: string;
  headers: Record<string, string>;
}

export interface ObjectStore extends RecordingStore {
  read(key: string): Promise<Readable>;
  /** A PutObject of `size` bytes with this metadata, valid for `expiresSeconds`. */
  presignPut(key: string, size: number, metadata: Record<string, string>, expiresSeconds: number): Promise<PresignedRequest>;
  /** An UploadPart of `size` bytes, valid for `expiresSeconds`. */
  presignPart(key: string, uploadId: string, partNumber: number, size: number, expiresSeconds: number): Promise<PresignedRequest>;
  createUpload(key: string, metadata: Record<string, string>): Promise<string>;
  completeUpload(key: string, uploadId: string, parts: CompletedPart[]): Promise<void>;
  destroy(): void;
}

export interface ObjectHead {
  metadata: Record<string, string>;
  size: number;
}

export interface StoredObject {
  key: string;
  size: number;
}

export async function createObjectStore(c: ObjectStoreConfig): Promise<ObjectStore> {
  const s3 = await import('@aws-sdk/client-s3');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const { uploadFile } = await import('./file-upload.js');
  const client = new s3.S3Client({
    region: c.region,
    endpoint: c.endpoint,
    forcePathStyle: c.forcePathStyle,
    credentials: c.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = c.bucket;
  const createUpload = async (Key: string, Metadata: Record<string, string>, abortSignal?: AbortSignal) =>
    (await client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key, Metadata }), { abortSignal })).UploadId!;
  const completeUpload = async (Key: string, UploadId: string, parts: CompletedPart[], abortSignal?: AbortSignal) => {
    await client.send(new s3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) } }), { abortSignal });
  };
  const abortUpload = async (Key: string, UploadId: string, abortSignal?: AbortSignal) => {
    await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal });
  };
  /** The metadata headers stay headers (signed), not query parameters: every S3-compatible store reads them there. */
  const signing = (expiresIn: number, headers: Record<string, string>) => ({ expiresIn, unhoistableHeaders: new Set(Object.keys(headers)) });

  return {
    bucket: Bucket,
    upload: (key, range, metadata, events, signal) => uploadFile({
      async putObject(Key, Body, Metadata, abortSignal) {
        await client.send(new s3.PutObjectCommand({ Bucket, Key, Body, ContentLength: Body.length, Metadata }), { abortSignal });
      },
      createUpload,
      async uploadPart(Key, UploadId, PartNumber, Body, abortSignal) {
        return (await client.send(new s3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }), { abortSignal })).ETag!;
      },
      completeUpload,
      abortUpload,
    }, { key, range, metadata, events, signal }),
    async presignPut(Key, size, Metadata, expiresIn) {
      const headers = Object.fromEntries(Object.entries(Metadata).map(([k, v]) => [`x-amz-meta-${k.toLowerCase()}`, v]));
      return { method: 'PUT', headers, url: await getSignedUrl(client, new s3.PutObjectCommand({ Bucket, Key, ContentLength: size, Metadata }), signing(expiresIn, headers)) };
    },
    async presignPart(Key, UploadId, PartNumber, size, expiresIn) {
      return { method: 'PUT', headers: {}, url: await getSignedUrl(client, new s3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, ContentLength: size }), signing(expiresIn, {})) };
    },
    createUpload: (key, metadata) => createUpload(key, metadata),
    completeUpload: (key, uploadId, parts) => completeUpload(key, uploadId, parts),
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
    abortUpload: (key, uploadId) => abortUpload(key, uploadId),
    destroy: () => client.destroy(),
  };
}
