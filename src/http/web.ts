// The web UI: the static files of web/dist (built by `npm run build:web`) at `/`, with the SPA fallback
// (any other GET that is not /api or /v2 answers index.html) and a strict Content-Security-Policy.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendApiError } from './api/errors.js';

export const WEB_DIST = path.resolve(import.meta.dirname, '../../web/dist');

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export async function webUi(app: FastifyInstance, opts: { root?: string } = {}): Promise<void> {
  const root = opts.root ?? process.env.BERTH_WEB_DIR ?? WEB_DIST;

  const security = (reply: FastifyReply) =>
    reply
      .header('Content-Security-Policy', CSP)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'same-origin')
      .header('X-Frame-Options', 'DENY');

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = (req.raw.url ?? '/').split('?')[0];
    if (url.startsWith('/api/')) return sendApiError(reply, 404, `no API endpoint ${req.method} ${url.slice(0, 200)}`);
    if (url === '/v2' || url.startsWith('/v2/')) return reply.callNotFound();
    // Machine endpoints never fall back to the app: a disabled /metrics or an unknown Clair path is a plain 404.
    if (/^\/(metrics|indexer|matcher|notifier)(\/|$)/.test(url)) return reply.callNotFound();
    let rel: string;
    try {
      rel = decodeURIComponent(url);
    } catch {
      rel = '/';
    }
    const file = path.resolve(root, `.${path.posix.normalize(rel)}`);
    const inside = file === root || file.startsWith(root + path.sep);
    const info = inside && rel !== '/' ? await stat(file).catch(() => undefined) : undefined;
    if (info?.isFile()) {
      const immutable = rel.startsWith('/assets/');
      security(reply)
        .header('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream')
        .header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.send(await readFile(file));
    }
    // A missing asset is a 404; anything else is a page of the app.
    if (rel.startsWith('/assets/') || path.extname(rel)) {
      return security(reply).code(404).header('Content-Type', 'text/plain; charset=utf-8').send('not found');
    }
    const index = await readFile(path.join(root, 'index.html')).catch(() => undefined);
    if (!index) {
      return security(reply)
        .code(503)
        .header('Content-Type', 'text/plain; charset=utf-8')
        .send('The web UI is not built. Run `npm run build:web` (npm start does it for you).\n');
    }
    return security(reply).header('Content-Type', TYPES['.html']).header('Cache-Control', 'no-cache').send(index);
  };

  app.route({ method: ['GET', 'HEAD'], url: '/', handler: serve });
  app.route({ method: ['GET', 'HEAD'], url: '/*', handler: serve });
}
