// Hostile HTTP against the receiver process: wrong types, lying lengths, gzip
// bombs, slow bodies, forged headers and tokens, enormous Vector arrays. Each
// corpus case (corpus/http.jsonl) gets exactly its stated answer, stores
// exactly what it says, and the receiver neither crashes nor grows past its
// memory bound.

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { mintWorkspaceToken } from '../../receiver/auth.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN, READ_TOKEN, TOKEN_SECRET } from '../helpers/receiver.js';
import { waitFor } from '../helpers/wait.js';
import { bodyBytes, goodLine, HTTP_CASES, TABLE, type HttpCase } from './corpus.js';
import { rawRequest } from './raw-http.js';
import { startReceiverProcess, type ReceiverProcess } from './receiver-process.js';

/** The receiver runs with the image's Node flags: whatever the corpus sends, it stays well inside the pod's 512Mi. */
const MEMORY_BOUND_BYTES = 400 * 1024 ** 2;
/** Short, so the slow-request cases end soon (Node checks it every 30 s). */
const REQUEST_TIMEOUT_MS = 2_000;

let receiver: ReceiverProcess;
let db: pg.Pool;

beforeAll(async () => {
  const url = await freshDatabase();
  receiver = await startReceiverProcess(url, { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  db = queryPool(url);
});

afterAll(() => {
  receiver?.child.kill('SIGKILL');
});

function workspaceOf(c: HttpCase): string {
  return `http-${HTTP_CASES.indexOf(c)}`;
}

function fill(text: string, ws: string): string {
  const swapped = mintWorkspaceToken(TOKEN_SECRET, 'someone-else').split('.');
  const tokens: Record<string, string> = {
    ws,
    ingest: INGEST_TOKEN,
    read: READ_TOKEN,
    'ingest-altered': `${INGEST_TOKEN.slice(0, -1)}${INGEST_TOKEN.endsWith('x') ? 'y' : 'x'}`,
    'forged-token': mintWorkspaceToken('not-the-secret', ws),
    'swapped-token': `${swapped[0]}.${swapped[1]}.${Buffer.from(ws).toString('base64url')}.${swapped[3]}`,
    'other-ws-token': mintWorkspaceToken(TOKEN_SECRET, 'someone-else'),
    'ws-token': mintWorkspaceToken(TOKEN_SECRET, ws),
  };
  return text.replace(/\{\{([a-z-]+)\}\}/g, (_, name: string) => tokens[name] ?? `{{${name}}}`);
}

function requestOf(c: HttpCase) {
  const ws = workspaceOf(c);
  const r = c.request ?? {};
  const headers: Record<string, string> = {
    authorization: `Bearer ${INGEST_TOKEN}`,
    'content-type': 'application/x-ndjson',
    'x-workspace-id': ws,
    'x-source-id': 'gen-1',
    'x-source-offset': '0',
  };
  for (const [name, value] of Object.entries(r.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = fill(value, ws);
  }
  let body = r.body === null ? undefined : r.body === undefined
    ? Buffer.from(`${goodLine('commands', 'good 1')}\n${goodLine('commands', 'good 2')}\n`)
    : bodyBytes(r.body, (t) => fill(t, ws));
  if (r.gzip && body) body = gzipSync(body);
  return { method: r.method ?? 'POST', path: fill(r.path ?? '/ingest/commands', ws), headers, body, ws };
}

async function send(c: HttpCase): Promise<{ status: number | null; body: any }> {
  const { method, path, headers, body } = requestOf(c);
  if (c.raw) {
    const answer = await rawRequest(receiver.port, path, headers, body ?? Buffer.alloc(0), c.raw, 90_000);
    let parsed: unknown = answer.body;
    try { parsed = JSON.parse(answer.body); } catch { /* not JSON */ }
    return { status: answer.status, body: parsed };
  }
  try {
    const res = await fetch(`${receiver.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed };
  } catch (err) {
    // The server may answer early (413) and close while the body is still going out.
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'ECONNRESET' || cause?.code === 'EPIPE') return { status: null, body: String(err) };
    throw err;
  }
}

describe('hostile HTTP', () => {
  it(`the corpus has at least 50 HTTP cases (${HTTP_CASES.length})`, () => {
    expect(HTTP_CASES.length).toBeGreaterThanOrEqual(50);
  });

  // A case that waits for the request timeout runs beside the others, not after them.
  for (const c of HTTP_CASES) {
    const test = c.expect.status === 408 ? it.concurrent : it;
    const outcome = c.expect.status === null ? 'the connection closes' : `${c.expect.status}${c.expect.error ? ` ${c.expect.error}` : ''}`;
    test(`${c.category}: ${c.case} → ${outcome}, ${c.expect.stored} rows stored`, async () => {
      const res = await send(c);
      if (res.status === null && (c.expect.status === 413 || c.expect.mayClose)) {
        // An early answer (413 while the body still goes out, 400 then close) may be lost to the reset; the stored count below still holds.
      } else {
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(c.expect.status);
      }
      if (c.expect.error && res.status !== null) expect(res.body.error).toBe(c.expect.error);
      if (c.expect.answer) expect(res.body).toMatchObject(c.expect.answer);
      const ws = fill(c.expect.workspace ?? '{{ws}}', workspaceOf(c));
      const table = TABLE[requestOf(c).path.startsWith('/ingest/llm') ? 'llm' : 'commands'];
      // A request the server answered early (400 for what follows it) may still be committing.
      const count = async () => (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE workspace_id = $1`, [ws])).rows[0].n as number;
      await waitFor(async () => (await count()) === c.expect.stored, `${c.expect.stored} rows`, 10_000).catch(() => undefined);
      expect(await count()).toBe(c.expect.stored);
      const rejects = await db.query('SELECT reason FROM ingest_rejects WHERE workspace_id = $1 ORDER BY id', [ws]);
      if (c.expect.rejects) expect(rejects.rows.map((r) => r.reason)).toEqual(c.expect.rejects);
      else if (!c.expect.answer?.rejected) expect(rejects.rows).toEqual([]);
    }, 120_000);
  }

  it('after the whole corpus the receiver is alive and its peak memory stayed under its bound', async () => {
    expect(receiver.child.exitCode, receiver.output().slice(-2000)).toBeNull();
    expect((await fetch(`${receiver.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${receiver.url}/readyz`)).status).toBe(200);
    const peak = receiver.peakRssBytes();
    console.log(`receiver peak RSS over the HTTP corpus: ${(peak / 1024 ** 2).toFixed(0)} MiB`);
    expect(peak).toBeLessThan(MEMORY_BOUND_BYTES);
  });
});
