// The receiver holds at most INGEST_MEMORY_BYTES of request bodies at once.
// Bodies without a valid token are refused from their headers and cost
// nothing; bodies past the budget are answered 503 with Retry-After before
// they are read; a client that waits and resends loses nothing. Measured on
// the receiver's own process, whose peak memory stays under its bound.

import http from 'node:http';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN } from '../helpers/receiver.js';
import { startReceiverProcess, type ReceiverProcess } from '../hostile/receiver-process.js';

const MIB = 1024 ** 2;
/** The defaults: 16 MiB bodies, a 64 MiB budget. The receiver README states the bound this checks. */
const BODY_BYTES = 16 * MIB;
const MEMORY_BOUND_BYTES = 400 * MIB;

let receiver: ReceiverProcess;
let db: pg.Pool;
let body: Buffer;

beforeAll(async () => {
  const url = await freshDatabase();
  receiver = await startReceiverProcess(url);
  db = queryPool(url);
  const line = (i: number) => `{"command":"budget ${String(i).padStart(8, '0')} ${'x'.repeat(60)}","exit_code":0,"timestamp":1}\n`;
  const lines: string[] = [];
  for (let i = 0, size = 0; size + line(i).length <= BODY_BYTES; size += line(i).length, i++) lines.push(line(i));
  body = Buffer.from(lines.join(''));
}, 60_000);

afterAll(() => {
  receiver?.child.kill('SIGKILL');
});

interface Answer {
  status: number | null;
  retryAfter?: string;
  error?: string;
}

/** One POST of the whole body, from a loopback address; status null when the server closed the connection before answering. */
function post(workspace: string, token: string | null, from = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {
      'content-type': 'application/x-ndjson', 'content-length': String(body.length),
      'x-workspace-id': workspace, 'x-source-id': 'gen', 'x-source-offset': '0',
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.request({ host: '127.0.0.1', port: receiver.port, method: 'POST', path: '/ingest/commands', headers, agent: false, localAddress: from }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], error: (JSON.parse(text || '{}') as { error?: string }).error }));
      res.on('error', () => resolve({ status: res.statusCode! }));
    });
    req.on('error', () => resolve({ status: null }));
    req.end(body);
  });
}

function rssBytes(): number {
  return receiver.peakRssBytes();
}

describe('the memory budget', () => {
  it('refuses 100 parallel 16 MiB bodies without a valid token from their headers: 401 each, nothing read', async () => {
    const before = rssBytes();
    // Each from an address of its own, as 100 pods would be: one address holds at most MAX_CONNECTIONS_PER_PEER connections.
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => post(`anon-${i}`, i % 2 === 0 ? null : 'not-a-valid-token-at-all', `127.0.1.${i + 1}`)));
    // A client still sending when the 401 comes may lose it to the closed connection (how many depends on
    // the machine's load); none gets anything but a 401. The receiver's own count says it answered each.
    expect(answers.filter((a) => a.status !== null && a.status !== 401)).toEqual([]);
    const metrics = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(metrics).toMatch(/^ferry_receiver_request_errors_total\{code="unauthorized"\} 100$/m);
    expect(metrics).not.toMatch(/^ferry_receiver_body_bytes_total\{stream="commands"\} [1-9]/m);
    expect(rssBytes() - before).toBeLessThan(64 * MIB);
  }, 120_000);

  it('answers 503 with Retry-After past the budget; resent after the wait, every line is stored once', async () => {
    const workspaces = Array.from({ length: 10 }, (_, i) => `budget-${i}`);
    const pending = new Set(workspaces);
    let overloaded = 0;
    for (let round = 0; pending.size > 0 && round < 40; round++) {
      const answers = await Promise.all([...pending].map(async (ws) => [ws, await post(ws, INGEST_TOKEN)] as const));
      for (const [ws, a] of answers) {
        if (a.status === 200) pending.delete(ws);
        else if (a.status === 503) {
          overloaded++;
          expect(a.error).toBe('overloaded');
          expect(Number(a.retryAfter)).toBeGreaterThan(0);
        } else expect(a.status, `${ws}: ${JSON.stringify(a)}`).toBeNull();
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(pending.size).toBe(0);
    expect(overloaded).toBeGreaterThan(0);
    const perWorkspace = body.toString().split('\n').length - 1;
    const { rows } = await db.query<{ workspace_id: string; n: number; distinct_commands: number }>(
      "SELECT workspace_id, count(*)::int AS n, count(DISTINCT command)::int AS distinct_commands FROM command_log WHERE workspace_id LIKE 'budget-%' GROUP BY 1 ORDER BY 1");
    expect(rows).toHaveLength(workspaces.length);
    for (const r of rows) expect(r, r.workspace_id).toMatchObject({ n: perWorkspace, distinct_commands: perWorkspace });
    const metrics = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(metrics).toMatch(/ferry_receiver_requests_limited_total\{stream="commands",limit="memory"\} [1-9]/);
    expect(metrics).toMatch(/ferry_receiver_ingest_memory_bytes 0\b/);
    const peak = rssBytes();
    console.log(`receiver peak RSS with ${workspaces.length} parallel 16 MiB bodies: ${(peak / MIB).toFixed(0)} MiB (${overloaded} answered 503 overloaded)`);
    expect(peak).toBeLessThan(MEMORY_BOUND_BYTES);
  }, 300_000);
});
