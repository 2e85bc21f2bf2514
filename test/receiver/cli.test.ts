// ferry-receiver as a program: --help, configuration errors (one line, exit 2),
// mint-token, and SIGTERM that finishes in-flight requests before exit 0.

import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { mintWorkspaceToken } from '../../receiver/auth.js';
import { INGEST_TOKEN, KEEP_FOREVER_ENV, TOKEN_SECRET } from '../helpers/receiver.js';
import { manifestPlaceholders } from '../helpers/placeholders.js';
import { RECEIVER_BIN, run, start } from '../helpers/process.js';

let url: string;
let db: pg.Pool;

beforeAll(async () => {
  url = await freshDatabase();
  db = queryPool(url);
});

describe('configuration', () => {
  it('--help lists every variable with its default', async () => {
    const out = await run(RECEIVER_BIN, ['--help'], {});
    expect(out.code).toBe(0);
    for (const v of ['DATABASE_URL', 'PORT', 'INGEST_TOKEN', 'INGEST_TOKEN_SECRET', 'READ_TOKEN', 'MAX_BODY_BYTES', 'MAX_LINE_BYTES']) expect(out.stdout).toContain(v);
    expect(out.stdout).toContain('default: 8080');
  });

  const token = 'a-token-of-24-characters';
  it.each([
    [{ INGEST_TOKEN: token }, 'DATABASE_URL is required'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, PORT: 'eighty' }, 'PORT must be an integer from 0 to 65535, got "eighty"'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, MAX_BODY_BYTES: '12 parsecs' }, 'MAX_BODY_BYTES must be a size'],
    [{ DATABASE_URL: 'postgres://x' }, 'INGEST_TOKEN is required'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: 'short-token' }, 'INGEST_TOKEN must be at least 16 characters'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, READ_TOKEN: 'read' }, 'READ_TOKEN must be at least 16 characters'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN_SECRET: 'secret' }, 'INGEST_TOKEN_SECRET must be at least 16 characters'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, MAX_BODY_BYTES: '128MiB' }, 'INGEST_MEMORY_BYTES must be at least MAX_BODY_BYTES'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, WORKSPACE_BURST_BYTES: '1MiB' }, 'WORKSPACE_BURST_BYTES must be at least MAX_BODY_BYTES'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, TRUST_PROXY: '10.0.0.0/8,proxy.local' }, 'TRUST_PROXY must be IP addresses or CIDRs'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, INGEST_TOKEN_FILE: '/etc/hostname' }, 'INGEST_TOKEN_FILE must be unset while INGEST_TOKEN is set'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN_FILE: '/etc' }, 'INGEST_TOKEN_FILE must be a readable file holding a secret of at least 16 characters and not a placeholder (make one with: openssl rand -base64 32), got "/etc: EISDIR"'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, READ_TOKEN_FILE: '/etc/hostname' }, 'READ_TOKEN_FILE must be a readable file holding a secret'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, READ_TOKEN_PREVIOUS: token }, 'READ_TOKEN is required (set (or READ_TOKEN_FILE) when READ_TOKEN_PREVIOUS is'],
    [{ DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, INGEST_TOKEN_PREVIOUS: 'short' }, 'INGEST_TOKEN_PREVIOUS must be at least 16 characters'],
  ])('%j: one line naming the variable, exit 2', async (env, message) => {
    const out = await run(RECEIVER_BIN, [], env);
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  it('a credential file that is not there counts as unset, logged: with no other ingest credential, exit 2', async () => {
    const out = await run(RECEIVER_BIN, [], { DATABASE_URL: 'postgres://x', INGEST_TOKEN_FILE: '/nonexistent/token' });
    expect(out.code).toBe(2);
    expect(out.stderr.trim()).toBe('ferry-receiver: INGEST_TOKEN is required (set, or INGEST_TOKEN_SECRET, to a value or an existing file: ingest is never open)');
    expect(JSON.parse(out.stdout)).toMatchObject({ level: 50, variable: 'INGEST_TOKEN_FILE', reason: '/nonexistent/token: ENOENT' });
  });

  it('refuses every placeholder secret the repository\'s manifests carry, naming the variable and never echoing the value', async () => {
    const placeholders = await manifestPlaceholders();
    expect(placeholders.length).toBeGreaterThan(2);
    for (const [variable, value] of placeholders) {
      const out = await run(RECEIVER_BIN, [], { DATABASE_URL: 'postgres://x', INGEST_TOKEN: token, [variable]: value });
      expect(out.code, `${variable}=${value}`).toBe(2);
      expect(out.stderr).toContain(`${variable} must be`);
      expect(out.stderr).not.toContain(value);
    }
  });

  it('mint-token prints a token for one workspace, with the key id of the current secret', async () => {
    const out = await run(RECEIVER_BIN, ['mint-token', 'ws-7'], { INGEST_TOKEN_SECRET: TOKEN_SECRET, INGEST_TOKEN_SECRET_PREVIOUS: 'an-older-secret-of-24-chars' });
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toMatch(/^fw2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(out.stdout.trim()).toBe(mintWorkspaceToken(TOKEN_SECRET, 'ws-7'));
    expect((await run(RECEIVER_BIN, ['mint-token', 'ws-7'], {})).code).toBe(2);
  });
});

describe('as a process', () => {
  it('logs JSON without tokens, and on SIGTERM finishes the request in flight, then exits 0', async () => {
    const receiver = start(RECEIVER_BIN, [], { DATABASE_URL: url, INGEST_TOKEN, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ...KEEP_FOREVER_ENV });
    const base = String((await receiver.waitForLog((l) => l.msg === 'receiver listening')).url);
    await receiver.waitForLog((l) => String(l.msg).includes('migrations') || String(l.msg).includes('schema'));

    // A request whose body is still arriving when SIGTERM comes.
    const body = ndjson(Array.from({ length: 1000 }, (_, i) => ({ command: `slow ${i}`, exit_code: 0, timestamp: 1 })));
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/ingest/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body), 'x-workspace-id': 'sigterm', 'x-source-id': 'g', 'x-source-offset': '0' },
      }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 100));
      setTimeout(() => {
        receiver.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(100)), 300);
      }, 100);
    });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ accepted: 1000 });
    const exit = await receiver.exited;
    expect(exit.code).toBe(0);
    expect((await db.query("SELECT count(*)::int AS n FROM command_log WHERE workspace_id = 'sigterm'")).rows[0].n).toBe(1000);
    expect(receiver.output()).not.toContain(INGEST_TOKEN);
    expect(receiver.logs.some((l) => l.msg === 'receiver stopped')).toBe(true);
  });

  it('refuses new connections once stopping', async () => {
    const receiver = start(RECEIVER_BIN, [], { DATABASE_URL: url, INGEST_TOKEN, HOST: '127.0.0.1', PORT: '0' });
    const base = String((await receiver.waitForLog((l) => l.msg === 'receiver listening')).url);
    receiver.child.kill('SIGTERM');
    expect((await receiver.exited).code).toBe(0);
    await expect(postLines(base, 'commands', 'x\n')).rejects.toThrow();
  });
});
