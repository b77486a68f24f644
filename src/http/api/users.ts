// /api/v1 signin, signout, the current user, user creation, app-specific tokens, the user's robots
// (handlers of the rows in route-table.ts).
import { z } from 'zod';
import { AccountError } from '../../services/accounts/errors.js';
import { ApiError } from './errors.js';
import { readCookie, requireUserCaller, sendJson, SESSION_COOKIE } from './principal.js';
import type { ApiHandler } from './types.js';

const signinBody = z.object({ username: z.string().min(1).max(512), password: z.string().min(1).max(2048) });
const createUserBody = z.object({
  username: z.string().min(1).max(255),
  email: z.string().max(320).optional(),
  password: z.string().min(1).max(2048),
  superuser: z.boolean().optional(),
});
const appTokenBody = z.object({
  title: z.string().min(1).max(255),
  expiration_seconds: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 86400)
    .optional(),
});

/** The Set-Cookie value of a new browser session. */
export function sessionCookie(accounts: Parameters<ApiHandler>[0]['deps']['accounts'], cookie: string): string {
  const secure = accounts.ctx.auth.baseUrl.startsWith('https:');
  return `${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${accounts.ctx.auth.sessionSeconds}${secure ? '; Secure' : ''}`;
}

export const signin: ApiHandler = async ({ req, reply, deps: { accounts } }) => {
  const b = signinBody.parse(req.body);
  let p: Awaited<ReturnType<typeof accounts.authenticator.login>>;
  try {
    p = await accounts.authenticator.login(b.username, b.password, req.ip);
  } catch (e) {
    if (e instanceof AccountError)
      req.log.warn({ event: 'login_failed', account: b.username.slice(0, 64), ip: req.ip, reason: e.message }, 'login failed');
    throw e;
  }
  if (p.kind !== 'user') throw new ApiError(403, 'robot accounts cannot sign in to the UI');
  const s = await accounts.sessions.create(p.id);
  reply.header('Set-Cookie', sessionCookie(accounts, s.cookie));
  return sendJson(reply, 200, { success: true, csrf_token: s.csrf });
};

export const signout: ApiHandler = async ({ req, reply, deps: { accounts } }) => {
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie && cookie.length <= 256) await accounts.sessions.delete(cookie);
  reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
  return sendJson(reply, 200, { success: true });
};

export const currentUser: ApiHandler = async ({ req, reply, principal, deps: { accounts, quota } }) => {
  const p = requireUserCaller(principal);
  const u = await accounts.users.get(p.name);
  const orgs = await accounts.teams.organizationsOf(p.id);
  return sendJson(reply, 200, {
    anonymous: false,
    username: u.name,
    email: u.email,
    super_user: p.superuser,
    organizations: orgs.map((name) => ({ name })),
    ...(quota ? { quota_report: await quota.namespaceReport(u.name) } : {}),
    ...(req.sessionCsrf ? { csrf_token: req.sessionCsrf } : {}),
  });
};

export const createUser: ApiHandler = async ({ req, reply, principal: p, deps: { accounts } }) => {
  const b = createUserBody.parse(req.body);
  const isSuper = accounts.perms.isSuper(p);
  if (!isSuper && !accounts.ctx.auth.userCreation) {
    throw new ApiError(p.kind === 'anonymous' ? 401 : 403, 'only a superuser can create users (FEATURE_USER_CREATION is off)');
  }
  if (b.superuser && !isSuper) throw new ApiError(403, 'only a superuser can create superusers');
  const u = await accounts.users.create({ name: b.username, email: b.email, password: b.password, superuser: b.superuser });
  return sendJson(reply, 201, { username: u.name, email: u.email, super_user: !!b.superuser });
};

export const deleteUser: ApiHandler = async ({ reply, params, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  if (!accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can delete users');
  await accounts.users.delete(params.name);
  return reply.code(204).send();
};

export const listAppTokens: ApiHandler = async ({ reply, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  return sendJson(reply, 200, { tokens: await accounts.appTokens.list(p.name), only_expiring: null });
};

export const createAppToken: ApiHandler = async ({ req, reply, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  if (p.via === 'apptoken') throw new ApiError(403, 'an app token cannot create app tokens; sign in with the password');
  const b = appTokenBody.parse(req.body);
  return sendJson(reply, 200, { token: await accounts.appTokens.create(p.name, b.title, b.expiration_seconds) });
};

export const revokeAppToken: ApiHandler = async ({ reply, params, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  await accounts.appTokens.revoke(p.name, params.uuid);
  return reply.code(204).send();
};

// The caller's own robots (namespace = the user).
export const listRobots: ApiHandler = async ({ reply, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  const list = await accounts.robots.list(p.name);
  return sendJson(reply, 200, { robots: list.map((r) => ({ name: r.name, created: new Date(r.created_at).toUTCString() })) });
};

export const createRobot: ApiHandler = async ({ reply, params, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  const r = await accounts.robots.create(p.name, params.short);
  return sendJson(reply, 201, { name: r.name, token: r.token, created: new Date(r.created_at).toUTCString() });
};

export const regenerateRobot: ApiHandler = async ({ reply, params, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  const r = await accounts.robots.regenerate(p.name, params.short);
  return sendJson(reply, 200, { name: r.name, token: r.token });
};

export const deleteRobot: ApiHandler = async ({ reply, params, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  await accounts.robots.delete(p.name, params.short);
  return reply.code(204).send();
};
