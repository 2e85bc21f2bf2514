// Bearer tokens. Ingest accepts the shared INGEST_TOKEN, or a per-workspace
// token that may write only its own workspace:
//   fw2.<key id>.<workspace id, base64url>.<HMAC-SHA256(secret, workspace id), base64url>
// where the key id names the INGEST_TOKEN_SECRET that signed it (a
// fingerprint of the secret, so it needs no setting of its own), and the
// older `fw1.<workspace id>.<mac>`, which names none and is tried with each.
// Dashboard reads take READ_TOKEN (as a bearer token, the live page's cookie
// or ?token=), and no token works on the other side. Each credential has a
// current and a previous value (shared/credential.ts): during a rotation both
// are accepted, so nobody holding either gets a 401.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { LiveCredential } from '../shared/credential.js';
import { RequestError } from './errors.js';

const WORKSPACE_TOKEN_V1 = 'fw1.';
const WORKSPACE_TOKEN_V2 = 'fw2.';

export interface AuthCredentials {
  ingestToken?: LiveCredential;
  ingestTokenSecret?: LiveCredential;
  readToken?: LiveCredential;
}

/** Who a valid ingest token speaks for: every workspace, or one. */
export type IngestGrant = { scope: 'all' } | { scope: 'workspace'; workspaceId: string };

export interface Auth {
  /** Throws 401 unless the header holds a valid ingest token. */
  ingest(authorization: string | undefined): IngestGrant;
  /** Throws 401 unless the header (or the page's token) holds the read token. */
  read(token: string | undefined): void;
}

/** A request authenticated with a credential's previous value: the rotation is not done while these come. */
export type OnPreviousUsed = (credential: string) => void;

function mac(secret: string, workspaceId: string): Buffer {
  return createHmac('sha256', secret).update(workspaceId, 'utf8').digest();
}

/** The key id of a token secret: a short fingerprint, which says which secret signed a token and nothing about the secret. */
export function keyId(secret: string): string {
  return createHash('sha256').update('ferry-token-key-id\0').update(secret).digest('base64url').slice(0, 8);
}

/** Comparing digests keeps the comparison constant-time whatever the lengths. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function mintWorkspaceToken(secret: string, workspaceId: string): string {
  return `${WORKSPACE_TOKEN_V2}${keyId(secret)}.${Buffer.from(workspaceId, 'utf8').toString('base64url')}.${mac(secret, workspaceId).toString('base64url')}`;
}

/** The token format before key ids, still accepted. */
export function mintWorkspaceTokenV1(secret: string, workspaceId: string): string {
  return `${WORKSPACE_TOKEN_V1}${Buffer.from(workspaceId, 'utf8').toString('base64url')}.${mac(secret, workspaceId).toString('base64url')}`;
}

export function bearer(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m?.[1];
}

/** The cookie the live page keeps the read token in (its EventSource cannot send headers). */
export const READ_TOKEN_COOKIE = 'ferry_read_token';

/** A cookie's value; one that is not valid percent-encoding is no value at all. */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Dashboards send the read token as a bearer token, as the page's cookie, or as ?token= where neither can be set (an EventSource elsewhere). */
export function readTokenOf(req: { headers: { authorization?: string; cookie?: string }; query: unknown }): string | undefined {
  const query = (req.query as Record<string, unknown> | undefined)?.token;
  return bearer(req.headers.authorization) ?? cookie(req.headers.cookie, READ_TOKEN_COOKIE) ?? (typeof query === 'string' ? query : undefined);
}

/** Which of a credential's values the token is: `previous` counts towards the rotation metric. */
function matchValue(token: string, credential: LiveCredential | undefined): 'current' | 'previous' | undefined {
  if (!credential) return undefined;
  const current = credential.current();
  if (current !== undefined && sameSecret(token, current)) return 'current';
  const previous = credential.previous();
  return previous !== undefined && sameSecret(token, previous) ? 'previous' : undefined;
}

export function createAuth(credentials: AuthCredentials, onPrevious: OnPreviousUsed = () => {}): Auth {
  const unauthorized = (why: string) => new RequestError('unauthorized', why);

  /** The secrets a workspace token may be signed with: the one its key id names, or (fw1) each. */
  function secretsFor(kid: string | undefined): Array<{ secret: string; previous: boolean }> {
    const c = credentials.ingestTokenSecret;
    const all = [{ secret: c?.current(), previous: false }, { secret: c?.previous(), previous: true }]
      .filter((s): s is { secret: string; previous: boolean } => s.secret !== undefined);
    return kid === undefined ? all : all.filter((s) => keyId(s.secret) === kid);
  }

  function workspaceGrant(token: string): IngestGrant | undefined {
    let parts: string[];
    let kid: string | undefined;
    if (token.startsWith(WORKSPACE_TOKEN_V2)) {
      [kid = '', ...parts] = token.slice(WORKSPACE_TOKEN_V2.length).split('.');
    } else if (token.startsWith(WORKSPACE_TOKEN_V1)) {
      parts = token.slice(WORKSPACE_TOKEN_V1.length).split('.');
    } else {
      return undefined;
    }
    const [encodedId, encodedMac] = parts;
    if (!encodedId || !encodedMac || parts.length !== 2) return undefined;
    const workspaceId = Buffer.from(encodedId, 'base64url').toString('utf8');
    const given = Buffer.from(encodedMac, 'base64url');
    for (const { secret, previous } of secretsFor(kid)) {
      const expected = mac(secret, workspaceId);
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        if (previous) onPrevious('INGEST_TOKEN_SECRET');
        return { scope: 'workspace', workspaceId };
      }
    }
    return undefined;
  }

  return {
    ingest(authorization) {
      const token = bearer(authorization);
      if (!token) throw unauthorized('an ingest bearer token is required');
      const shared = matchValue(token, credentials.ingestToken);
      if (shared) {
        if (shared === 'previous') onPrevious('INGEST_TOKEN');
        return { scope: 'all' };
      }
      const grant = workspaceGrant(token);
      if (!grant) throw unauthorized('the bearer token is not a valid ingest token');
      return grant;
    },
    read(token) {
      if (!credentials.readToken?.current()) throw unauthorized('reads are disabled: READ_TOKEN is not set');
      const which = token === undefined ? undefined : matchValue(token, credentials.readToken);
      if (!which) throw unauthorized('a valid read token is required');
      if (which === 'previous') onPrevious('READ_TOKEN');
    },
  };
}

/** Throws 403 when a per-workspace grant is used for another workspace. */
export function assertMayWrite(grant: IngestGrant, workspaceId: string): void {
  if (grant.scope === 'workspace' && grant.workspaceId !== workspaceId) {
    throw new RequestError('forbidden', 'this token may write only its own workspace');
  }
}
