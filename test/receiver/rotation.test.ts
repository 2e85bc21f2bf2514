// Rotation without downtime: every credential the receiver checks (the
// shared INGEST_TOKEN, the INGEST_TOKEN_SECRET that signs workspace tokens,
// READ_TOKEN) is rotated through its files while two shippers ship and a
// dashboard reads. Each credential takes its old value into *_PREVIOUS, then
// the new one; the shippers' token files are rewritten, and the previous
// values removed last. Nobody holding either value ever gets a 401, and
// every line arrives exactly once.

import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyId, mintWorkspaceToken, mintWorkspaceTokenV1 } from '../../receiver/auth.js';
import { RECEIVER_SPEC } from '../../receiver/config.js';
import { loadConfig } from '../../shared/env.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { ndjson, postLines } from '../helpers/http.js';
import { KEEP_FOREVER, startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { waitFor } from '../helpers/wait.js';
import type { RunningReceiver } from '../../receiver/receiver.js';

const fresh = () => randomBytes(24).toString('base64url');

let dir: string;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-rotation-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  url = await freshDatabase();
});

/** A receiver whose three credentials come from files in `dir`, read again every 100 ms. */
async function receiverOnFiles(): Promise<RunningReceiver> {
  const files = Object.fromEntries(['INGEST_TOKEN', 'INGEST_TOKEN_SECRET', 'READ_TOKEN'].flatMap((v) => [[`${v}_FILE`, join(dir, v)], [`${v}_PREVIOUS_FILE`, join(dir, `${v}_PREVIOUS`)]]));
  const fromFiles = loadConfig({ a: RECEIVER_SPEC.ingestToken, b: RECEIVER_SPEC.ingestTokenSecret, c: RECEIVER_SPEC.readToken }, files);
  return startTestReceiver(url, { ingestToken: fromFiles.a, ingestTokenSecret: fromFiles.b, readToken: fromFiles.c, credentialsReloadIntervalMs: 100, ...KEEP_FOREVER });
}

async function counter(receiver: RunningReceiver, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await receiver.registry.getSingleMetric(name)?.get())?.values ?? [];
  return metric.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

