import { gzipSync } from 'node:zlib';
import { INGEST_TOKEN } from './receiver.js';

export interface Sent {
  status: number;
  body: any;
  headers: Headers;
}

export interface NativePost {
  workspace?: string;
  source?: string;
  offset?: number;
  token?: string | null;
  gzip?: boolean;
  contentType?: string;
  headers?: Record<string, string>;
}

async function answer(res: Response): Promise<Sent> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body, headers: res.headers };
}

export async function request(url: string, init: RequestInit & { token?: string | null } = {}): Promise<Sent> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? INGEST_TOKEN : init.token;
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return answer(await fetch(url, { ...init, headers }));
}

/** POST lines in the native protocol. */
export async function postLines(base: string, stream: string, body: string | Buffer, o: NativePost = {}): Promise<Sent> {
  const headers: Record<string, string> = {
    'content-type': o.contentType ?? 'application/x-ndjson',
    'x-workspace-id': o.workspace ?? 'ws-1',
    'x-source-id': o.source ?? 'gen-1',
    'x-source-offset': String(o.offset ?? 0),
    ...o.headers,
  };
  let payload = typeof body === 'string' ? Buffer.from(body) : body;
  if (o.gzip) {
    payload = gzipSync(payload);
    headers['content-encoding'] = 'gzip';
  }
  return request(`${base}/ingest/${stream}`, { method: 'POST', body: payload, headers, token: o.token });
}

/** POST a Vector-style JSON array. */
export async function postArray(base: string, stream: string, events: unknown[], o: { token?: string | null; headers?: Record<string, string>; gzip?: boolean } = {}): Promise<Sent> {
  let payload = Buffer.from(JSON.stringify(events));
  const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
  if (o.gzip) {
    payload = gzipSync(payload);
    headers['content-encoding'] = 'gzip';
  }
  return request(`${base}/ingest/${stream}`, { method: 'POST', body: payload, headers, token: o.token });
}

export function ndjson(objects: unknown[]): string {
  return objects.map((o) => JSON.stringify(o) + '\n').join('');
}
