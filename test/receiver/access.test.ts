// Access is decided on the route the router matched, never on how the URL was
// spelled. This spec walks the receiver's own route table: every route, in
// every spelling below, with every kind of credential. A wrong credential is
// answered 401, 403 or 404 (the spelling matched no route) and never reaches
// a handler; the right one, in the canonical spelling, gets a 2xx. A route
// added tomorrow is in the table, so it is covered without a line here.

import http from 'node:http';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { startS3, type S3Server } from '../../dev/embedded-s3.js';
import type { RouteAccess } from '../../receiver/access.js';
import { mintWorkspaceToken, READ_TOKEN_COOKIE } from '../../receiver/auth.js';
import { segmentKey, segmentsPrefix } from '../../shared/recording-keys.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase } from '../helpers/database.js';
import { ndjson, postLines, request } from '../helpers/http.js';
import { INGEST_TOKEN, READ_TOKEN, startTestReceiver, TOKEN_SECRET } from '../helpers/receiver.js';
import { receiverS3 } from '../helpers/recording.js';

const WS = 'ws-a';
let port: number;
let base: string;
let routes: RouteAccess[];
let s3: S3Server;

interface Credential {
  name: string;
  /** Which access this credential may use. */
  grants: Array<RouteAccess['access']>;
  headers?: Record<string, string>;
  query?: string;
}

const CREDENTIALS: Credential[] = [
  { name: 'none', grants: ['public'] },
  { name: 'the shared ingest token', grants: ['public', 'ingest'], headers: { authorization: `Bearer ${INGEST_TOKEN}` } },
  { name: "workspace A's token", grants: ['public', 'ingest'], headers: { authorization: `Bearer ${mintWorkspaceToken(TOKEN_SECRET, WS)}` } },
  { name: "workspace B's token", grants: ['public'], headers: { authorization: `Bearer ${mintWorkspaceToken(TOKEN_SECRET, 'ws-b')}` } },
  { name: 'a forged workspace token', grants: ['public'], headers: { authorization: `Bearer ${mintWorkspaceToken('not-the-secret-at-all', WS)}` } },
  { name: 'the read token as a header', grants: ['public', 'read'], headers: { authorization: `Bearer ${READ_TOKEN}` } },
  { name: 'the read token as the cookie', grants: ['public', 'read'], headers: { cookie: `${READ_TOKEN_COOKIE}=${encodeURIComponent(READ_TOKEN)}` } },
  { name: 'the read token as ?token=', grants: ['public', 'read'], query: `token=${encodeURIComponent(READ_TOKEN)}` },
];

