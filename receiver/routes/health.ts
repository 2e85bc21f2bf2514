// /healthz: the process is alive. /readyz: this replica can take traffic
// (schema migrated, not shutting down, and its own probe of the database
// answered lately), judged from its own state: it never waits on the pool
// that COPYs keep busy, so a saturated pool leaves every replica ready.
// /metrics: Prometheus.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { throttleRenders } from '../limits/render-rate.js';
import type { RouteContext } from './context.js';

/** Prometheus scrapes every 15-30 s; four renders a second serve it and any person looking. */
const METRICS_RENDER_INTERVAL_MS = 250;

export function healthRoutes(app: FastifyInstance, ctx: RouteContext, registry: Registry): void {
  const open = { config: { access: 'public' as const } };
  app.get('/healthz', open, async () => ({ status: 'ok' }));
  app.get('/readyz', open, async (_req, reply) => {
    const checks = {
      migrated: ctx.state.migrated,
      accepting: !ctx.state.shuttingDown,
      database: ctx.database.up(),
    };
    const ready = checks.migrated && checks.accepting && checks.database;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  const metrics = throttleRenders(() => registry.metrics(), METRICS_RENDER_INTERVAL_MS);
  app.get('/metrics', open, async (_req, reply) => reply.type(registry.contentType).send(await metrics()));
}
