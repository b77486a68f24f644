// Who calls /api/v1 (resolved once per request by the hook below, through the accounts' PrincipalResolver):
// a session cookie (UI; CSRF header required for changes), a bearer app token, or Basic credentials.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import type { Principal } from '../../services/principal.js';
import { AccountError } from '../../services/accounts/errors.js';
import { CSRF_HEADER } from '../../services/accounts/principals.js';
import { parseAuthorization } from '../auth/credentials.js';
import { ApiError } from './errors.js';
import '../principal.js';

export const SESSION_COOKIE = 'berth_session';
export { CSRF_HEADER };

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (!raw || raw.length > 8192) return undefined;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The /api/v1 preHandler hook: sets req.principal (and the session's CSRF token); refuses bad credentials. */
export function apiPrincipalHook(accounts: AccountServices): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const credentials = parseAuthorization(req.headers.authorization);
    try {
      const r = await accounts.principals.forApi({
        credentials,
        sessionCookie: readCookie(req, SESSION_COOKIE),
        address: req.ip,
        changes: !['GET', 'HEAD', 'OPTIONS'].includes(req.method),
        csrf: header(req, CSRF_HEADER),
      });
      req.principal = r.principal;
      if (r.sessionCsrf) req.sessionCsrf = r.sessionCsrf;
    } catch (e) {
      if (e instanceof AccountError) {
        if (credentials.scheme === 'malformed')
          req.log.warn({ event: 'api_auth_refused', ip: req.ip, reason: credentials.reason }, 'API request refused');
        if (credentials.scheme === 'basic')
          req.log.warn(
            { event: 'login_failed', account: credentials.username.slice(0, 64), ip: req.ip, reason: e.message },
            'login failed',
          );
        if (credentials.scheme === 'bearer') req.log.warn({ event: 'api_token_refused', ip: req.ip }, 'API bearer token refused');
      }
      throw e;
    }
  };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? undefined : v;
}

/** The signed-in caller, or 401. */
export function requireSignedIn(p: Principal): Exclude<Principal, { kind: 'anonymous' }> {
  if (p.kind === 'anonymous') throw new ApiError(401, 'sign in first (session, app token, or Basic credentials)');
  return p;
}

export function requireUserCaller(p: Principal): Exclude<Principal, { kind: 'anonymous' }> {
  const signedIn = requireSignedIn(p);
  if (signedIn.kind !== 'user') throw new ApiError(403, 'robot accounts cannot use this operation');
  return signedIn;
}

/** 401 for anonymous callers, 403 for the signed-in: the refusal for a missing right. */
export function deny(p: Principal, message: string): ApiError {
  return new ApiError(p.kind === 'anonymous' ? 401 : 403, message);
}

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('Content-Type', 'application/json').send(JSON.stringify(body));
}