describe('rotating every credential while shippers run', () => {
  it('no 401 reaches anyone holding the current or the previous value, and every line arrives once', async () => {
    const old = { INGEST_TOKEN: fresh(), INGEST_TOKEN_SECRET: fresh(), READ_TOKEN: fresh() };
    const next = { INGEST_TOKEN: fresh(), INGEST_TOKEN_SECRET: fresh(), READ_TOKEN: fresh() };
    for (const [name, value] of Object.entries(old)) await writeFile(join(dir, name), `${value}\n`);
    const receiver = await receiverOnFiles();
    const db = queryPool(url);

    // Two shippers: one with the shared token, one with its workspace's own (fw2, old secret), both from files.
    const shippers: Array<{ ws: string; tokenFile: string; runtime: string; shipper: ShipperProcess; written: number }> = [];
    for (const [ws, token] of [['rot-shared', old.INGEST_TOKEN], ['rot-own', mintWorkspaceToken(old.INGEST_TOKEN_SECRET, 'rot-own')]] as const) {
      const dirs = await shipperDirs();
      await mkdir(dirs.runtimeDir, { recursive: true });
      const tokenFile = join(dirs.runtimeDir, '..', 'token');
      await writeFile(tokenFile, token);
      // A long REFUSED_RETRY_DELAY_MS: a 401 would show as a stall, besides in the logs.
      const shipper = await startShipper(shipperEnv(receiver.url, dirs, ws, { INGEST_TOKEN: '', INGEST_TOKEN_FILE: tokenFile, CREDENTIALS_RELOAD_INTERVAL_MS: '100', REFUSED_RETRY_DELAY_MS: '600000' }));
      shippers.push({ ws, tokenFile, runtime: dirs.runtimeDir, shipper, written: 0 });
    }

    // Lines keep coming, and a dashboard keeps reading, through the whole rotation.
    let readToken = old.READ_TOKEN;
    const readStatuses: number[] = [];
    let writing = true;
    const traffic = (async () => {
      while (writing) {
        for (const s of shippers) {
          await appendFile(join(s.runtime, 'command-log.jsonl'), ndjson([{ command: `${s.ws} ${s.written}`, exit_code: 0, timestamp: 1763892000 + s.written }]));
          s.written++;
        }
        readStatuses.push((await fetch(`${receiver.url}/api/workspaces`, { headers: { authorization: `Bearer ${readToken}` } })).status);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    const changes = () => counter(receiver, 'ferry_receiver_credential_reloads_total', { outcome: 'changed' });
    const rotateReceiver = async (write: () => Promise<void>, expected: number) => {
      await write();
      await waitFor(async () => (await changes()) >= expected, 'the receiver read the files again', 5_000);
    };
    await new Promise((r) => setTimeout(r, 300));
    // 1. The old values go to *_PREVIOUS (both accepted), 2. the new ones become current.
    await rotateReceiver(async () => {
      for (const [name, value] of Object.entries(old)) await writeFile(join(dir, `${name}_PREVIOUS`), value);
    }, 3);
    await new Promise((r) => setTimeout(r, 300));
    await rotateReceiver(async () => {
      for (const [name, value] of Object.entries(next)) await writeFile(join(dir, name), value);
    }, 6);
    // 3. Clients move to the new values; meanwhile the old ones are still accepted as previous.
    await new Promise((r) => setTimeout(r, 300));
    expect(await counter(receiver, 'ferry_receiver_previous_credential_requests_total', { credential: 'INGEST_TOKEN' })).toBeGreaterThan(0);
    expect(await counter(receiver, 'ferry_receiver_previous_credential_requests_total', { credential: 'INGEST_TOKEN_SECRET' })).toBeGreaterThan(0);
    expect(await counter(receiver, 'ferry_receiver_previous_credential_requests_total', { credential: 'READ_TOKEN' })).toBeGreaterThan(0);
    await writeFile(shippers[0]!.tokenFile, next.INGEST_TOKEN);
    await writeFile(shippers[1]!.tokenFile, mintWorkspaceToken(next.INGEST_TOKEN_SECRET, 'rot-own'));
    readToken = next.READ_TOKEN;
    for (const s of shippers) await s.shipper.waitForLog((l) => l.msg === 'credential changed: the new value is in service', 5_000);
    await new Promise((r) => setTimeout(r, 300));
    // 4. The previous values are removed: the rotation is over.
    await rotateReceiver(async () => {
      for (const name of Object.keys(old)) await rm(join(dir, `${name}_PREVIOUS`));
    }, 9);
    await new Promise((r) => setTimeout(r, 300));
    writing = false;
    await traffic;

    for (const s of shippers) {
      await waitFor(async () => (await db.query('SELECT count(*)::int AS n FROM command_log WHERE workspace_id = $1', [s.ws])).rows[0].n >= s.written, `${s.ws}: every line`, 20_000);
      const rows = (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [s.ws])).rows.map((r) => r.command);
      expect(rows).toEqual(Array.from({ length: s.written }, (_, i) => `${s.ws} ${i}`));
      s.shipper.child.kill('SIGTERM');
      expect((await s.shipper.exited).code, s.shipper.output()).toBe(0);
      expect(s.shipper.logs.filter((l) => String(l.msg).startsWith('receiver REFUSED'))).toEqual([]);
    }
    expect(readStatuses.length).toBeGreaterThan(20);
    expect(readStatuses.filter((s) => s !== 200)).toEqual([]);
    // The old values no longer work.
    const line = ndjson([{ command: 'late', exit_code: 0, timestamp: 1 }]);
    expect((await postLines(receiver.url, 'commands', line, { workspace: 'rot-shared', token: old.INGEST_TOKEN })).status).toBe(401);
    expect((await postLines(receiver.url, 'commands', line, { workspace: 'rot-own', token: mintWorkspaceToken(old.INGEST_TOKEN_SECRET, 'rot-own') })).status).toBe(401);
    expect((await fetch(`${receiver.url}/api/workspaces`, { headers: { authorization: `Bearer ${old.READ_TOKEN}` } })).status).toBe(401);
  }, 90_000);
});

describe('workspace tokens', () => {
  it('fw2 names the secret that signed it; fw1 tokens still work with the current or the previous secret', async () => {
    const [secretA, secretB] = [fresh(), fresh()];
    await writeFile(join(dir, 'INGEST_TOKEN'), fresh());
    await writeFile(join(dir, 'INGEST_TOKEN_SECRET'), secretB);
    await writeFile(join(dir, 'INGEST_TOKEN_SECRET_PREVIOUS'), secretA);
    await writeFile(join(dir, 'READ_TOKEN'), fresh());
    const receiver = await receiverOnFiles();
    const token = mintWorkspaceToken(secretB, 'ws-k');
    expect(token.split('.')).toHaveLength(4);
    expect(token.split('.')[1]).toBe(keyId(secretB));
    expect(keyId(secretA)).not.toBe(keyId(secretB));
    const line = ndjson([{ command: 'x', exit_code: 0, timestamp: 1 }]);
    const status = async (t: string) => (await postLines(receiver.url, 'commands', line, { workspace: 'ws-k', token: t })).status;
    expect(await status(token)).toBe(200);
    expect(await status(mintWorkspaceToken(secretA, 'ws-k'))).toBe(200);
    expect(await status(mintWorkspaceTokenV1(secretA, 'ws-k'))).toBe(200);
    expect(await status(mintWorkspaceTokenV1(secretB, 'ws-k'))).toBe(200);
    // A valid MAC under a key id that names the other secret is no token.
    const [, , id, mac] = mintWorkspaceToken(secretA, 'ws-k').split('.');
    expect(await status(`fw2.${keyId(secretB)}.${id}.${mac}`)).toBe(401);
    expect(await status(mintWorkspaceToken(fresh(), 'ws-k'))).toBe(401);
    await receiver.stop();
  });
});
