// /api/v1: JSON in and out, the caller resolved once per request, Quay-shaped errors, route modules.
import type { FastifyInstance } from 'fastify';
import { uiRoutes } from './ui.js';
import type { AccountServices } from '../../services/accounts/index.js';
import type { RegistryServices } from '../../services/index.js';
import { TagService } from '../../services/tags.js';
import { ArtifactService } from '../../services/artifacts.js';
import { mapApiError, sendApiError } from './errors.js';
import { apiPrincipalHook } from './principal.js';
import { userRoutes } from './users.js';
import { orgRoutes } from './orgs.js';
import { repoRoutes } from './repos.js';
import { securityHandler } from './security.js';
import type { ScannerService } from '../../scanner/service.js';
import { statusRoutes } from './status.js';

export const MAX_API_BODY = 256 * 1024;

export async function apiPlugin(app: FastifyInstance, opts: { accounts: AccountServices; services: RegistryServices; scanner?: ScannerService }): Promise<void> {
  const { accounts } = opts;
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
  app.setNotFoundHandler((req, reply) => sendApiError(reply, 404, `no API endpoint ${req.method} ${(req.raw.url ?? '').split('?')[0].slice(0, 200)}`));

  app.addHook('preHandler', apiPrincipalHook(accounts));

  await app.register(uiRoutes, { accounts });
  await app.register(userRoutes, { accounts });
  await app.register(orgRoutes, { accounts });
  await app.register(statusRoutes, { accounts });
  await app.register(repoRoutes, {
    accounts, tags: new TagService(accounts.ctx), artifacts: new ArtifactService(accounts.ctx),
    ...(opts.scanner ? { security: securityHandler(accounts, opts.scanner) } : {}),
  });
  await app.register((await import('./scanner-status.js')).scannerStatusRoutes, { accounts });
}
