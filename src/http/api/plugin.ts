// /api/v1: JSON in and out, the caller resolved once per request (principal.ts), Quay-shaped errors, and
// every route registered from the one table in route-table.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mapApiError, sendApiError, ApiError } from './errors.js';
import { apiPrincipalHook } from './principal.js';
import { principalOf } from '../principal.js';
import { API_ROUTES, isRepositoryPattern, matchRepositoryPath, type ApiRoute } from './route-table.js';
import type { ApiDeps } from './types.js';

export const MAX_API_BODY = 256 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The /repository/* pattern (below /api/v1) and parameters the route table matched (for logs and the audit hook). */
    apiMatch?: { url: string; params: Record<string, string> };
  }
}

export async function apiPlugin(app: FastifyInstance, opts: { deps: ApiDeps }): Promise<void> {
  const { deps } = opts;
  const { accounts } = deps;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string', bodyLimit: MAX_API_BODY }, (_req, body, done) => {
    if (body === '') return done(null, {});
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_API_BODY }, (_req, _body, done) => {
    done(Object.assign(new Error('send the request body as application/json'), { statusCode: 415 }), undefined);
  });

  app.setErrorHandler((err, req, reply) => {
    const mapped = mapApiError(reply, err);
    if (mapped) return mapped;
    req.log.error({ err }, 'unhandled API error');
    return sendApiError(reply, 500, 'internal error; see the server log');
  });
  app.setNotFoundHandler((req, reply) =>
    sendApiError(reply, 404, `no API endpoint ${req.method} ${(req.raw.url ?? '').split('?')[0].slice(0, 200)}`),
  );

  app.addHook('preHandler', apiPrincipalHook(accounts));

  const served = API_ROUTES.filter((r) => !r.needs || (r.needs === 'scanner' && deps.scanner));
  const call = (r: ApiRoute, req: FastifyRequest, reply: FastifyReply, params: Record<string, string>) =>
    r.handler({ req, reply, params, principal: principalOf(req), deps });

  // Patterns without a repository name: Fastify's router.
  for (const r of served.filter((x) => !isRepositoryPattern(x.url))) {
    app.route({ method: r.method, url: r.url, handler: (req, reply) => call(r, req, reply, req.params as Record<string, string>) });
  }

  // Patterns with a repository name (it contains "/"): one wildcard route, matched against the table.
  const byName = served.filter((x) => isRepositoryPattern(x.url));
  app.route({
    method: [...new Set(byName.map((r) => r.method))],
    url: '/repository/*',
    handler: async (req, reply) => {
      const path = (req.raw.url ?? '').split('?')[0].replace(/^\/api\/v1/, '');
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        throw new ApiError(400, 'the path is not valid percent-encoding');
      }
      const m = matchRepositoryPath(decoded);
      const rows = m ? byName.filter((r) => r.url === m.url) : [];
      if (!m || !rows.length) throw new ApiError(404, 'no such endpoint');
      const r = rows.find((x) => x.method === req.method);
      if (!r) throw new ApiError(405, `${req.method} is not supported here`);
      req.apiMatch = m;
      return call(r, req, reply, m.params);
    },
  });
}
