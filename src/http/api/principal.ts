// Who calls /api/v1: a session cookie (UI; CSRF header required for changes), a bearer app token, or Basic credentials.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import { ANONYMOUS, type Principal } from '../../services/accounts/context.js';
import { AccountError } from '../../services/accounts/errors.js';
import { parseAuthorization } from '../auth/credentials.js';
import { ApiError } from './errors.js';

export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal; sessionCsrf?: string }
}

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (!raw || raw.length > 8192) return undefined;
  for (const part of raw.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export async function resolvePrincipal(accounts: AccountServices, req: FastifyRequest): Promise<Principal> {
  const creds = parseAuthorization(req.headers.authorization);
  if (creds.scheme === 'malformed') {
    req.log.warn({ event: 'api_auth_refused', ip: req.ip, reason: creds.reason }, 'API request refused');
    throw new ApiError(401, `invalid Authorization header: ${creds.reason}`);
  }
  if (creds.scheme === 'basic') {
    try {
      return await accounts.authenticator.login(creds.username, creds.password, req.ip);
    } catch (e) {
      if (e instanceof AccountError) req.log.warn({ event: 'login_failed', account: creds.username.slice(0, 64), ip: req.ip, reason: e.message }, 'login failed');
      throw e;
    }
  }
  if (creds.scheme === 'bearer') {
    const p = await accounts.authenticator.appToken(creds.token);
    if (!p) {
      req.log.warn({ event: 'api_token_refused', ip: req.ip }, 'API bearer token refused');
      throw new ApiError(401, 'the bearer token is not valid (use an app-specific token)');
    }
    return p;
  }
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie) {
    const s = cookie.length <= 256 ? await accounts.sessions.lookup(cookie) : undefined;
    const p = s && await accounts.authenticator.principalOf(s.accountId, 'session');
    accounts.ctx.observer?.authAttempt?.('cookie', !!p);
    if (s && p) {
      if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !accounts.sessions.csrfMatches(s.csrf, header(req, CSRF_HEADER))) {
        throw new ApiError(403, `a signed-in browser session must send the ${CSRF_HEADER} header it got at sign-in with every change`);
      }
      req.sessionCsrf = s.csrf;
      return p;
    }
  }
  return ANONYMOUS;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? undefined : v;
}

/** The signed-in caller, or 401. */
export function requireSignedIn(req: FastifyRequest): Exclude<Principal, { kind: 'anonymous' }> {
  const p = req.principal ?? ANONYMOUS;
  if (p.kind === 'anonymous') throw new ApiError(401, 'sign in first (session, app token, or Basic credentials)');
  return p;
}

export function requireUserCaller(req: FastifyRequest): Exclude<Principal, { kind: 'anonymous' }> {
  const p = requireSignedIn(req);
  if (p.kind !== 'user') throw new ApiError(403, 'robot accounts cannot use this operation');
  return p;
}

/** 401 for anonymous callers, 403 for the signed-in: the refusal for a missing right. */
export function deny(req: FastifyRequest, message: string): ApiError {
  return new ApiError(req.principal?.kind === 'anonymous' || !req.principal ? 401 : 403, message);
}

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('Content-Type', 'application/json').send(JSON.stringify(body));
}
