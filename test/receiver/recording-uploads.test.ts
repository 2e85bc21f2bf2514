// Least privilege for recordings: a shipper holds no object-store
// credential. The receiver lists, heads and finishes uploads for it and
// presigns each PUT, inside the token's own prefix, recordings/<ws>/, only.
// A presigned URL writes its one key, with its one size, for a few minutes;
// the store refuses everything else (the fixture checks V4 signatures as S3
// does, which s3rver itself does not).

import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { presignedRefusal } from '../../dev/embedded-s3.js';
import { mintWorkspaceToken } from '../../receiver/auth.js';
import { PART_SIZE } from '../../shared/file-upload.js';
import type { PresignAnswer } from '../../shared/wire.js';
import { request } from '../helpers/http.js';
import { startRecordingWorld, type RecordingWorld } from '../helpers/recording.js';
import { READ_TOKEN, TOKEN_SECRET } from '../helpers/receiver.js';

let world: RecordingWorld;
const WS = 'ws-least';
const token = mintWorkspaceToken(TOKEN_SECRET, WS);
const own = (rest: string) => `recordings/${WS}/${rest}`;

beforeAll(async () => {
  world = await startRecordingWorld();
});

/** A JSON call to the receiver as WS's shipper. */
async function call(path: string, body?: unknown, workspace = WS) {
  return request(`${world.base}${path}`, {
    method: body === undefined ? 'GET' : 'POST', token, headers: { 'x-workspace-id': workspace, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function put(signed: PresignAnswer, body: Buffer, url = signed.url, headers: Record<string, string> = signed.headers) {
  const res = await fetch(url, { method: 'PUT', headers: { ...headers, 'content-length': String(body.length) }, body });
  return { status: res.status, text: await res.text(), etag: res.headers.get('etag') };
}

describe('what a workspace may ask the receiver for', () => {
  it('only keys and prefixes inside its own recordings/<ws>/: anything else is 403, with nothing signed', async () => {
    for (const key of [`recordings/other/session.cast`, `recordings/${WS}`, `recordings/${WS}/../other/x`, `recordings/${WS}/./x`, `recordings/${WS}x/y`, 'session.cast']) {
      const res = await call('/ingest/recordings/presign', { key, size: 10 });
      expect(res.status, key).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden' });
    }
    expect((await call(`/ingest/recordings/objects?prefix=${encodeURIComponent('recordings/other/')}`)).status).toBe(403);
    expect((await call(`/ingest/recordings/head?key=${encodeURIComponent('recordings/other/session.cast')}`)).status).toBe(403);
    expect((await call(`/ingest/recordings/uploads?prefix=recordings/`)).status).toBe(403);
    expect((await call('/ingest/recordings/abort', { key: 'recordings/other/session.cast', upload_id: 'x' })).status).toBe(403);
    // A workspace id with a slash would reach into another's prefix (recordings/ws-least/x/ lies in ws-least's).
    const nested = await request(`${world.base}/ingest/recordings/objects?prefix=${encodeURIComponent(`recordings/${WS}/x/`)}`, { token: mintWorkspaceToken(TOKEN_SECRET, `${WS}/x`), headers: { 'x-workspace-id': `${WS}/x` } });
    expect(nested.status).toBe(403);
    // Another workspace's header with this token: refused before the body is read.
    expect((await call('/ingest/recordings/presign', { key: 'recordings/other/x', size: 1 }, 'other')).status).toBe(403);
    // And the read token is no ingest token.
    expect((await request(`${world.base}/ingest/recordings/objects?prefix=${own('')}`, { token: READ_TOKEN, headers: { 'x-workspace-id': WS } })).status).toBe(401);
  });

  it('checks what it signs: a size, a part number, metadata', async () => {
    expect((await call('/ingest/recordings/presign', { key: own('a'), size: 0 })).status).toBe(400);
    expect((await call('/ingest/recordings/presign', { key: own('a'), size: 10, upload_id: 'u', part_number: 10_001 })).status).toBe(400);
    expect((await call('/ingest/recordings/presign', { key: own('a'), size: 10, metadata: { 'Bad Key': 'x' } })).status).toBe(400);
  });
});

describe('a presigned URL', () => {
  it('writes its one key, with its size and metadata; the shipper needs no credential', async () => {
    const body = randomBytes(1000);
    const signed = (await call('/ingest/recordings/presign', { key: own('one'), size: body.length, metadata: { 'ferry-generation': 'g1' } })).body as unknown as PresignAnswer;
    expect(signed.url).toContain('X-Amz-Signature=');
    expect(signed.url).not.toMatch(/checksum/i);
    expect(signed.headers).toEqual({ 'x-amz-meta-ferry-generation': 'g1' });
    expect((await put(signed, body)).status).toBe(200);
    expect((await world.objectBytes(own('one'))).equals(body)).toBe(true);
    const head = await call(`/ingest/recordings/head?key=${encodeURIComponent(own('one'))}`);
    expect(head.body).toEqual({ object: { size: 1000, metadata: { 'ferry-generation': 'g1' } } });
    expect((await call(`/ingest/recordings/head?key=${encodeURIComponent(own('none'))}`)).body).toEqual({ object: null });
  });

  it('is refused by the store for another key, another size, other metadata, after its time, and unsigned', async () => {
    const body = randomBytes(100);
    const signed = (await call('/ingest/recordings/presign', { key: own('fixed'), size: body.length, metadata: { 'ferry-generation': 'g1' } })).body as unknown as PresignAnswer;
    const elsewhere = signed.url.replace(`/recordings/${WS}/fixed`, '/recordings/other/fixed');
    expect(await put(signed, body, elsewhere)).toMatchObject({ status: 403, text: expect.stringContaining('SignatureDoesNotMatch') });
    expect(await put(signed, randomBytes(101))).toMatchObject({ status: 403, text: expect.stringContaining('SignatureDoesNotMatch') });
    expect(await put(signed, body, signed.url, { 'x-amz-meta-ferry-generation': 'g2' })).toMatchObject({ status: 403 });
    expect(await put(signed, body, signed.url.split('?')[0]!)).toMatchObject({ status: 403, text: expect.stringContaining('AccessDenied') });
    const url = new URL(signed.url);
    expect(presignedRefusal('PUT', `${url.pathname}${url.search}`, { host: url.host, 'content-length': '100', 'x-amz-meta-ferry-generation': 'g1' })).toBeUndefined();
    expect(presignedRefusal('PUT', `${url.pathname}${url.search}`, { host: url.host, 'content-length': '100', 'x-amz-meta-ferry-generation': 'g1' }, Date.now() + 901_000)).toEqual({ code: 'AccessDenied', message: 'Request has expired' });
    expect(await world.store.head(own('fixed'))).toBeUndefined();
    expect(await world.store.head('recordings/other/fixed')).toBeUndefined();
  });
});

describe('a multipart upload through the receiver', () => {
  it('started, its parts PUT to presigned URLs, completed: one byte-identical object; an aborted one leaves nothing open', async () => {
    const bytes = randomBytes(PART_SIZE + 1234);
    const key = own('multi.cast');
    const { upload_id } = (await call('/ingest/recordings/multipart', { key, metadata: { 'ferry-generation': 'g1' } })).body as { upload_id: string };
    expect((await call(`/ingest/recordings/uploads?prefix=${own('')}`)).body).toEqual({ uploads: [{ key, upload_id }] });
    const parts = [];
    for (const [n, chunk] of [[1, bytes.subarray(0, PART_SIZE)], [2, bytes.subarray(PART_SIZE)]] as const) {
      const signed = (await call('/ingest/recordings/presign', { key, size: chunk.length, upload_id, part_number: n })).body as unknown as PresignAnswer;
      const sent = await put(signed, chunk);
      expect(sent.status).toBe(200);
      parts.push({ part_number: n, etag: sent.etag! });
    }
    expect((await call('/ingest/recordings/complete', { key, upload_id, parts })).body).toEqual({ completed: true });
    expect((await world.objectBytes(key)).equals(bytes)).toBe(true);

    const other = own('aborted.cast');
    const started = (await call('/ingest/recordings/multipart', { key: other })).body as { upload_id: string };
    expect((await call('/ingest/recordings/abort', { key: other, upload_id: started.upload_id })).body).toEqual({ aborted: true });
    expect((await world.s3.pendingUploads()).filter((u) => u.key.startsWith(own('')))).toEqual([]);
  });

  it('a store failure is answered 502 with the store\'s own code, so the shipper can tell a wrong bucket from an outage', async () => {
    const { env } = await world.recordingEnv(WS, {}, { recordingBucket: 'no-such-bucket' });
    const res = await request(`${env.DASHBOARD_SERVICE_URL}/ingest/recordings/objects?prefix=${own('')}`, { token, headers: { 'x-workspace-id': WS } });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error: 'storage_unavailable', s3_code: 'NoSuchBucket', s3_status: 404 });
  });
});
