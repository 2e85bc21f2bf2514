// HTTPS: with TLS_CERT_FILE and TLS_KEY_FILE the receiver serves everything
// (ingest, reads, /metrics and the probes) over TLS on its one port, picks up
// a renewed pair from the same paths without a restart, keeps the old pair
// when a renewal is broken, and refuses to start on a bad configuration.

import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/database.js';
import { RECEIVER_BIN, run } from '../helpers/process.js';
import { INGEST_TOKEN, startTestReceiver } from '../helpers/receiver.js';
import { certificateDir, getOverTls, issue, makeCA, writeSecretVolume, type ServerCertificate, type TestCA } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

let databaseUrl: string;
let dir: string;
let ca: TestCA;

beforeAll(async () => {
  databaseUrl = await freshDatabase();
  dir = await certificateDir();
  ca = await makeCA(dir, 'ca');
});

/** The pair as a Secret volume mounts it: `<volume>/tls.crt` and `<volume>/tls.key`. */
async function mount(volume: string, cert: ServerCertificate, key: ServerCertificate = cert): Promise<void> {
  await writeSecretVolume(volume, { 'tls.crt': await readFile(cert.certFile), 'tls.key': await readFile(key.keyFile) });
}

async function expirySeconds(cert: ServerCertificate): Promise<number> {
  return new Date(new X509Certificate(await readFile(cert.certFile)).validTo).getTime() / 1000;
}

describe('serving HTTPS', () => {
  it('serves ingest, /healthz, /readyz and /metrics over TLS on its one port, and says https in its URL', async () => {
    const cert = await issue(dir, 'serving', ca);
    const receiver = await startTestReceiver(databaseUrl, { tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile });
    expect(receiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (const path of ['/healthz', '/readyz', '/metrics', '/ingest/offsets?workspace_id=nobody']) {
      const answer = await getOverTls(`${receiver.url}${path}`, [ca.certFile], INGEST_TOKEN);
      expect(answer.status, path).toBe(200);
      expect(answer.serial, path).toBe(cert.serial);
    }
    const metrics = (await getOverTls(`${receiver.url}/metrics`, [ca.certFile])).text;
    expect(metrics).toContain(`ferry_receiver_tls_certificate_expiry_timestamp_seconds{serial="${cert.serial}"} ${await expirySeconds(cert)}`);
    // From 0, so that the alerts' increase() sees the first renewal and the first failure.
    expect(metrics).toContain('ferry_receiver_tls_certificate_renewals_total{outcome="renewed"} 0');
    expect(metrics).toContain('ferry_receiver_tls_certificate_renewals_total{outcome="failed"} 0');
    // Plain HTTP on the port gets no answer.
    await expect(fetch(`${receiver.url.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
  });

  it('picks up a renewed pair from the same paths without a restart; a broken renewal leaves the old pair in service', async () => {
    const volume = join(dir, 'volume');
    await mkdir(volume);
    const first = await issue(dir, 'first', ca);
    await mount(volume, first);
    const receiver = await startTestReceiver(databaseUrl, { tlsCertFile: join(volume, 'tls.crt'), tlsKeyFile: join(volume, 'tls.key'), tlsReloadIntervalMs: 100 });
    const served = async (cas: TestCA[]) => (await getOverTls(`${receiver.url}/healthz`, cas.map((c) => c.certFile))).serial;
    const metrics = async (cas: TestCA[]) => (await getOverTls(`${receiver.url}/metrics`, cas.map((c) => c.certFile))).text;
    expect(await served([ca])).toBe(first.serial);

    // cert-manager's renewal: a new key and serial from the same issuer.
    const second = await issue(dir, 'second', ca);
    await mount(volume, second);
    await waitFor(async () => (await served([ca])) === second.serial, 'the renewed certificate on a new connection');

    // A pair that does not belong together is not served: the second stays.
    const third = await issue(dir, 'third', ca);
    await mount(volume, third, second);
    await waitFor(async () => (await metrics([ca])).includes('ferry_receiver_tls_certificate_renewals_total{outcome="failed"} 1'), 'the failed renewal counted');
    expect(await served([ca])).toBe(second.serial);

    // The issuer changed: a pair from another CA, served once it is complete.
    const otherCa = await makeCA(dir, 'other-ca');
    const fourth = await issue(dir, 'fourth', otherCa);
    await mount(volume, fourth);
    await waitFor(async () => (await served([ca, otherCa])) === fourth.serial, 'the certificate of the new issuer');
    const page = await metrics([otherCa]);
    expect(page).toContain('ferry_receiver_tls_certificate_renewals_total{outcome="renewed"} 2');
    expect(page).toContain('ferry_receiver_tls_certificate_renewals_total{outcome="failed"} 1');
    expect(page.match(/^ferry_receiver_tls_certificate_expiry_timestamp_seconds\{.*$/gm)).toEqual([
      `ferry_receiver_tls_certificate_expiry_timestamp_seconds{serial="${fourth.serial}"} ${await expirySeconds(fourth)}`,
    ]);
  });
});

describe('configuration', () => {
  it('one file of the pair alone, an unreadable file, or a pair that is not one: one line naming the variable, exit 2', async () => {
    const cert = await issue(dir, 'config', ca);
    const other = await issue(dir, 'config-other', ca);
    const notPem = fileURLToPath(import.meta.url);
    const cases: Array<[Record<string, string>, string]> = [
      [{ TLS_CERT_FILE: cert.certFile }, 'TLS_KEY_FILE is required (with TLS_CERT_FILE'],
      [{ TLS_KEY_FILE: cert.keyFile }, 'TLS_CERT_FILE is required (with TLS_KEY_FILE'],
      [{ TLS_CERT_FILE: join(dir, 'missing.crt'), TLS_KEY_FILE: cert.keyFile }, `TLS_CERT_FILE must be a readable file, got "${join(dir, 'missing.crt')} (ENOENT)"`],
      [{ TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: join(dir, 'missing.key') }, `TLS_KEY_FILE must be a readable file, got "${join(dir, 'missing.key')} (ENOENT)"`],
      [{ TLS_CERT_FILE: notPem, TLS_KEY_FILE: cert.keyFile }, 'TLS_CERT_FILE must be a PEM certificate (chain)'],
      [{ TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: notPem }, 'TLS_KEY_FILE must be a PEM private key'],
      [{ TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: other.keyFile }, `TLS_KEY_FILE must be the private key of the certificate in ${cert.certFile}`],
    ];
    const outcomes = await Promise.all(cases.map(([env]) => run(RECEIVER_BIN, [], { DATABASE_URL: 'postgres://127.0.0.1:1/none', INGEST_TOKEN, HOST: '127.0.0.1', PORT: '0', ...env })));
    outcomes.forEach((out, i) => {
      const [env, message] = cases[i]!;
      expect(out.code, JSON.stringify(env)).toBe(2);
      expect(out.stderr.trim().split('\n'), JSON.stringify(env)).toHaveLength(1);
      expect(out.stderr, JSON.stringify(env)).toContain(message);
      expect(out.stdout).toBe('');
    });
  });
});
