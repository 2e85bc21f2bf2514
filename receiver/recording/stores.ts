// The receiver's two identities on the recording bucket. The reader (the
// SDK's default chain: AWS_* variables, a web identity, an instance role)
// serves dashboards and answers the shippers' listings; the writer
// (RECORDING_WRITER_*, or the default chain when unset) starts, finishes and
// aborts multipart uploads and signs the URLs shippers PUT to. Shippers hold
// no object-store credential at all. Each client is loaded on first use.

import type { ObjectStore } from '../../shared/object-store.js';
import type { ReceiverConfig } from '../config.js';
import { RequestError } from '../errors.js';

export type S3Config = Pick<ReceiverConfig, 'recordingBucket' | 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle' | 'recordingWriterAccessKeyId' | 'recordingWriterSecretAccessKey'>;

export interface RecordingStores {
  reader(): Promise<ObjectStore>;
  writer(): Promise<ObjectStore>;
}

export function recordingStores(s3: S3Config): RecordingStores {
  let reader: Promise<ObjectStore> | undefined;
  let writer: Promise<ObjectStore> | undefined;
  const open = (credentials?: { accessKeyId: string; secretAccessKey: string }) => {
    if (!s3.recordingBucket) throw new RequestError('not_found', 'recordings are not configured on this receiver (RECORDING_BUCKET)');
    return import('../../shared/object-store.js').then((m) => m.createObjectStore({
      bucket: s3.recordingBucket!, region: s3.awsRegion, endpoint: s3.s3Endpoint, forcePathStyle: s3.s3ForcePathStyle, credentials,
    }));
  };
  return {
    reader: () => (reader ??= open()),
    writer: () => (writer ??= s3.recordingWriterAccessKeyId && s3.recordingWriterSecretAccessKey
      ? open({ accessKeyId: s3.recordingWriterAccessKeyId, secretAccessKey: s3.recordingWriterSecretAccessKey })
      : (reader ??= open())),
  };
}

/**
 * The store's failures are answered as the store's (502), never mistaken for
 * the database's. The S3 code and status go along, so a shipper tells a
 * wrong bucket (a configuration fault) from an outage (retried soon).
 */
export function fromStore<T>(call: Promise<T>): Promise<T> {
  return call.catch((err: unknown) => {
    const e = err as { name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number } };
    const code = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : undefined;
    throw new RequestError('storage_unavailable', `the object store failed: ${(err as Error).message}`, { s3_code: code, s3_status: e?.$metadata?.httpStatusCode });
  });
}
