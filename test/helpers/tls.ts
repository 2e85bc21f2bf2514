// Certificates made at test time with Debian's openssl (Node can verify
// certificates but not issue them): a CA, and server certificates it signs,
// valid for 127.0.0.1 and localhost unless said otherwise. P-256 keys: a few
// milliseconds each.

import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { atEnd } from './cleanup.js';

const exec = promisify(execFile);
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function openssl(args: string[]): Promise<void> {
  await exec('openssl', args).catch((err: NodeJS.ErrnoException & { stderr?: string }) => {
    if (err.code === 'ENOENT') throw new Error('openssl is not on PATH: the TLS tests make their certificates with it (Debian package openssl)');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`);
  });
}

/** A folder for certificate files, removed when the file's tests end. */
export async function certificateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tls-test-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestCA {
  /** PEM file of the CA's certificate: what a client trusts. */
  certFile: string;
  keyFile: string;
}

export async function makeCA(dir: string, name: string): Promise<TestCA> {
  const ca = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await openssl(['req', '-x509', ...KEY, '-keyout', ca.keyFile, '-out', ca.certFile, '-days', '2', '-subj', `/CN=${name}`]);
  return ca;
}

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  serial: string;
}

/**
 * A server certificate signed by `ca` (or by its own key when `ca` is
 * 'self-signed'), for `hosts` (IP addresses and DNS names), written to
 * `<name>.crt` and `<name>.key` in `dir`.
 */
export async function issue(dir: string, name: string, ca: TestCA | 'self-signed', hosts = ['127.0.0.1', 'localhost']): Promise<ServerCertificate> {
  const out = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const san = `subjectAltName=${hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',')}`;
  if (ca === 'self-signed') {
    await openssl(['req', '-x509', ...KEY, '-keyout', out.keyFile, '-out', out.certFile, '-days', '1', '-subj', `/CN=${hosts[0]}`, '-addext', san]);
  } else {
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    await writeFile(ext, `${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    await openssl(['req', '-new', ...KEY, '-keyout', out.keyFile, '-out', csr, '-subj', `/CN=${hosts[0]}`]);
    await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x1${randomBytes(8).toString('hex')}`, '-days', '1', '-extfile', ext, '-out', out.certFile]);
  }
  return { ...out, serial: new X509Certificate(await readFile(out.certFile)).serialNumber };
}

export interface TlsAnswer {
  status: number;
  text: string;
  /** Serial number of the certificate the server presented. */
  serial: string;
}

/** One GET on a new connection, trusting only `caFiles`. */
export async function getOverTls(url: string, caFiles: string[], token?: string): Promise<TlsAnswer> {
  const ca = await Promise.all(caFiles.map((f) => readFile(f, 'utf8')));
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, agent: false, headers }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text, serial }));
    });
    req.on('error', reject);
  });
}

let volumeVersion = 0;

/**
 * Writes `files` into `dir` the way the kubelet updates a Secret volume (its
 * atomic writer): a fresh `..<version>` folder, the `..data` link swapped to
 * it by a rename, and each file a link through `..data`. A reader never sees
 * a half-written pair, and the paths never change.
 */
export async function writeSecretVolume(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  const version = `..${Date.now()}_${++volumeVersion}`;
  await mkdir(join(dir, version), { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, version, name), content);
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}
