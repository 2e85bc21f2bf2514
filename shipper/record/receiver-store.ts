// The recording's object store, reached through the receiver: the shipper
// holds no object-store credential and loads no AWS SDK. The receiver lists
// and heads objects and starts, finishes and aborts multipart uploads for
// this workspace's prefix only, and presigns each PUT, which goes from here
// straight to the store (node:http): a whole object up to 5 MiB, or one part.
// Failures are thrown as the S3 errors they are (code and status), so
// s3-failures.ts tells a configuration fault from an outage wherever it
// arose: at the receiver (its answer carries the store's code), on the PUT,
// or at the receiver itself (a refused token, no bucket configured there).

import type { Agent } from 'node:http';
import { uploadFile, type PartTarget } from '../../shared/file-upload.js';
import type { RecordingStore, StoredObject } from '../../shared/object-store.js';
import {
  ANSWER_KEYS, CONTENT_TYPES, HEADERS, PATHS, type MultipartRequest, type PresignAnswer, type PresignRequest, type RecordingHeadAnswer,
  type RecordingObjectsAnswer, type RecordingUploadsAnswer,
} from '../../shared/wire.js';
import type { HttpTransport, Outgoing } from '../ship/http-transport.js';

/** Parts in flight at once (file-upload.ts), each on a connection of its own. */
const PUT_CONNECTIONS = 2;

export interface ReceiverStoreDeps {
  /** Single attempts to the receiver: the recording pipeline retries (with s3-failures.ts). */
  http: HttpTransport;
  workspaceId: string;
  bucket: string;
  /** The longest a PUT may stay silent. */
  timeoutMs: number;
  /** After a 401: the token file read again; true when it changed (then the call is made again at once). */
  onUnauthorized: () => Promise<boolean>;
}

/** A failed call, shaped as the S3 client's errors are: `Code` and `$metadata.httpStatusCode`. */
export class StoreCallError extends Error {
  readonly $metadata: { httpStatusCode: number | undefined };
  constructor(readonly Code: string, status: number | undefined, message: string) {
    super(message);
    this.name = Code;
    this.$metadata = { httpStatusCode: status };
  }
}

