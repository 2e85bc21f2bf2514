// The HTTP server: every route with the access it declares (access.ts), the
// admission of bodies (limits/admission.ts), and one error handler that turns
// every failure into the catalogue's JSON answer.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { enforceAccess, type RouteAccess } from './access.js';
import { REQUEST_ERRORS, RequestError } from './errors.js';
import { isDatabaseUnavailable } from './db/pool.js';
import { continueWhenRead } from './expect-continue.js';
import { admitBodies } from './limits/admission.js';
import type { MemoryBudget } from './limits/memory-budget.js';
import type { WorkspaceRate } from './limits/workspace-rate.js';
import type { RouteContext } from './routes/context.js';
import { drainRoutes } from './routes/drains.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { offsetRoutes } from './routes/offsets.js';
import { pageRoutes } from './routes/page.js';
import { readApiRoutes } from './routes/read-api.js';
import { recordingReadRoutes } from './routes/recording-read.js';
import { recordingRoutes } from './routes/recordings.js';
import { recordingUploadRoutes } from './routes/recording-uploads.js';
import { recordingStores, type S3Config } from './recording/stores.js';
import { rejectRoutes } from './routes/rejects.js';
import { streamRoutes } from './routes/stream.js';
import { SECURITY_HEADERS } from './security-headers.js';
import type { KeyPair } from './tls.js';

/** Seconds a client should wait before retrying after a 503 that names no wait of its own. */
const RETRY_AFTER_SECONDS = 2;

export interface ServerOptions {
  requestTimeoutMs: number;
  registry: Registry;
  s3: S3Config;
  budget: MemoryBudget;
  rate: WorkspaceRate | undefined;
  /** fastify's trustProxy: whose X-Forwarded-* headers count (unset: nobody's). */
  trustProxy: string | undefined;
  /** Serve HTTPS with this pair (receiver/tls.ts renews it through `server.setSecureContext`). */
  https?: KeyPair;
}

function toRequestError(err: unknown): RequestError {
  if (err instanceof RequestError) return err;
  if (isDatabaseUnavailable(err)) return new RequestError('database_unavailable', 'PostgreSQL is unavailable; retry later');
  const code = (err as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new RequestError('body_too_large', (err as Error).message);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new RequestError('unsupported_media_type', (err as Error).message);
  const status = (err as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) return new RequestError('bad_body', (err as Error).message);
  return new RequestError('internal', 'internal error; nothing was stored');
}

export function createServer(ctx: RouteContext, options: ServerOptions): { app: FastifyInstance; routes: RouteAccess[] } {
  const app = Fastify({
    logger: false,
    requestTimeout: options.requestTimeoutMs,
    return503OnClosing: true,
    // HEAD is answered where a route says so (Vector's health check), not by running GET handlers that stream.
    exposeHeadRoutes: false,
    bodyLimit: ctx.config.maxBodyBytes,
    trustProxy: options.trustProxy ?? false,
    https: options.https ?? null,
  });
  continueWhenRead(app.server);

  // First: who may call the matched route; then whether this replica takes it; then its body.
  const routes = enforceAccess(app, ctx.auth);
  app.addHook('onRequest', async (req) => {
    const access = req.routeOptions.config.access;
    if (access === 'public') return;
    if (access === 'ingest' && ctx.state.shuttingDown) throw new RequestError('not_ready', 'the receiver is shutting down');
    if (!ctx.state.migrated) throw new RequestError('not_ready', 'the receiver is starting (database schema not ready yet)');
    // Known down: answered now, before the body is read, rather than after a connection timeout.
    if (!ctx.database.up()) throw new RequestError('database_unavailable', 'PostgreSQL does not answer this replica; retry later');
  });
  app.removeAllContentTypeParsers();
  admitBodies(app, {
    budget: options.budget,
    rate: options.rate,
    requestTimeoutMs: options.requestTimeoutMs,
    onLimited: (route, limit) => ctx.events.onLimited(route, limit),
  });

  app.addHook('onSend', async (req, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
    // While stopping, answers close their connection, so keep-alive clients do not hold the exit up;
    // an answer given before the body was read closes it too, so the unread body is never taken.
    if (ctx.state.shuttingDown || !req.raw.complete) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    ctx.events.onRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err, _req, reply) => {
    const e = toRequestError(err);
    ctx.events.onRequestFailed(e.code, e.status, e.code === 'internal' ? err : e);
    const wait = e.retryAfterSeconds ?? (e.status === 503 ? RETRY_AFTER_SECONDS : undefined);
    if (wait !== undefined) reply.header('retry-after', String(wait));
    return reply.code(e.status).send({ error: e.code, message: e.message, ...e.extra });
  });
  app.setNotFoundHandler(async (req, reply) => {
    return reply.code(REQUEST_ERRORS.not_found.status).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  ingestRoutes(app, ctx);
  rejectRoutes(app, ctx);
  recordingRoutes(app, ctx);
  const stores = recordingStores(options.s3);
  recordingUploadRoutes(app, ctx, stores);
  recordingReadRoutes(app, ctx, stores);
  streamRoutes(app, ctx);
  readApiRoutes(app, ctx);
  pageRoutes(app, ctx);
  offsetRoutes(app, ctx);
  drainRoutes(app, ctx);
  healthRoutes(app, ctx, options.registry);
  return { app, routes };
}
