// Which certificate authorities the shipper trusts for an https:// receiver:
// the ones Node trusts by itself (its bundled Mozilla store, plus the file in
// NODE_EXTRA_CA_CERTS, which Node reads at startup) and those in TLS_CA_FILE.
// Node's `ca` option replaces its store rather than adding to it, so with a
// TLS_CA_FILE the store is listed here again.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../../shared/env.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Node 22.15+ tells what it trusts by default (NODE_EXTRA_CA_CERTS and --use-system-ca included); older Node only its bundled store. */
type NodeTls = typeof tls & { getCACertificates?: (type: 'default') => string[] };

function nodeStore(): string[] {
  const t = tls as NodeTls;
  if (t.getCACertificates) return t.getCACertificates('default');
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  let extraCerts: string[] = [];
  // Node has read (or warned about) this file already; it is only read again to keep it.
  try {
    if (extra) extraCerts = readFileSync(extra, 'utf8').match(PEM_CERTIFICATE) ?? [];
  } catch {
    /* Node warned at startup and goes on without it: so does the shipper */
  }
  return [...tls.rootCertificates, ...extraCerts];
}

/** The CA list for the https agent, or throws a ConfigError naming TLS_CA_FILE. */
export function trustedCAs(caFile: string): string[] {
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new ConfigError('TLS_CA_FILE', 'a readable PEM file of CA certificates', `${caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const certs = text.match(PEM_CERTIFICATE) ?? [];
  if (certs.length === 0) throw new ConfigError('TLS_CA_FILE', 'a PEM file of CA certificates', `${caFile} (no certificate in it)`);
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new ConfigError('TLS_CA_FILE', 'a PEM file of CA certificates', `${caFile} (${(err as Error).message})`);
    }
  }
  return [...nodeStore(), ...certs];
}
