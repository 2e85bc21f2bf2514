// Admission of an ingest body, between its credentials (access.ts) and its
// first byte: the workspace's byte rate (429) and the replica's memory budget
// (503), both answered with Retry-After while the body is still unread. The
// body is then read against the lease it was given (body.ts), and the lease
// is returned when the request is answered, whether the client still listens
// or not: a request whose client hung up keeps its share while it is loaded.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { tenantOf } from '../access.js';
import { readBody } from '../body.js';
import { RequestError } from '../errors.js';
import type { Lease, MemoryBudget } from './memory-budget.js';
import type { WorkspaceRate } from './workspace-rate.js';

/** What a gzip or chunked body holds before its first bytes are counted. */
const UNKNOWN_LENGTH_LEASE = 64 * 1024;
/** How long a client is told to wait when the budget is full: requests are answered within seconds. */
const BUDGET_RETRY_AFTER_SECONDS = 2;

export type Limit = 'workspace_rate' | 'memory';

export interface AdmissionDeps {
  budget: MemoryBudget;
  /** Undefined: no per-workspace limit. */
  rate: WorkspaceRate | undefined;
  requestTimeoutMs: number;
  onLimited(route: string, limit: Limit): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    lease?: Lease;
  }
}

function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Bytes the body will hold as read: its Content-Length, unless it is encoded or chunked (0: unknown). */
function declaredBytes(raw: IncomingMessage): number {
  const identity = (raw.headers['content-encoding'] ?? 'identity').trim().toLowerCase() === 'identity';
  const length = Number(raw.headers['content-length']);
  return identity && raw.headers['transfer-encoding'] === undefined && Number.isSafeInteger(length) && length > 0 ? length : 0;
}

export function admitBodies(app: FastifyInstance, deps: AdmissionDeps): void {
  app.decorateRequest('lease', undefined);

  app.addHook('preParsing', async (req) => {
    if (req.routeOptions.config.access !== 'ingest' || !hasBody(req.raw)) return;
    const route = req.routeOptions.url ?? 'unmatched';
    const declared = Math.min(declaredBytes(req.raw), req.routeOptions.bodyLimit);
    const tenant = tenantOf(req);
    if (deps.rate && tenant !== undefined) {
      const admitted = deps.rate.admit(tenant, declared);
      if (!admitted.ok) {
        deps.onLimited(route, 'workspace_rate');
        const seconds = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
        throw new RequestError('rate_limited', `workspace ${tenant} is over its ingest rate (WORKSPACE_RATE_BYTES) on this replica; retry in ${seconds} s`, { limit: 'workspace_rate', retry_after_seconds: seconds }, seconds);
      }
    }
    req.lease = deps.budget.lease(declared || UNKNOWN_LENGTH_LEASE);
    if (!req.lease) {
      // Refused unread: what it was admitted for is given back to its workspace.
      if (deps.rate && tenant !== undefined) deps.rate.charge(tenant, -declared);
      deps.onLimited(route, 'memory');
      throw overloaded();
    }
  });

  app.addContentTypeParser('*', async (req: FastifyRequest) => {
    const body = await readBody(req.raw, { limit: req.routeOptions.bodyLimit, timeoutMs: deps.requestTimeoutMs, lease: req.lease, overloaded });
    const tenant = req.routeOptions.config.access === 'ingest' ? tenantOf(req) : undefined;
    const unmetered = body.length - declaredBytes(req.raw);
    if (deps.rate && tenant !== undefined && unmetered > 0) deps.rate.charge(tenant, unmetered);
    return body;
  });

  // onSend runs for every answer, also when the client has gone; onResponse does not.
  const release = async (req: FastifyRequest) => req.lease?.release();
  app.addHook('onSend', release);
  app.addHook('onResponse', release);
}

function overloaded(): RequestError {
  return new RequestError('overloaded', 'this replica holds as many request bodies as INGEST_MEMORY_BYTES allows; retry later', { limit: 'memory' }, BUDGET_RETRY_AFTER_SECONDS);
}
