// GET /: the live page (receiver/page/index.html, no build step). The page
// itself holds no data; what it reads needs the read token. Opening
// /?token=<READ_TOKEN> once stores the token in an HttpOnly cookie (the
// page's EventSource cannot send headers) and redirects to /, so the token
// does not stay in the address bar or the history.

import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { READ_TOKEN_COOKIE } from '../auth.js';
import type { RouteContext } from './context.js';

const PAGE = new URL('../page/index.html', import.meta.url);
const COOKIE_MAX_AGE_SECONDS = 12 * 3600;

export function pageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let html: Promise<Buffer> | undefined;
  app.get('/', async (req, reply) => {
    const token = (req.query as Record<string, string | undefined>).token;
    if (token !== undefined) {
      ctx.auth.read(token);
      const secure = req.headers['x-forwarded-proto'] === 'https' || req.protocol === 'https' ? '; Secure' : '';
      return reply
        .header('set-cookie', `${READ_TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_SECONDS}${secure}`)
        .redirect('/', 303);
    }
    html ??= readFile(PAGE);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(await html);
  });
}
