// A real S3-compatible server (s3rver, objects on the local filesystem) for
// the demo, the tests and the benchmarks, on loopback. s3rver 3.7 implements
// multipart upload but not AbortMultipartUpload (405 MethodNotAllowed) nor
// ListMultipartUploads (501 NotImplemented); ferry calls both (a failed or
// interrupted upload must not be left open), so this fixture adds the two
// over s3rver's own store of pending uploads. Stores without them exist, so
// the fixture also runs plain (`plain: true`, or setPlain() while it runs):
// s3rver as it is, and ferry must still record.
//
// s3rver also takes any request, signed or not, and never checks a V4
// signature. Real stores refuse both, and shippers upload with URLs the
// receiver presigns: so, in both modes, this fixture refuses anonymous
// requests and verifies query-signed (presigned) V4 requests as S3 does
// (signature, signed headers, expiry). Header-signed requests (the SDK's)
// pass as s3rver lets them.

import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from './free-port.js';

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** The environment the receiver needs to use this store (the one identity s3rver knows reads and writes). */
  env: Record<string, string>;
  /** A shipper's: the bucket, nothing else. It holds no credential; the receiver presigns its PUTs. */
  shipperEnv: Record<string, string>;
  /** Object bytes received since start under a key prefix: bodies of PUTs (objects and parts, retries included). */
  bytesReceived(prefix?: string): number;
  /** Multipart uploads started and neither completed nor aborted (read from s3rver's folder, whatever the mode). */
  pendingUploads(): Promise<Array<{ key: string; uploadId: string }>>;
  /** Requests refused for their signature (presigned) or for having none. */
  refusedRequests(): number;
  /** Plain s3rver (true) or with the two multipart calls added (false). */
  setPlain(plain: boolean): void;
  /** Stops answering (the store is "down"); start() brings it back with its data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

type Ctx = { method: string; path: string; query: Record<string, unknown>; status: number; body: unknown; type: string };

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** RFC 3986 encoding, as SigV4 canonicalizes query parameters. */
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Why a query-signed V4 request is refused (S3's code and message), or
 * undefined when its signature holds. Written from the SigV4 specification,
 * apart from the SDK that signs: a test that passes here passes on S3.
 */
export function presignedRefusal(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, now = Date.now()): { code: string; message: string } | undefined {
  const [rawPath = '/', rawQuery = ''] = rawUrl.split('?', 2);
  const params = rawQuery.split('&').filter(Boolean).map((kv) => {
    const eq = kv.indexOf('=');
    return [decodeURIComponent(eq === -1 ? kv : kv.slice(0, eq)), decodeURIComponent(eq === -1 ? '' : kv.slice(eq + 1))] as const;
  });
  const q = Object.fromEntries(params);
  const [accessKey, date, region, service, terminal] = (q['X-Amz-Credential'] ?? '').split('/');
  if (accessKey !== S3_ACCESS_KEY || terminal !== 'aws4_request') return { code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q['X-Amz-Date'] ?? '');
  if (!signedAt) return { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Date must be in the ISO8601 Long Format' };
  const at = Date.UTC(+signedAt[1]!, +signedAt[2]! - 1, +signedAt[3]!, +signedAt[4]!, +signedAt[5]!, +signedAt[6]!);
  if (now > at + Number(q['X-Amz-Expires']) * 1000) return { code: 'AccessDenied', message: 'Request has expired' };
  const signedHeaders = (q['X-Amz-SignedHeaders'] ?? '').split(';');
  const header = (name: string) => [headers[name]].flat().join(',').trim().replace(/\s+/g, ' ');
  const canonical = [
    method,
    rawPath,
    params.filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&'),
    signedHeaders.map((h) => `${h}:${header(h)}\n`).join(''),
    signedHeaders.join(';'),
    q['X-Amz-Content-Sha256'] ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', q['X-Amz-Date'], scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${S3_SECRET_KEY}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign).digest('hex');
  return expected === q['X-Amz-Signature'] ? undefined : { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
}

export interface S3Options {
  bucket?: string;
  /** Without ListMultipartUploads and AbortMultipartUpload, as s3rver itself is. */
  plain?: boolean;
}

export async function startS3(options: S3Options = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'workshop-recordings';
  let plain = options.plain ?? false;
  const dir = await mkdtemp(join(tmpdir(), 'ferry-s3-'));
  const port = await freePort();
  const uploadsDir = join(dir, bucket, '._S3rver_uploads');

  async function pendingUploads(prefix = ''): Promise<Array<{ key: string; uploadId: string; initiated: Date }>> {
    const ids = await readdir(uploadsDir).catch(() => [] as string[]);
    const all = await Promise.all(ids.map(async (uploadId) => ({
      uploadId,
      key: await readFile(join(uploadsDir, uploadId, 'key'), 'utf8').catch(() => ''),
      initiated: (await stat(join(uploadsDir, uploadId)).catch(() => ({ mtime: new Date(0) }))).mtime,
    })));
    return all.filter((u) => u.key !== '' && u.key.startsWith(prefix));
  }

  let server: S3rver | undefined;
  const received = new Map<string, number>();
  let refused = 0;
  const start = async () => {
    if (server) return;
    const s = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }], resetOnClose: false });
    (s as unknown as { middleware: Array<(ctx: Ctx, next: () => Promise<void>) => Promise<void>> }).middleware.unshift(async (ctx, next) => {
      // Object data is what PUTs carry (objects and parts; not the XML of other calls). The
      // announced length: listening to the body here would start it flowing before s3rver reads it.
      const [b, ...rest] = ctx.path.split('/').filter(Boolean);
      const req = (ctx as unknown as { req: { url: string; headers: Record<string, string | undefined> } }).req;
      const refusal = 'X-Amz-Algorithm' in ctx.query
        ? presignedRefusal(ctx.method, req.url, req.headers)
        : req.headers.authorization ? undefined : { code: 'AccessDenied', message: 'Anonymous access is not allowed' };
      if (refusal) {
        ctx.status = 403;
        ctx.type = 'application/xml';
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error>`;
        refused++;
        return;
      }
      if (ctx.method === 'PUT') {
        const key = rest.join('/');
        received.set(key, (received.get(key) ?? 0) + Number(req.headers['content-length'] ?? 0));
      }
      if (plain) return next();
      if (ctx.method === 'GET' && b === bucket && rest.length === 0 && 'uploads' in ctx.query) {
        const uploads = await pendingUploads(String(ctx.query.prefix ?? ''));
        ctx.type = 'application/xml';
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${bucket}</Bucket><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`).join('')}</ListMultipartUploadsResult>`;
        return;
      }
      if (ctx.method === 'DELETE' && b === bucket && rest.length > 0 && typeof ctx.query.uploadId === 'string' && /^[0-9a-f]+$/.test(ctx.query.uploadId)) {
        await rm(join(uploadsDir, ctx.query.uploadId), { recursive: true, force: true });
        ctx.status = 204;
        return;
      }
      await next();
    });
    await s.run();
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    await s?.close();
  };
  await start();

  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      RECORDING_BUCKET: bucket, AWS_ENDPOINT_URL_S3: endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
      RECORDING_WRITER_ACCESS_KEY_ID: S3_ACCESS_KEY, RECORDING_WRITER_SECRET_ACCESS_KEY: S3_SECRET_KEY,
    },
    shipperEnv: { RECORDING_BUCKET: bucket },
    bytesReceived: (prefix = '') => [...received].reduce((sum, [key, n]) => (key.startsWith(prefix) ? sum + n : sum), 0),
    pendingUploads: async () => (await pendingUploads()).map(({ key, uploadId }) => ({ key, uploadId })),
    refusedRequests: () => refused,
    setPlain(on) {
      plain = on;
    },
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
