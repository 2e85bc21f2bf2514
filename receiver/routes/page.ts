// GET /: the live page (receiver/page/, no build step), and the files it
// loads: its own script and stylesheet, and asciinema-player's prebuilt
// bundle and stylesheet straight from node_modules (a runtime dependency), so
// that the page plays recordings in a cluster without internet access. None
// of these holds data; what the page reads needs the read token. Opening
// /?token=<READ_TOKEN> once stores the token in an HttpOnly cookie (the
// page's EventSource cannot send headers) and redirects to /, so the token
// does not stay in the address bar or the history.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { READ_TOKEN_COOKIE } from '../auth.js';
import type { RouteContext } from './context.js';

const PAGE = new URL('../page/index.html', import.meta.url);
const COOKIE_MAX_AGE_SECONDS = 12 * 3600;

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