/** Spellings of one path that a lax check could read as another route, or a router could read as this one. */
function spellings(path: string): Array<[string, string]> {
  const segments = path.split('/').slice(1);
  const encodeFirst = (s: string) => s.replace(/[a-z]/i, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const out: Array<[string, string]> = [
    ['canonical', path],
    ['a letter percent-encoded', `/${segments.map(encodeFirst).join('/')}`],
    ['a letter percent-encoded, hex in capitals', `/${segments.map(encodeFirst).join('/')}`.replace(/%[0-9a-f]{2}/g, (m) => m.toUpperCase())],
    ['every letter percent-encoded', path.replace(/[a-z]/gi, (c) => `%${c.charCodeAt(0).toString(16)}`)],
    ['slashes as %2F', `/${segments.join('%2F')}`],
    ['slashes as %2f', `/${segments.join('%2f')}`],
    ['a dot segment', `/./${segments.join('/')}`],
    ['a dot-dot segment', `/x/../${segments.join('/')}`],
    ['an encoded dot-dot segment', `/x/%2e%2e/${segments.join('/')}`],
    ['doubled slashes', `/${segments.join('//')}`],
    ['a leading double slash', `//${segments.join('/')}`],
    ['a trailing slash', `${path}/`],
    ['capitals', path.toUpperCase()],
    ['a capital first letter', `/${segments.map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('/')}`],
    ['a semicolon parameter', `${path};x=1`],
    ['an encoded NUL', `${path}%00`],
  ];
  return path === '/' ? out.filter(([name]) => ['canonical', 'a dot segment', 'a leading double slash', 'a semicolon parameter'].includes(name)) : out;
}

/** A multipart upload of workspace A with one small part, through its own routes, ready to complete. */
async function uploadToComplete(base: string): Promise<string> {
  const key = `recordings/${WS}/matrix-complete.cast`;
  const post = async (path: string, body: unknown) => (await request(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': WS }, body: JSON.stringify(body) })).body;
  const { upload_id } = await post('/ingest/recordings/multipart', { key }) as { upload_id: string };
  const signed = await post('/ingest/recordings/presign', { key, size: 3, upload_id, part_number: 1 }) as { url: string };
  const etag = (await fetch(signed.url, { method: 'PUT', body: 'abc' })).headers.get('etag');
  return JSON.stringify({ key, upload_id, parts: [{ part_number: 1, etag }] });
}

/** A request the route's handler would accept from the right credential: the canonical case must reach a 2xx; `fresh`: a body made anew for each request (an upload completes once). */
function sampleFor(route: RouteAccess): { path: string; headers: Record<string, string>; body?: string; fresh?: () => Promise<string> } {
  const path = route.url.replace(':id', WS).replace(':workspace_id', WS);
  const json = { 'content-type': 'application/json', 'x-workspace-id': WS };
  const own = `recordings/${WS}/`;
  if (path === '/ingest/recordings/objects' || path === '/ingest/recordings/uploads') return { path: `${path}?prefix=${own}`, headers: { 'x-workspace-id': WS } };
  if (path === '/ingest/recordings/head') return { path: `${path}?key=${own}session.cast`, headers: { 'x-workspace-id': WS } };
  if (path === '/ingest/recordings/presign') return { path, headers: json, body: JSON.stringify({ key: `${own}matrix`, size: 5 }) };
  if (path === '/ingest/recordings/multipart') return { path, headers: json, body: JSON.stringify({ key: `${own}matrix-started.cast` }) };
  if (path === '/ingest/recordings/abort') return { path, headers: json, body: JSON.stringify({ key: `${own}matrix-started.cast`, upload_id: 'abcdef' }) };
  if (path === '/ingest/drains') return { path, headers: json, body: JSON.stringify({ outcome: 'complete', unshipped: { commands: 0, recording: 0 }, seconds: 1.5 }) };
  if (path === '/ingest/recordings/complete') return { path, headers: json, fresh: () => uploadToComplete(base) };
  if (route.method !== 'POST') return { path: path === '/ingest/offsets' ? `${path}?workspace_id=${WS}` : path, headers: {} };
  if (path === '/ingest/rejects') return { path, headers: json, body: JSON.stringify({ stream: 'commands', source_id: 'matrix-rejects', offset: 0, length: 10, reason: 'line_too_long', prefix_base64: '' }) };
  if (path === '/ingest/recordings') return { path, headers: json, body: JSON.stringify({ storage_path: `s3://${s3.bucket}/${segmentsPrefix(WS, 'g1')}`, last_sync_byte: 5 }) };
  if (path === '/login') return { path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(READ_TOKEN)}` };
  return { path, headers: { 'content-type': 'application/x-ndjson', 'x-workspace-id': WS, 'x-source-id': 'matrix', 'x-source-offset': '0' }, body: ndjson([{ command: 'ls', exit_code: 0, timestamp: 1 }]) };
}

/** One raw request (the path is sent exactly as written); resolves with the status once the headers are in. */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
      resolve(res.statusCode!);
      // The stream never ends by itself: the status is all this spec needs.
      res.destroy();
    });
    req.setTimeout(5_000, () => {
      resolve(-1);
      req.destroy();
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}

beforeAll(async () => {
  s3 = await startS3();
  atEnd(() => s3.destroy());
  for (const [name, value] of Object.entries(s3.env)) process.env[name] = value;
  const receiver = await startTestReceiver(await freshDatabase(), receiverS3(s3));
  port = Number(new URL(receiver.url).port);
  base = receiver.url;
  routes = receiver.routes;
  // Something to read for workspace A: a command, a status, a durable recording segment.
  await postLines(receiver.url, 'events', ndjson([{ event_type: 'connected', workshop_name: 'w', timestamp: 1 }]), { workspace: WS });
  const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID!, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY! } });
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: segmentKey(WS, 'g1', 0, 5), Body: Buffer.from('{}\n[]') }));
  client.destroy();
  await request(`${receiver.url}/ingest/recordings`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': WS }, body: JSON.stringify({ storage_path: `s3://${s3.bucket}/${segmentsPrefix(WS, 'g1')}`, last_sync_byte: 5 }) });
}, 60_000);

describe('access per route', () => {
  it('every route declares its access, and the table holds the ones dashboards and shippers use', () => {
    const has = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url)?.access;
    expect(has('GET', '/api/workspaces')).toBe('read');
    expect(has('GET', '/api/workspaces/:id/commands')).toBe('read');
    expect(has('GET', '/recordings/:workspace_id')).toBe('read');
    expect(has('GET', '/stream')).toBe('read');
    expect(has('POST', '/ingest/commands')).toBe('ingest');
    expect(has('GET', '/ingest/offsets')).toBe('ingest');
    expect(has('GET', '/healthz')).toBe('public');
    expect(routes.length).toBeGreaterThan(15);
  });

  it('a route that declares no access is refused when it is added', async () => {
    const { createServer } = await import('../../receiver/server.js');
    const { createAuth } = await import('../../receiver/auth.js');
    const { app } = createServer({ auth: createAuth({}), config: { maxBodyBytes: 1024 } } as never, { requestTimeoutMs: 1000, trustProxy: undefined } as never);
    expect(() => app.get('/undeclared', async () => 'open')).toThrow(/declares no access/);
  });

  it('in every spelling, only the right credential passes; the canonical spelling reaches a 2xx', async () => {
    const failures: string[] = [];
    const matchedOtherwise = new Set<string>();
    let checked = 0;
    for (const route of routes) {
      const sample = sampleFor(route);
      const [pathOnly, query] = sample.path.split('?');
      for (const [spelling, path] of spellings(pathOnly!)) {
        await Promise.all(CREDENTIALS.map(async (credential) => {
          const q = [query, credential.query].filter(Boolean).join('&');
          const status = await send(route.method, q ? `${path}?${q}` : path, { ...sample.headers, ...credential.headers }, sample.fresh ? await sample.fresh() : sample.body);
          checked++;
          const right = credential.grants.includes(route.access);
          const label = `${route.method} ${route.url} (${route.access}) spelled ${spelling} as ${path}, with ${credential.name}: ${status}`;
          if (!right && ![401, 403, 404].includes(status)) failures.push(label);
          if (right && spelling === 'canonical' && (status < 200 || status >= 400)) failures.push(`${label}, expected a 2xx or a redirect`);
          if (right && spelling !== 'canonical' && status >= 200 && status < 300) matchedOtherwise.add(`${route.method} ${path}`);
        }));
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(1000);
    // The router does decode spellings (so a check on the raw URL would be fooled): the matrix proves the check is not.
    expect([...matchedOtherwise]).toContain('GET /%61pi/%77orkspaces');
  }, 120_000);
});
