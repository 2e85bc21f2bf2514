// The HTTP server: body reading, routing, and one error handler that turns
// every failure into the catalogue's JSON answer.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { readBody } from './body.js';
import { REQUEST_ERRORS, RequestError } from './errors.js';
import { isDatabaseUnavailable } from './db/pool.js';
import type { RouteContext } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { offsetRoutes } from './routes/offsets.js';
import { pageRoutes } from './routes/page.js';
import { readApiRoutes } from './routes/read-api.js';
import { recordingReadRoutes } from './routes/recording-read.js';
import { recordingRoutes } from './routes/recordings.js';
import { rejectRoutes } from './routes/rejects.js';
import { streamRoutes } from './routes/stream.js';
import type { KeyPair } from './tls.js';

/** Seconds a client should wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = 2;

export interface ServerOptions {
  requestTimeoutMs: number;
  registry: Registry;
  s3: Parameters<typeof recordingReadRoutes>[2];
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

export function createServer(ctx: RouteContext, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    requestTimeout: options.requestTimeoutMs,
    return503OnClosing: true,
    https: options.https ?? null,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (req: { raw: Parameters<typeof readBody>[0] }) => readBody(req.raw, ctx.config.maxBodyBytes, options.requestTimeoutMs));

  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/ingest/') && req.method !== 'HEAD') {
      if (ctx.state.shuttingDown) throw new RequestError('not_ready', 'the receiver is shutting down');
      if (!ctx.state.migrated) throw new RequestError('not_ready', 'the receiver is starting (database schema not ready yet)');
    }
  });
  // While stopping, answers close their connection, so keep-alive clients do not hold the exit up.
  app.addHook('onSend', async (_req, reply) => {
    if (ctx.state.shuttingDown) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    ctx.events.onRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err, _req, reply) => {
    const e = toRequestError(err);
    ctx.events.onRequestFailed(e.code, e.status, e.code === 'internal' ? err : e);
    if (e.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    // The rest of a late body may still be coming: nothing more is read from this connection.
    if (e.code === 'request_timeout') reply.header('connection', 'close');
    return reply.code(e.status).send({ error: e.code, message: e.message, ...e.extra });
  });
  app.setNotFoundHandler(async (req, reply) => {
    return reply.code(REQUEST_ERRORS.not_found.status).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  ingestRoutes(app, ctx);
  rejectRoutes(app, ctx);
  recordingRoutes(app, ctx);
  recordingReadRoutes(app, ctx, options.s3);
  streamRoutes(app, ctx);
  readApiRoutes(app, ctx);
  pageRoutes(app, ctx);
  offsetRoutes(app, ctx);
  healthRoutes(app, ctx, options.registry);
  return app;
}
