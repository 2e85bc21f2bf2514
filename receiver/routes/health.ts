// /healthz: the process is alive. /readyz: it can take traffic (schema
// migrated, database answering, not shutting down). /metrics: Prometheus.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { RouteContext } from './context.js';

/** The longest /readyz waits for PostgreSQL (the Deployment's readiness probe waits longer). */
export const PING_TIMEOUT_MS = 2_000;

async function databaseAnswers(ctx: RouteContext): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS); });
  const ping = ctx.pool.query('SELECT 1').then(() => true, () => false);
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: FastifyInstance, ctx: RouteContext, registry: Registry): void {
  app.get('/healthz', { config: { access: 'public' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { access: 'public' } }, async (_req, reply) => {
    const checks = {
      migrated: ctx.state.migrated,
      accepting: !ctx.state.shuttingDown,
      database: await databaseAnswers(ctx),
    };
    const ready = checks.migrated && checks.accepting && checks.database;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', { config: { access: 'public' } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
