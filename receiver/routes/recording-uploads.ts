// The recording's object-store calls, for shippers that hold no object-store
// credential: listings and heads answered with the reader identity, multipart
// uploads started, finished and aborted with the writer identity, and each
// PUT presigned by the writer for a few minutes. Every key and prefix must lie
// in the token's own workspace prefix, recordings/<ws>/ (the workspace comes
// from X-Workspace-Id, checked against the token before the body is read:
// access.ts), so a workspace can neither read the listing of another nor
// write, overwrite or abort anything outside its own recordings.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { workspacePrefix } from '../../shared/recording-keys.js';
import {
  HEADERS, PATHS, type PresignAnswer, type RecordingHeadAnswer, type RecordingObjectsAnswer, type RecordingUploadsAnswer,
} from '../../shared/wire.js';
import { RequestError } from '../errors.js';
import { fromStore, type RecordingStores } from '../recording/stores.js';
import { idHeader, jsonObject, singleQuery } from '../request.js';
import type { RouteContext } from './context.js';

/** How long a presigned PUT stays valid: one part or one small object, sent right away; a retry asks again. */
export const PRESIGN_EXPIRES_SECONDS = 900;
/** S3's limits: the largest single PUT, the most parts. */
const MAX_PUT_BYTES = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;
const METADATA_KEY = /^[a-z0-9-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A key or prefix of this workspace's recordings: inside recordings/<ws>/, no dot segments, no control characters. */
function ownKey(value: unknown, workspaceId: string, what: string, prefix = false): string {
  // recordings/a/b/ would lie inside workspace a's prefix: such an id has none of its own.
  if (workspaceId.includes('/')) throw new RequestError('forbidden', 'a workspace id with "/" has no recordings prefix of its own');
  const own = workspacePrefix(workspaceId);
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length > 1024 || /[\u0000-\u001f\u007f]/.test(value)) throw new RequestError('bad_body', `${what} must be a string of at most 1024 printable characters`);
  const inside = value.startsWith(own) && (prefix || value.length > own.length) && !value.split('/').some((s) => s === '..' || s === '.');
  if (!inside) throw new RequestError('forbidden', `${what} must lie in ${own}: a workspace reaches its own recordings only`);
  return value;
}

function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw new RequestError('bad_body', `${what} must be an integer from ${min} to ${max}`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 1024 || !PRINTABLE_ASCII.test(value)) throw new RequestError('bad_body', `${what} must be 1-1024 printable ASCII characters`);
  return value;
}

function metadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length > 8) throw new RequestError('bad_body', 'metadata must be an object of at most 8 entries');
  for (const [k, v] of Object.entries(value)) {
    if (!METADATA_KEY.test(k) || typeof v !== 'string' || v.length > 256 || !PRINTABLE_ASCII.test(v)) throw new RequestError('bad_body', 'metadata keys must be lowercase letters, digits and "-", values at most 256 printable ASCII characters');
  }
  return value as Record<string, string>;
}

export function recordingUploadRoutes(app: FastifyInstance, ctx: RouteContext, stores: RecordingStores): void {
  const workspace = (req: FastifyRequest) => idHeader(req.headers, HEADERS.workspaceId, true);
  const ingest = { config: { access: 'ingest' as const } };

  app.get(PATHS.recordingObjects, ingest, async (req): Promise<RecordingObjectsAnswer> => {
    const q = singleQuery(req.query);
    const prefix = ownKey(q.prefix, workspace(req), 'prefix', true);
    if (q.delimiter !== undefined && q.delimiter !== '/') throw new RequestError('bad_query', 'delimiter may only be "/"');
    const store = await stores.reader();
    if (q.delimiter) return { objects: [], folders: await fromStore(store.folders(prefix)) };
    return { objects: await fromStore(store.list(prefix)), folders: [] };
  });

  app.get(PATHS.recordingHead, ingest, async (req): Promise<RecordingHeadAnswer> => {
    const key = ownKey(singleQuery(req.query).key, workspace(req), 'key');
    return { object: (await fromStore((await stores.reader()).head(key))) ?? null };
  });

  // Listing open uploads is the writer's housekeeping (s3:ListBucketMultipartUploads): the reader never needs it.
  app.get(PATHS.recordingUploads, ingest, async (req): Promise<RecordingUploadsAnswer> => {
    const prefix = ownKey(singleQuery(req.query).prefix, workspace(req), 'prefix', true);
    const uploads = await fromStore((await stores.writer()).listUploads(prefix));
    return { uploads: uploads.map((u) => ({ key: u.key, upload_id: u.uploadId })) };
  });

  app.post(PATHS.recordingPresign, ingest, async (req): Promise<PresignAnswer> => {
    const body = jsonObject(req.body, 'a presign request');
    const key = ownKey(body.key, workspace(req), 'key');
    const size = integer(body.size, 'size', 1, MAX_PUT_BYTES);
    const store = await stores.writer();
    const signed = body.upload_id === undefined
      ? await fromStore(store.presignPut(key, size, metadata(body.metadata), PRESIGN_EXPIRES_SECONDS))
      : await fromStore(store.presignPart(key, text(body.upload_id, 'upload_id'), integer(body.part_number, 'part_number', 1, MAX_PARTS), size, PRESIGN_EXPIRES_SECONDS));
    ctx.events.onPresigned(body.upload_id === undefined ? 'object' : 'part');
    return { ...signed, expires_in_seconds: PRESIGN_EXPIRES_SECONDS };
  });

  app.post(PATHS.recordingMultipart, ingest, async (req) => {
    const body = jsonObject(req.body, 'a multipart request');
    const key = ownKey(body.key, workspace(req), 'key');
    return { upload_id: await fromStore((await stores.writer()).createUpload(key, metadata(body.metadata))) };
  });

  app.post(PATHS.recordingComplete, ingest, async (req) => {
    const body = jsonObject(req.body, 'a completion');
    const key = ownKey(body.key, workspace(req), 'key');
    const uploadId = text(body.upload_id, 'upload_id');
    if (!Array.isArray(body.parts) || body.parts.length === 0 || body.parts.length > MAX_PARTS) throw new RequestError('bad_body', `parts must be a list of 1 to ${MAX_PARTS} parts`);
    const parts = body.parts.map((p: { part_number?: unknown; etag?: unknown }) => ({ partNumber: integer(p?.part_number, 'part_number', 1, MAX_PARTS), etag: text(p?.etag, 'etag') }));
    await fromStore((await stores.writer()).completeUpload(key, uploadId, parts));
    return { completed: true };
  });

  app.post(PATHS.recordingAbort, ingest, async (req) => {
    const body = jsonObject(req.body, 'an abort');
    const key = ownKey(body.key, workspace(req), 'key');
    await fromStore((await stores.writer()).abortUpload(key, text(body.upload_id, 'upload_id')));
    return { aborted: true };
  });
}
