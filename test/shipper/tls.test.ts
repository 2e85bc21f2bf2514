// The shipper over HTTPS: it trusts the CA in TLS_CA_FILE besides Node's own
// store and NODE_EXTRA_CA_CERTS, always verifies the receiver's certificate,
// and a certificate it refuses is a configuration fault: logged loudly,
// counted, retried slowly, and nothing is lost.

import { createServer, type Server } from 'node:https';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport, type Delivery, type TransportOptions } from '../../shipper/ship/http-transport.js';
import { isCertificateError, isRetryableError } from '../../shipper/ship/is-retryable.js';
import { createRetryingTransport, type FailedAttempt } from '../../shipper/ship/retrying-transport.js';
import { trustedCAs } from '../../shipper/ship/trust.js';
import { atEnd } from '../helpers/cleanup.js';
import { freshDatabase, queryPool } from '../helpers/database.js';
import { startTestReceiver } from '../helpers/receiver.js';
import { shipperDirs, shipperEnv, startShipper, type ShipperProcess } from '../helpers/shipper.js';
import { certificateDir, issue, makeCA, writeSecretVolume, type ServerCertificate, type TestCA } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let ca: TestCA;
let otherCa: TestCA;

beforeAll(async () => {
  dir = await certificateDir();
  [ca, otherCa] = await Promise.all([makeCA(dir, 'ca'), makeCA(dir, 'other-ca')]);
});

const post = { path: '/ingest/commands', contentType: 'application/x-ndjson', headers: {}, body: 'x\n' };

