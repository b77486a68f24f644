// GET /v2/auth: Docker's token endpoint. Basic credentials (user, robot, "$app" token) or none (anonymous)
// buy a signed JWT whose access claim lists only what the caller may really do.
import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { AccountServices } from '../../services/accounts/index.js';
import { AccountError } from '../../services/accounts/errors.js';
import { ANONYMOUS, type Principal } from '../../services/accounts/context.js';
import { sendRegistryError } from '../registry/plugin.js';
import { parseAuthorization } from './credentials.js';

export async function tokenEndpoint(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;
  const { auth } = accounts.ctx;

  app.get('/v2/auth', async (req, reply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0').header('Cache-Control', 'no-store');
    const url = req.raw.url ?? '';
    const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const service = params.get('service');
    if (service !== null && service !== auth.service) {
      return sendRegistryError(reply, new RegistryError('DENIED', `this registry issues tokens for service "${auth.service}", not "${service.slice(0, 100)}"`, undefined, 400));
    }
    const creds = parseAuthorization(req.headers.authorization);
    let principal: Principal = ANONYMOUS;
    const basicChallenge = { 'WWW-Authenticate': `Basic realm="${auth.service}"` };
    if (creds.scheme === 'malformed' || creds.scheme === 'bearer') {
      req.log.warn({ event: 'login_refused', ip: req.ip, reason: creds.scheme === 'bearer' ? 'bearer token sent to the token endpoint' : creds.reason }, 'token request refused');
      return sendRegistryError(reply, new RegistryError('UNAUTHORIZED', 'send Basic credentials (or none for anonymous access)', undefined, 401, basicChallenge));
    }
    if (creds.scheme === 'basic') {
      try {
        principal = await accounts.authenticator.login(creds.username, creds.password, req.ip);
      } catch (e) {
        if (!(e instanceof AccountError)) throw e;
        req.log.warn({ event: 'login_failed', account: creds.username.slice(0, 64), ip: req.ip, reason: e.message }, 'login failed');
        if (e.kind === 'unavailable') return sendRegistryError(reply, new RegistryError('UNAVAILABLE', e.message, undefined, 503));
        if (e.kind === 'throttled') {
          return sendRegistryError(reply, new RegistryError('TOOMANYREQUESTS', e.message, undefined, 429, { 'Retry-After': String(e.retryAfterSeconds ?? 1) }));
        }
        return sendRegistryError(reply, new RegistryError('UNAUTHORIZED', e.kind === 'invalid' ? e.message : 'invalid username or password', undefined, 401, basicChallenge));
      }
    }
    const access = await accounts.scopes.grant(principal, params.getAll('scope'));
    const t = await accounts.tokens.issue(principal.kind === 'anonymous' ? '' : principal.name, access);
    return reply.code(200).header('Content-Type', 'application/json')
      .send(JSON.stringify({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt }));
  });
}
