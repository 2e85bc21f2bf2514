// Bearer tokens. Ingest accepts the shared INGEST_TOKEN, or a per-workspace
// token `fw1.<workspace id, base64url>.<HMAC-SHA256(secret, workspace id), base64url>`
// that may write only its own workspace. Dashboard reads take READ_TOKEN (as a
// bearer token, the live page's cookie or ?token=), and no token works on the
// other side.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RequestError } from './errors.js';

const WORKSPACE_TOKEN_PREFIX = 'fw1.';

export interface AuthConfig {
  ingestToken?: string;
  ingestTokenSecret?: string;
  readToken?: string;
}

/** Who a valid ingest token speaks for: every workspace, or one. */
export type IngestGrant = { scope: 'all' } | { scope: 'workspace'; workspaceId: string };

export interface Auth {
  /** Throws 401 unless the header holds a valid ingest token. */
  ingest(authorization: string | undefined): IngestGrant;
  /** Throws 401 unless the header (or the page's token) holds the read token. */
  read(token: string | undefined): void;
}

function mac(secret: string, workspaceId: string): Buffer {
  return createHmac('sha256', secret).update(workspaceId, 'utf8').digest();
}

/** Comparing digests keeps the comparison constant-time whatever the lengths. */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function mintWorkspaceToken(secret: string, workspaceId: string): string {
  return `${WORKSPACE_TOKEN_PREFIX}${Buffer.from(workspaceId, 'utf8').toString('base64url')}.${mac(secret, workspaceId).toString('base64url')}`;
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

export function createAuth(config: AuthConfig): Auth {
  const unauthorized = (why: string) => new RequestError('unauthorized', why);

  function workspaceGrant(token: string): IngestGrant | undefined {
    if (!config.ingestTokenSecret || !token.startsWith(WORKSPACE_TOKEN_PREFIX)) return undefined;
    const [encodedId, encodedMac] = token.slice(WORKSPACE_TOKEN_PREFIX.length).split('.');
    if (!encodedId || !encodedMac) return undefined;
    const workspaceId = Buffer.from(encodedId, 'base64url').toString('utf8');
    const expected = mac(config.ingestTokenSecret, workspaceId);
    const given = Buffer.from(encodedMac, 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) ? { scope: 'workspace', workspaceId } : undefined;
  }

  return {
    ingest(authorization) {
      const token = bearer(authorization);
      if (!token) throw unauthorized('an ingest bearer token is required');
      if (config.ingestToken && sameSecret(token, config.ingestToken)) return { scope: 'all' };
      const grant = workspaceGrant(token);
      if (!grant) throw unauthorized('the bearer token is not a valid ingest token');
      return grant;
    },
    read(token) {
      if (!config.readToken) throw unauthorized('reads are disabled: READ_TOKEN is not set');
      if (!token || !sameSecret(token, config.readToken)) throw unauthorized('a valid read token is required');
    },
  };
}

/** Throws 403 when a per-workspace grant is used for another workspace. */
export function assertMayWrite(grant: IngestGrant, workspaceId: string): void {
  if (grant.scope === 'workspace' && grant.workspaceId !== workspaceId) {
    throw new RequestError('forbidden', 'this token may write only its own workspace');
  }
}
