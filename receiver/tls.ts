// HTTPS for the receiver: the certificate and its key come from files, are
// checked at startup (a bad pair stops the program, naming the variable), and
// are read again on a timer, because cert-manager renews them in place: the
// kubelet swaps a Secret volume's `..data` link, so the same paths suddenly
// hold a new pair. A renewal that does not check out leaves the old pair in
// service; it is reported, and tried again when the files change once more.

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../shared/env.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** What is served: for the logs and the expiry metric. */
export interface CertificateInfo {
  serial: string;
  subject: string;
  notAfter: Date;
}

/** The pair's files from the configuration: undefined for plain HTTP; one without the other is a configuration error. */
export function tlsFiles(c: { tlsCertFile?: string; tlsKeyFile?: string }): TlsFiles | undefined {
  if (!c.tlsCertFile && !c.tlsKeyFile) return undefined;
  if (!c.tlsKeyFile) throw new ConfigError('TLS_KEY_FILE', 'with TLS_CERT_FILE: the private key of its certificate', undefined);
  if (!c.tlsCertFile) throw new ConfigError('TLS_CERT_FILE', 'with TLS_KEY_FILE: the certificate of that key', undefined);
  return { certFile: c.tlsCertFile, keyFile: c.tlsKeyFile };
}

/** Checks that the pair can be served; throws a ConfigError naming the file at fault. */
export function checkPair(files: TlsFiles, pair: KeyPair): CertificateInfo {
  const problem = (variable: string, path: string, expected: string, err: unknown) =>
    new ConfigError(variable, expected, `${path} (${(err as Error).message})`);
  let cert: X509Certificate;
  try {
    // The first certificate of the file is the server's; intermediates follow it.
    cert = new X509Certificate(pair.cert);
  } catch (err) {
    throw problem('TLS_CERT_FILE', files.certFile, 'a PEM certificate (chain)', err);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pair.key));
  } catch (err) {
    throw problem('TLS_KEY_FILE', files.keyFile, 'a PEM private key', err);
  }
  if (!matches) throw problem('TLS_KEY_FILE', files.keyFile, `the private key of the certificate in ${files.certFile}`, new Error('a key that does not match it'));
  try {
    createSecureContext(pair);
  } catch (err) {
    throw problem('TLS_CERT_FILE', files.certFile, 'a certificate chain OpenSSL accepts', err);
  }
  return { serial: cert.serialNumber, subject: cert.subject, notAfter: new Date(cert.validTo) };
}

/** Startup: reads and checks the pair, synchronously; throws a ConfigError naming the variable. */
export function loadPair(files: TlsFiles): { pair: KeyPair; info: CertificateInfo } {
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(variable, 'a readable file', `${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const pair = { cert: read('TLS_CERT_FILE', files.certFile), key: read('TLS_KEY_FILE', files.keyFile) };
  return { pair, info: checkPair(files, pair) };
}

export interface RenewalHandlers {
  /** A new, checked pair: serve it from now on. */
  onRenewed(pair: KeyPair, info: CertificateInfo): void;
  /** The files changed (or cannot be read) and the pair does not check out: the old one stays. */
  onFailed(err: unknown): void;
}

/**
 * Reads both files every `intervalMs` and compares them with what is served:
 * two small reads, cheaper than reasoning about symlink swaps and inotify
 * events on a Secret volume, and a renewal is never urgent (cert-manager
 * renews weeks before expiry). Returns the function that stops it.
 */
export function watchPair(files: TlsFiles, served: KeyPair, intervalMs: number, on: RenewalHandlers): () => void {
  let current = served;
  // A broken state is reported once, not at every look.
  let lastFailure: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const fail = (signature: string, err: unknown) => {
    if (signature === lastFailure) return;
    lastFailure = signature;
    on.onFailed(err);
  };

  async function look(): Promise<void> {
    let pair: KeyPair;
    try {
      pair = { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
    } catch (err) {
      fail(`read: ${(err as Error).message}`, err);
      return;
    }
    if (pair.cert.equals(current.cert) && pair.key.equals(current.key)) {
      lastFailure = undefined;
      return;
    }
    let info: CertificateInfo;
    try {
      info = checkPair(files, pair);
    } catch (err) {
      fail(createHash('sha256').update(pair.cert).update(pair.key).digest('hex'), err);
      return;
    }
    current = pair;
    lastFailure = undefined;
    on.onRenewed(pair, info);
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void look().finally(schedule), intervalMs);
    timer.unref();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