/** The S3 error in an XML answer; an expired URL is told apart from a refusal (it is asked for again). */
function s3Error(status: number, xml: string): StoreCallError {
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? `HTTP${status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? xml.slice(0, 200);
  if (code === 'AccessDenied' && /expired/i.test(message)) return new StoreCallError('PresignedUrlExpired', status, message);
  return new StoreCallError(code, status, message);
}

export interface ReceiverStore extends RecordingStore {
  close(): void;
}

export function createReceiverStore(d: ReceiverStoreDeps): ReceiverStore {
  const clients = new Map<string, { client: typeof import('node:http'); agent: Agent }>();
  /** The store's client, loaded at its first PUT: not imported, see ship/http-transport.ts (node:http as an ES module costs 8 MiB of RSS on Node 24). */
  function clientFor(protocol: string) {
    let c = clients.get(protocol);
    if (!c) {
      const client = process.getBuiltinModule(protocol === 'https:' ? 'node:https' : 'node:http') as typeof import('node:http');
      c = { client, agent: new client.Agent({ keepAlive: true, maxSockets: PUT_CONNECTIONS }) };
      clients.set(protocol, c);
    }
    return c;
  }

  /** One call to the receiver; its answer, or the failure as an S3-shaped error. */
  async function call<T>(out: Outgoing, signal?: AbortSignal): Promise<T> {
    const request = { ...out, headers: { ...out.headers, [HEADERS.workspaceId]: d.workspaceId } };
    let delivery = await d.http.send(request, signal);
    if (delivery.status === 'refused' && delivery.statusCode === 401 && (await d.onUnauthorized())) delivery = await d.http.send(request, signal);
    switch (delivery.status) {
      case 'delivered': return delivery.answer as T;
      case 'gap': throw new StoreCallError('UnexpectedAnswer', 409, 'the receiver answered offset_gap to an object-store call');
      case 'untrusted': throw new StoreCallError('ReceiverUntrusted', undefined, delivery.reason);
      case 'misdirected': throw new StoreCallError('ReceiverMisdirected', delivery.statusCode, delivery.reason);
      default: {
        // The receiver passes the store's own code on (a 502 storage_unavailable); its own refusals are 4xx.
        const s3Code = delivery.answer?.s3_code;
        if (typeof s3Code === 'string') throw new StoreCallError(s3Code, delivery.answer?.s3_status as number | undefined, delivery.reason);
        throw new StoreCallError(String(delivery.answer?.error ?? 'ReceiverUnavailable'), delivery.statusCode, `the receiver: ${delivery.reason}`);
      }
    }
  }

  const get = <T>(path: string, query: Record<string, string>, answerKey: string) =>
    call<T>({ method: 'GET', path: `${path}?${new URLSearchParams(query)}`, headers: {}, answerKey });
  const post = <T>(path: string, body: PresignRequest | MultipartRequest, answerKey: string, signal?: AbortSignal) =>
    call<T>({ path, contentType: CONTENT_TYPES.json, headers: {}, body: JSON.stringify(body), answerKey }, signal);

  /** The presigned PUT, straight to the store; resolves with the ETag it answers. */
  function put(signed: PresignAnswer, body: Buffer, signal: AbortSignal | undefined): Promise<string> {
    const url = new URL(signed.url);
    const { client, agent } = clientFor(url.protocol);
    return new Promise((resolve, reject) => {
      const req = client.request(url, { method: 'PUT', agent, headers: { ...signed.headers, 'content-length': String(body.length) }, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode!;
          if (status >= 200 && status < 300) resolve(String(res.headers.etag ?? ''));
          else reject(s3Error(status, Buffer.concat(chunks).toString('utf8')));
        });
      });
      req.setTimeout(d.timeoutMs, () => req.destroy(Object.assign(new Error(`the object store was silent for ${d.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  const target: PartTarget = {
    async putObject(key, body, metadata, signal) {
      await put(await post<PresignAnswer>(PATHS.recordingPresign, { key, size: body.length, metadata }, ANSWER_KEYS.recordingPresign, signal), body, signal);
    },
    async createUpload(key, metadata, signal) {
      return (await post<{ upload_id: string }>(PATHS.recordingMultipart, { key, metadata }, ANSWER_KEYS.recordingMultipart, signal)).upload_id;
    },
    async uploadPart(key, uploadId, partNumber, body, signal) {
      const signed = await post<PresignAnswer>(PATHS.recordingPresign, { key, size: body.length, upload_id: uploadId, part_number: partNumber }, ANSWER_KEYS.recordingPresign, signal);
      return put(signed, body, signal);
    },
    async completeUpload(key, uploadId, parts, signal) {
      await post(PATHS.recordingComplete, { key, upload_id: uploadId, parts: parts.map((p) => ({ part_number: p.partNumber, etag: p.etag })) }, ANSWER_KEYS.recordingComplete, signal);
    },
    async abortUpload(key, uploadId, signal) {
      await post(PATHS.recordingAbort, { key, upload_id: uploadId }, ANSWER_KEYS.recordingAbort, signal);
    },
  };

  return {
    bucket: d.bucket,
    upload: (key, range, metadata, events, signal) => uploadFile(target, { key, range, metadata, events, signal }),
    async list(prefix): Promise<StoredObject[]> {
      return (await get<RecordingObjectsAnswer>(PATHS.recordingObjects, { prefix }, ANSWER_KEYS.recordingObjects)).objects;
    },
    async folders(prefix) {
      return (await get<RecordingObjectsAnswer>(PATHS.recordingObjects, { prefix, delimiter: '/' }, ANSWER_KEYS.recordingObjects)).folders;
    },
    async head(key) {
      return (await get<RecordingHeadAnswer>(PATHS.recordingHead, { key }, ANSWER_KEYS.recordingHead)).object ?? undefined;
    },
    async listUploads(prefix) {
      return (await get<RecordingUploadsAnswer>(PATHS.recordingUploads, { prefix }, ANSWER_KEYS.recordingUploads)).uploads.map((u) => ({ key: u.key, uploadId: u.upload_id }));
    },
    abortUpload: (key, uploadId) => target.abortUpload(key, uploadId, AbortSignal.timeout(d.timeoutMs)),
    close() {
      clients.forEach((c) => c.agent.destroy());
    },
  };
}