describe('one attempt', () => {
  /** An HTTPS server with this certificate that answers every request with 200 and a JSON body. */
  async function server(cert: ServerCertificate): Promise<string> {
    const srv: Server = createServer({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1}'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    atEnd(() => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }));
    return `https://127.0.0.1:${(srv.address() as { port: number }).port}`;
  }

  function send(url: string, o: Partial<TransportOptions> = {}): Promise<Delivery> {
    const transport = createHttpTransport({ baseUrl: url, token: () => 't', timeoutMs: 2_000, connections: 1, ...o });
    atEnd(() => transport.close());
    return transport.send(post);
  }

  it('trusts the CA of TLS_CA_FILE', async () => {
    const url = await server(await issue(dir, 'trusted', ca));
    expect(await send(url, { ca: trustedCAs(ca.certFile) })).toEqual({ status: 'delivered', statusCode: 200, answer: { accepted: 1 } });
    // A file with both CAs (a bundle during a CA rotation) trusts both.
    const bundle = join(dir, 'bundle.pem');
    await writeFile(bundle, Buffer.concat([await readFile(otherCa.certFile), await readFile(ca.certFile)]));
    expect(await send(url, { ca: trustedCAs(bundle) })).toMatchObject({ status: 'delivered' });
  });

  it('refuses an unknown CA, a self-signed certificate and a wrong host name, as untrusted: not a network error', async () => {
    const [unknown, self, elsewhere] = await Promise.all([
      issue(dir, 'unknown-issuer', otherCa), issue(dir, 'self-signed', 'self-signed'), issue(dir, 'elsewhere', ca, ['ferry-receiver.example']),
    ]);
    const cases: Array<[string, Partial<TransportOptions>, string]> = [
      [await server(unknown), { ca: trustedCAs(ca.certFile) }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [await server(await issue(dir, 'no-ca-given', ca)), {}, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
      [await server(self), { ca: trustedCAs(ca.certFile) }, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
      [await server(elsewhere), { ca: trustedCAs(ca.certFile) }, 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ];
    for (const [url, o, code] of cases) {
      const delivery = await send(url, o);
      expect(delivery, code).toEqual({ status: 'untrusted', reason: expect.stringMatching(new RegExp(`^${code}: `)) });
    }
  });

  it('verifies even when NODE_TLS_REJECT_UNAUTHORIZED=0 would turn verification off elsewhere in Node', async () => {
    const url = await server(await issue(dir, 'escape-hatch', otherCa));
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const warn = process.emitWarning;
    process.emitWarning = () => undefined;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      expect(await send(url, { ca: trustedCAs(ca.certFile) })).toMatchObject({ status: 'untrusted' });
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
      process.emitWarning = warn;
    }
  });

  it('knows a refused certificate by its code, also wrapped as a cause, and never takes it for a network error', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      const err = Object.assign(new Error(code), { code });
      expect(isCertificateError(err), code).toBe(true);
      expect(isCertificateError(new Error('outer', { cause: err })), code).toBe(true);
      expect(isRetryableError(err), code).toBe(false);
    }
    for (const code of ['ECONNRESET', 'OUT_OF_MEM', 'ERR_SSL_WRONG_VERSION_NUMBER']) expect(isCertificateError(Object.assign(new Error(code), { code })), code).toBe(false);
  });

  it('is retried after the slow, refused delay, not the network backoff', async () => {
    const url = await server(await issue(dir, 'retried', otherCa));
    const http = createHttpTransport({ baseUrl: url, token: () => 't', timeoutMs: 2_000, connections: 1, ca: trustedCAs(ca.certFile) });
    atEnd(() => http.close());
    const failed: Array<FailedAttempt & { at: number }> = [];
    const abort = new AbortController();
    const result = await createRetryingTransport(http, { maxDelayMs: 100, refusedDelayMs: 400 }).deliver(post, abort.signal, (f) => {
      failed.push({ ...f, at: performance.now() });
      if (failed.length === 3) abort.abort();
    });
    expect(result).toEqual({ status: 'aborted' });
    expect(failed.map((f) => [f.delivery.status, f.waitMs])).toEqual([['untrusted', 400], ['untrusted', 400], ['untrusted', 400]]);
    expect(failed[2]!.at - failed[0]!.at).toBeGreaterThanOrEqual(2 * 400 - 20);
  });
});

describe('shipper → receiver over HTTPS', () => {
  let db: pg.Pool;
  let base: string;
  let volume: string;

  beforeAll(async () => {
    const url = await freshDatabase();
    db = queryPool(url);
    volume = join(dir, 'receiver-volume');
    await mkdir(volume);
    await mountPair(await issue(dir, 'receiver-1', ca));
    base = (await startTestReceiver(url, { tlsCertFile: join(volume, 'tls.crt'), tlsKeyFile: join(volume, 'tls.key'), tlsReloadIntervalMs: 100 })).url;
  });

  async function mountPair(cert: ServerCertificate): Promise<void> {
    await writeSecretVolume(volume, { 'tls.crt': await readFile(cert.certFile), 'tls.key': await readFile(cert.keyFile) });
  }

  function lines(ws: string, from: number, count: number): { text: string; commands: string[] } {
    const commands = Array.from({ length: count }, (_, i) => `${ws} ${from + i}`);
    return { commands, text: commands.map((command, i) => JSON.stringify({ command, exit_code: 0, timestamp: 1763892000 + from + i }) + '\n').join('') };
  }

  async function stored(ws: string): Promise<string[]> {
    return (await db.query('SELECT command FROM command_log WHERE workspace_id = $1 ORDER BY id', [ws])).rows.map((r) => r.command);
  }

  async function metric(shipper: ShipperProcess, pattern: RegExp): Promise<boolean> {
    return pattern.test(await (await fetch(`${shipper.metricsUrl}/metrics`)).text());
  }

  const untrusted = (l: Record<string, unknown>) => l.level === 50 && String(l.msg).includes('NOT TRUSTED') && l.pipeline === 'commands';

  it('ships every line exactly once, row by row, while the receiver\'s certificate is renewed', async () => {
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const file = join(dirs.runtimeDir, 'command-log.jsonl');
    const expected: string[] = [];
    const write = async (from: number, count: number) => {
      const batch = lines('tls-renewal', from, count);
      await appendFile(file, batch.text);
      expected.push(...batch.commands);
    };
    await write(0, 2_000);
    const shipper = await startShipper(shipperEnv(base, dirs, 'tls-renewal', { TLS_CA_FILE: ca.certFile, COMMANDS_BATCH_MAX_EVENTS: '100' }));
    await waitFor(async () => (await stored('tls-renewal')).length > 0, 'the first rows');
    await mountPair(await issue(dir, 'receiver-2', ca));
    await write(2_000, 2_000);
    await waitFor(async () => (await stored('tls-renewal')).length === expected.length, 'every line', 30_000);
    // A shipper started after the renewal meets only the new certificate.
    shipper.child.kill('SIGKILL');
    await shipper.exited;
    await write(4_000, 500);
    const next = await startShipper(shipperEnv(base, dirs, 'tls-renewal', { TLS_CA_FILE: ca.certFile }));
    await waitFor(async () => (await stored('tls-renewal')).length === expected.length, 'the lines written while it was down');
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
    expect(await stored('tls-renewal')).toEqual(expected);
    expect(next.logs.filter(untrusted)).toEqual([]);
  });

  it('a shipper that does not trust the certificate (no CA, then the wrong one) keeps the lines, says so loudly, counts and retries slowly; with the right CA each line arrives once', async () => {
    const dirs = await shipperDirs();
    await mkdir(dirs.runtimeDir, { recursive: true });
    const file = join(dirs.runtimeDir, 'command-log.jsonl');
    const first = lines('tls-refused', 0, 100);
    await writeFile(file, first.text);
    const slowly = { REFUSED_RETRY_DELAY_MS: '300' };

    for (const extra of [{}, { TLS_CA_FILE: otherCa.certFile }] as Array<Record<string, string>>) {
      const shipper = await startShipper(shipperEnv(base, dirs, 'tls-refused', { ...slowly, ...extra }));
      await waitFor(() => shipper.logs.filter(untrusted).length >= 2, 'two loud refusals');
      const [a, b] = shipper.logs.filter(untrusted);
      expect(a).toMatchObject({ pipeline: 'commands', retry_in_ms: 300, reason: expect.stringMatching(/^UNABLE_TO_VERIFY_LEAF_SIGNATURE: /) });
      expect(Date.parse(String(b!.time)) - Date.parse(String(a!.time))).toBeGreaterThanOrEqual(290);
      await waitFor(() => metric(shipper, /ferry_shipper_retries_total\{pipeline="commands",kind="untrusted"\} [2-9]/), 'the refusals counted');
      expect(await metric(shipper, /ferry_shipper_requests_total\{pipeline="commands",status="untrusted"\} [2-9]/)).toBe(true);
      expect(await metric(shipper, /ferry_shipper_lag_bytes\{pipeline="commands"\} [1-9]/)).toBe(true);
      shipper.child.kill('SIGKILL');
      await shipper.exited;
    }
    expect(await stored('tls-refused')).toEqual([]);

    const second = lines('tls-refused', 100, 100);
    await appendFile(file, second.text);
    const right = await startShipper(shipperEnv(base, dirs, 'tls-refused', { ...slowly, TLS_CA_FILE: ca.certFile }));
    await waitFor(async () => (await stored('tls-refused')).length === 200, 'every line');
    right.child.kill('SIGTERM');
    expect((await right.exited).code).toBe(0);
    expect(await stored('tls-refused')).toEqual([...first.commands, ...second.commands]);
  });

  it('trusts NODE_EXTRA_CA_CERTS, which Node reads by itself, with and without TLS_CA_FILE', async () => {
    for (const [ws, extra] of [['tls-extra', {}], ['tls-extra-and-file', { TLS_CA_FILE: otherCa.certFile }]] as const) {
      const dirs = await shipperDirs();
      await mkdir(dirs.runtimeDir, { recursive: true });
      const batch = lines(ws, 0, 10);
      await writeFile(join(dirs.runtimeDir, 'command-log.jsonl'), batch.text);
      const shipper = await startShipper(shipperEnv(base, dirs, ws, { NODE_EXTRA_CA_CERTS: ca.certFile, ...extra }));
      await waitFor(async () => (await stored(ws)).length === 10, `the lines of ${ws}`);
      shipper.child.kill('SIGTERM');
      expect((await shipper.exited).code).toBe(0);
      expect(await stored(ws)).toEqual(batch.commands);
    }
  });
});
