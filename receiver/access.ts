// Who may call a route is part of the route: each one declares
// `config: { access }` where it is defined, and one onRequest hook decides on
// the route the router matched. Nothing here reads the raw URL: `/%61pi/...`
// differs from `/api/...` to a string compare, not to the router. A route that
// declares no access is refused when it is added, so nothing is open by
// omission. Ingest credentials, and the workspace they may write, are checked
// from the headers, before a byte of the body is read.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HEADERS } from '../shared/wire.js';
import { assertMayWrite, readTokenOf, type Auth, type IngestGrant } from './auth.js';
import { RequestError } from './errors.js';
import { idHeader } from './request.js';

/** public: anyone (health, metrics, the page's shell); ingest: an ingest token; read: the read token. */
export const ACCESS = ['public', 'ingest', 'read'] as const;
export type Access = (typeof ACCESS)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** Set on ingest routes: whom the token speaks for. */
    grant?: IngestGrant;
  }
}

export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

function isAccess(v: unknown): v is Access {
  return (ACCESS as readonly unknown[]).includes(v);
}

/** Installs the check. The returned table fills as routes are added: every route with what it needs. */
export function enforceAccess(app: FastifyInstance, auth: Auth): RouteAccess[] {
  const table: RouteAccess[] = [];
  app.decorateRequest('grant', undefined);
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: unknown } | undefined)?.access;
    if (!isAccess(access)) throw new Error(`route ${String(route.method)} ${route.url} declares no access: give it config.access (${ACCESS.join(', ')})`);
    for (const method of [route.method].flat()) table.push({ method, url: route.url, access });
  });
  app.addHook('onRequest', async (req) => {
    // Unmatched requests are answered here too, so that their bodies are never read.
    if (req.is404) throw new RequestError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
    const access = req.routeOptions.config.access;
    if (access === 'read') auth.read(readTokenOf(req));
    if (access === 'ingest') {
      req.grant = auth.ingest(req.headers.authorization);
      const workspace = idHeader(req.headers, HEADERS.workspaceId, false);
      if (workspace !== undefined) assertMayWrite(req.grant, workspace);
    }
  });
  return table;
}

/** The grant of a request on an ingest route (the access hook set it). */
export function grantOf(req: FastifyRequest): IngestGrant {
  if (!req.grant) throw new Error(`${req.method} ${req.routeOptions.url} needs a grant but does not declare access 'ingest'`);
  return req.grant;
}

/** The workspace a request writes, as far as its headers and token say (undefined: a shared-token body naming its own). */
export function tenantOf(req: FastifyRequest): string | undefined {
  const grant = grantOf(req);
  return idHeader(req.headers, HEADERS.workspaceId, false) ?? (grant.scope === 'workspace' ? grant.workspaceId : undefined);
}
