// GET /: the live page (receiver/page/, no build step), and the files it
// loads: its own script and stylesheet, and asciinema-player's prebuilt
// bundle and stylesheet straight from node_modules (a runtime dependency), so
// that the page plays recordings in a cluster without internet access. None
// of these holds data; what the page reads needs the read token. The page's
// form posts the token to /login, which stores it in an HttpOnly cookie (the
// page's EventSource cannot send headers) and redirects to /, so the token is
// never in an address, a history or a proxy's log. /?token= still works for
// links made by hand, and redirects the same way.

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

/**
 * Nothing inline runs: scripts and styles come from this receiver only. The
 * player builds its terminal from WebAssembly inside its bundle, hence
 * 'wasm-unsafe-eval' (no eval of JavaScript).
 */
const PAGE_CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const own = (file: string) => new URL(`../page/${file}`, import.meta.url);
const player = (file: string) => new URL(import.meta.resolve(`asciinema-player/dist/bundle/${file}`));

/** URL path → file and content type: everything the page loads besides the data. */
export const PAGE_ASSETS: Record<string, { file: URL; type: string }> = {
  '/page/live.js': { file: own('live.js'), type: JS },
  '/page/recording-view.js': { file: own('recording-view.js'), type: JS },
  '/page/live.css': { file: own('live.css'), type: CSS },
  '/page/favicon.svg': { file: own('favicon.svg'), type: 'image/svg+xml' },
  '/player/asciinema-player.min.js': { file: player('asciinema-player.min.js'), type: JS },
  '/player/asciinema-player.css': { file: player('asciinema-player.css'), type: CSS },
};

export function pageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  let page: Promise<Buffer> | undefined;

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
    page ??= readFile(PAGE);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').header('content-security-policy', PAGE_CSP).send(await page);
  });

  app.post('/login', { config: { access: 'public' }, bodyLimit: LOGIN_BODY_LIMIT }, async (req, reply) => {
    if (mediaType(req.headers) !== 'application/x-www-form-urlencoded') throw new RequestError('unsupported_media_type', 'the login form is application/x-www-form-urlencoded');
    const tokens = new URLSearchParams(((req.body as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8')).getAll('token');
    if (tokens.length !== 1) throw new RequestError('bad_body', 'the login form sends one token field');
    return logIn(req, reply, tokens[0]!);
  });

  for (const [path, { file, type }] of Object.entries(PAGE_ASSETS)) {
    // Read once; the ETag lets a browser keep the 230 KB player across page loads.
    let loaded: Promise<{ body: Buffer; etag: string }> | undefined;
    app.get(path, { config: { access: 'public' } }, async (req, reply) => {
      loaded ??= readFile(file).then((body) => ({ body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }));
      const { body, etag } = await loaded;
      reply.type(type).header('cache-control', 'no-cache').header('etag', etag);
      return req.headers['if-none-match'] === etag ? reply.code(304).send() : reply.send(body);
    });
  }
}
