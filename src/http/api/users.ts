// /api/v1 signin, signout, the current user, user creation, app-specific tokens, the user's robots.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AccountServices } from '../../services/accounts/index.js';
import { AccountError } from '../../services/accounts/errors.js';
import { ApiError } from './errors.js';
import { readCookie, requireUserCaller, sendJson, SESSION_COOKIE } from './principal.js';

const signinBody = z.object({ username: z.string().min(1).max(512), password: z.string().min(1).max(2048) });
const createUserBody = z.object({ username: z.string().min(1).max(255), email: z.string().max(320).optional(), password: z.string().min(1).max(2048), superuser: z.boolean().optional() });
const appTokenBody = z.object({ title: z.string().min(1).max(255), expiration_seconds: z.number().int().positive().max(10 * 365 * 86400).optional() });

export async function userRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;
  const secure = accounts.ctx.auth.baseUrl.startsWith('https:');

  app.post('/signin', async (req, reply) => {
    const b = signinBody.parse(req.body);
    let p;
    try {
      p = await accounts.authenticator.login(b.username, b.password, req.ip);
    } catch (e) {
      if (e instanceof AccountError) req.log.warn({ event: 'login_failed', account: b.username.slice(0, 64), ip: req.ip, reason: e.message }, 'login failed');
      throw e;
    }
    if (p.kind !== 'user') throw new ApiError(403, 'robot accounts cannot sign in to the UI');
    const s = await accounts.sessions.create(p.id);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=${s.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${accounts.ctx.auth.sessionSeconds}${secure ? '; Secure' : ''}`);
    return sendJson(reply, 200, { success: true, csrf_token: s.csrf });
  });

  app.post('/signout', async (req, reply) => {
    const cookie = readCookie(req, SESSION_COOKIE);
    if (cookie && cookie.length <= 256) await accounts.sessions.delete(cookie);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return sendJson(reply, 200, { success: true });
  });

  app.get('/user/', async (req, reply) => {
    const p = requireUserCaller(req);
    const u = await accounts.users.get(p.name);
    const orgs = await accounts.ctx.db.selectFrom('team').innerJoin('team_member', 'team_member.team_id', 'team.id')
      .innerJoin('account', 'account.id', 'team.org_id').select('account.name').distinct()
      .where('team_member.account_id', '=', p.id).orderBy('account.name').execute();
    return sendJson(reply, 200, {
      anonymous: false, username: u.name, email: u.email, super_user: p.superuser,
      organizations: orgs.map((o) => ({ name: o.name })), ...(req.sessionCsrf ? { csrf_token: req.sessionCsrf } : {}),
    });
  });

  app.post('/user/', async (req, reply) => {
    const b = createUserBody.parse(req.body);
    const p = req.principal!;
    const isSuper = accounts.perms.isSuper(p);
    if (!isSuper && !accounts.ctx.auth.userCreation) {
      throw new ApiError(p.kind === 'anonymous' ? 401 : 403, 'only a superuser can create users (FEATURE_USER_CREATION is off)');
    }
    if (b.superuser && !isSuper) throw new ApiError(403, 'only a superuser can create superusers');
    const u = await accounts.users.create({ name: b.username, email: b.email, password: b.password, superuser: b.superuser });
    return sendJson(reply, 201, { username: u.name, email: u.email, super_user: !!b.superuser });
  });

  app.delete('/superuser/users/:name', async (req, reply) => {
    const p = requireUserCaller(req);
    if (!accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can delete users');
    await accounts.users.delete((req.params as { name: string }).name);
    return reply.code(204).send();
  });

  app.get('/user/apptoken', async (req, reply) => {
    const p = requireUserCaller(req);
    return sendJson(reply, 200, { tokens: await accounts.appTokens.list(p.name), only_expiring: null });
  });

  app.post('/user/apptoken', async (req, reply) => {
    const p = requireUserCaller(req);
    if (p.via === 'apptoken') throw new ApiError(403, 'an app token cannot create app tokens; sign in with the password');
    const b = appTokenBody.parse(req.body);
    return sendJson(reply, 200, { token: await accounts.appTokens.create(p.name, b.title, b.expiration_seconds) });
  });

  app.delete('/user/apptoken/:uuid', async (req, reply) => {
    const p = requireUserCaller(req);
    await accounts.appTokens.revoke(p.name, (req.params as { uuid: string }).uuid);
    return reply.code(204).send();
  });

  // The caller's own robots (namespace = the user).
  app.get('/user/robots', async (req, reply) => {
    const p = requireUserCaller(req);
    const list = await accounts.robots.list(p.name);
    return sendJson(reply, 200, { robots: list.map((r) => ({ name: r.name, created: new Date(r.created_at).toUTCString() })) });
  });
  app.put('/user/robots/:short', async (req, reply) => {
    const p = requireUserCaller(req);
    const r = await accounts.robots.create(p.name, (req.params as { short: string }).short);
    return sendJson(reply, 201, { name: r.name, token: r.token, created: new Date(r.created_at).toUTCString() });
  });
  app.post('/user/robots/:short/regenerate', async (req, reply) => {
    const p = requireUserCaller(req);
    const r = await accounts.robots.regenerate(p.name, (req.params as { short: string }).short);
    return sendJson(reply, 200, { name: r.name, token: r.token });
  });
  app.delete('/user/robots/:short', async (req, reply) => {
    const p = requireUserCaller(req);
    await accounts.robots.delete(p.name, (req.params as { short: string }).short);
    return reply.code(204).send();
  });
}
