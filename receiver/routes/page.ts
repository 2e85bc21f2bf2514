// GET /: the live page (receiver/page/index.html, no build step). The page
// itself holds no data; what it reads needs the read token. Its form posts the
// token to /login, which stores it in an HttpOnly cookie (the page's
// EventSource cannot send headers) and redirects to /, so the token is never
// in an address, a history or a proxy's log. /?token= still works for links
// made by hand, and redirects the same way.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { READ_TOKEN_COOKIE } from '../auth.js';
import { RequestError } from '../errors.js';
import { mediaType, singleQuery } from '../request.js';
import type { RouteContext } from './context.js';

const PAGE = new URL('../page/index.html', import.meta.url);
const COOKIE_MAX_AGE_SECONDS = 12 * 3600;
/** A login form holds one token. */
const LOGIN_BODY_LIMIT = 4096;

interface Page {
  html: Buffer;
  csp: string;
}

/** The page's own inline script and style, allowed by their hashes; nothing else runs, loads or frames it. */
async function loadPage(): Promise<Page> {
  const html = await readFile(PAGE);
  const hashes = (tag: string) => [...html.toString('utf8').matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
    .map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`).join(' ');
  const csp = `default-src 'none'; script-src 'self' ${hashes('script')}; style-src 'self' ${hashes('style')}; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
  return { html, csp };
}

export function pageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let page: Promise<Page> | undefined;

  /** Secure follows how this request reached us: TLS, or a proxy that TRUST_PROXY says may tell. */
  function logIn(req: FastifyRequest, reply: FastifyReply, token: string) {
    ctx.auth.read(token);
    const secure = req.protocol === 'https' ? '; Secure' : '';
    return reply
      .header('set-cookie', `${READ_TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_SECONDS}${secure}`)
      .redirect('/', 303);
  }

  app.get('/', { config: { access: 'public' } }, async (req, reply) => {
    const { token } = singleQuery(req.query);
    if (token !== undefined) return logIn(req, reply, token);
    page ??= loadPage();
    const { html, csp } = await page;
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('content-security-policy', csp).send(html);
  });

  app.post('/login', { config: { access: 'public' }, bodyLimit: LOGIN_BODY_LIMIT }, async (req, reply) => {
    if (mediaType(req.headers) !== 'application/x-www-form-urlencoded') throw new RequestError('unsupported_media_type', 'the login form is application/x-www-form-urlencoded');
    const tokens = new URLSearchParams(((req.body as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8')).getAll('token');
    if (tokens.length !== 1) throw new RequestError('bad_body', 'the login form sends one token field');
    return logIn(req, reply, tokens[0]!);
  });
}
