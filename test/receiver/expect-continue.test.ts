// A client that sends `Expect: 100-continue` is asked for its body only once
// the receiver will read it. Refused from its headers (401, 413, 429, 503),
// it gets its answer without sending a byte of the body; admitted, it is told
// to continue and its lines are stored. The shipper's large batches wait so:
// sent at once, half of them lost their 401 to the connection the receiver
// closes over an unread body, and the shipper saw a network error instead.

import http from 'node:http';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../shipper/ship/http-transport.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { INGEST_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { startReceiverProcess } from '../hostile/receiver-process.js';

const KIB = 1024;
const MIB = 1024 * KIB;

interface Exchange {
  status: number | null;
  /** Whether the receiver asked for the body (100 Continue), which is then sent. */
  continued: boolean;
  error?: string;
}

/** A native ingest request's headers, with the shared token. */
const ingestHeaders = (workspace: string, length: number): Record<string, string> => ({
  'content-type': 'application/x-ndjson', 'content-length': String(length),
  'x-workspace-id': workspace, 'x-source-id': 'gen', 'x-source-offset': '0', authorization: `Bearer ${INGEST_TOKEN}`,
});

/** One POST that waits for 100 Continue before its body and never sends it otherwise. */
function postExpecting(base: string, workspace: string, body: Buffer, headers: Record<string, string> = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    let continued = false;
    const req = http.request(`${base}/ingest/commands`, {
      method: 'POST',
      agent: false,
      headers: { expect: '100-continue', ...ingestHeaders(workspace, body.length), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        resolve({ status: res.statusCode!, continued, error: (JSON.parse(text || '{}') as { error?: string }).error });
        req.destroy();
      });
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('error', () => resolve({ status: null, continued }));
  });
}

const lines = (n: number, tag: string) => Buffer.from(Array.from({ length: n }, (_, i) => `{"command":"${tag} ${i}","exit_code":0,"timestamp":1}\n`).join(''));

describe('a client that waits for 100 Continue', () => {
  let base: string;
  let db: pg.Pool;

  beforeAll(async () => {
    const url = await freshDatabase();
    db = queryPool(url);
    const receiver = await startTestReceiver(url, {
      maxBodyBytes: MIB, ingestMemoryBytes: MIB, workspaceRateBytes: KIB, workspaceBurstBytes: MIB,
    });
    base = receiver.url;
  });

  it('is asked for its body once admitted, and its lines are stored', async () => {
    expect(await postExpecting(base, 'ws-continue', lines(100, 'asked'))).toEqual({ status: 200, continued: true });
    const { rows } = await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'ws-continue'");
    expect(rows[0].n).toBe(100);
  });

  it('refused from its headers, gets its answer without being asked for the body', async () => {
    const body = lines(2000, 'refused');
    expect(await postExpecting(base, 'ws-no-token', body, { authorization: 'Bearer wrong' })).toMatchObject({ status: 401, continued: false, error: 'unauthorized' });
    expect(await postExpecting(base, 'ws-huge', body, { 'content-length': String(2 * MIB) })).toMatchObject({ status: 413, continued: false, error: 'body_too_large' });
    // The first body takes most of the workspace's burst; the next one is over its rate.
    expect(await postExpecting(base, 'ws-rate', lines(15_000, 'burst'))).toMatchObject({ status: 200, continued: true });
    expect(await postExpecting(base, 'ws-rate', body, { 'content-length': String(800 * KIB) })).toMatchObject({ status: 429, continued: false, error: 'rate_limited' });
    // A body on its way holds the whole memory budget meanwhile.
    const holder = http.request(`${base}/ingest/commands`, { method: 'POST', agent: false, headers: ingestHeaders('ws-holder', MIB) });
    holder.on('error', () => undefined);
    holder.write('{"command":"held"');
    await new Promise((r) => setTimeout(r, 200));
    expect(await postExpecting(base, 'ws-overload', body)).toMatchObject({ status: 503, continued: false, error: 'overloaded' });
    holder.destroy();
    const { rows } = await db.query("SELECT count(*)::int AS n FROM command_log WHERE command LIKE 'refused %'");
    expect(rows[0].n).toBe(0);
  });
});

describe("the shipper's large batches", () => {
  it('read their 401 every time, ten pipelines at once sending 4 MiB each with a token that is no longer valid', async () => {
    // A receiver of its own process: sharing the test's event loop, it never races the client's writes.
    const receiver = await startReceiverProcess(await freshDatabase(), { MAX_CONNECTIONS_PER_PEER: '0' });
    const body = Buffer.alloc(4 * MIB, 'x');
    const transports = Array.from({ length: 10 }, () => createHttpTransport({ baseUrl: receiver.url, token: () => 'rotated-away', timeoutMs: 10_000, connections: 1 }));
    try {
      const outcomes = await Promise.all(transports.map(async (t) => {
        const seen: string[] = [];
        for (let i = 0; i < 5; i++) {
          const d = await t.send({ path: '/ingest/commands', contentType: 'application/x-ndjson', headers: { 'x-workspace-id': 'ws', 'x-source-id': 'gen', 'x-source-offset': '0' }, body });
          seen.push(d.status === 'refused' ? `refused ${d.statusCode}` : `${d.status}: ${'reason' in d ? d.reason : ''}`);
        }
        return seen;
      }));
      expect(outcomes.flat()).toEqual(Array(50).fill('refused 401'));
    } finally {
      await Promise.all(transports.map((t) => t.close()));
      receiver.child.kill('SIGKILL');
    }
  });
});
