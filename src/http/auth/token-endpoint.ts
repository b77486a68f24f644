// GET /v2/auth: Docker's token endpoint. Basic credentials (user, robot, "$app" token) or none (anonymous)
// buy a signed JWT whose access claim lists only what the caller may really do.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { AccountServices } from '../../services/accounts/index.js';
import { AccountError } from '../../services/accounts/errors.js';
import { ANONYMOUS } from '../../services/principal.js';
import { principalOf } from '../principal.js';
import { parseAuthorization } from './credentials.js';
import { acceptedAudiences } from '../../services/accounts/service-name.js';
import { requestOrigin } from '../origin.js';

export async function tokenEndpoint(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;
  const { auth } = accounts.ctx;

  // The principal of a token request: Basic credentials, or none (anonymous), resolved once before the handler.
  const principalHook = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0').header('Cache-Control', 'no-store');
    const service = tokenParams(req).get('service');
    // Without SERVER_HOSTNAME the service is the host the client used (as the /v2 challenge named it).
    const services = acceptedAudiences(auth, requestOrigin(req));
    if (service !== null && !services.includes(service)) {
      throw new RegistryError(
        'DENIED',
        `this registry issues tokens for service "${services[0]}", not "${service.slice(0, 100)}"`,
        undefined,
        400,
      );
    }
    const creds = parseAuthorization(req.headers.authorization);
    const basicChallenge = { 'WWW-Authenticate': `Basic realm="${services[0]}"` };
    if (creds.scheme === 'malformed' || creds.scheme === 'bearer') {
      req.log.warn(
        {
          event: 'login_refused',
          ip: req.ip,
          reason: creds.scheme === 'bearer' ? 'bearer token sent to the token endpoint' : creds.reason,
        },
        'token request refused',
      );
      throw new RegistryError('UNAUTHORIZED', 'send Basic credentials (or none for anonymous access)', undefined, 401, basicChallenge);
    }
    if (creds.scheme === 'none') {
      req.principal = ANONYMOUS;
      return;
    }
    try {
      req.principal = await accounts.authenticator.login(creds.username, creds.password, req.ip);
    } catch (e) {
      if (!(e instanceof AccountError)) throw e;
      req.log.warn({ event: 'login_failed', account: creds.username.slice(0, 64), ip: req.ip, reason: e.message }, 'login failed');
      if (e.kind === 'unavailable') throw new RegistryError('UNAVAILABLE', e.message, undefined, 503);
      if (e.kind === 'throttled') {
        throw new RegistryError('TOOMANYREQUESTS', e.message, undefined, 429, { 'Retry-After': String(e.retryAfterSeconds ?? 1) });
      }
      throw new RegistryError(
        'UNAUTHORIZED',
        e.kind === 'invalid' ? e.message : 'invalid username or password',
        undefined,
        401,
        basicChallenge,
      );
    }
  };

  app.get('/v2/auth', { preHandler: principalHook }, async (req, reply) => {
    const principal = principalOf(req);
    const access = await accounts.scopes.grant(principal, tokenParams(req).getAll('scope'));
    const service = tokenParams(req).get('service');
    const t = await accounts.tokens.issue(principal.kind === 'anonymous' ? '' : principal.name, access, {
      audience: service ?? acceptedAudiences(auth, requestOrigin(req))[0],
      // Signed in with an app token: the registry token names it, and stops working when it is revoked.
      ...(principal.kind !== 'anonymous' && principal.appTokenId !== undefined ? { appToken: principal.appTokenId } : {}),
    });
    return reply
      .code(200)
      .header('Content-Type', 'application/json')
      .send(JSON.stringify({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt }));
  });
}

function tokenParams(req: FastifyRequest): URLSearchParams {
  const url = req.raw.url ?? '';
  return new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
}
