// /api/v1 extras the web UI needs and Quay's API lacks (read-only except the first-run admin; rows of route-table.ts):
//   GET  /setup                      {needs_admin}: true while no user exists (first-run screen)
//   POST /setup                      create the first superuser and sign in; 409 once any user exists
//   GET  /superuser/stats            registry health for superusers: counts, storage used, scanner data age
//   GET  /manifestsummary?repository=ns/repo&digest=…(&digest=…)
//                                    per manifest: kind (image, index, helm-chart, artifact), platforms,
//                                    total size, Helm chart metadata (read permission on the repository)
import { z } from 'zod';
import { registryStats } from '../../services/stats.js';
import { ApiError } from './errors.js';
import { requireUserCaller, sendJson } from './principal.js';
import { sessionCookie } from './users.js';
import type { ApiHandler } from './types.js';

const setupBody = z.object({ username: z.string().min(1).max(255), email: z.string().max(320).optional(), password: z.string().min(1).max(2048) });
const summaryQuery = z.object({ repository: z.string().min(1).max(512), digest: z.union([z.string().max(200), z.array(z.string().max(200)).max(100)]) });

export const getSetup: ApiHandler = async ({ reply, deps: { accounts } }) => {
  const open = accounts.ctx.auth.open;
  return sendJson(reply, 200, { needs_admin: !open && (await accounts.users.count()) === 0, open });
};

export const postSetup: ApiHandler = async ({ req, reply, deps: { accounts } }) => {
  if (accounts.ctx.auth.open) throw new ApiError(409, 'accounts are off (AUTHENTICATION_TYPE: None)');
  const b = setupBody.parse(req.body);
  const user = await accounts.users.createFirstAdmin({ name: b.username, email: b.email || undefined, password: b.password });
  req.log.info({ event: 'first_admin_created', account: user.name, ip: req.ip }, 'first administrator created');
  const s = await accounts.sessions.create(user.id);
  reply.header('Set-Cookie', sessionCookie(accounts, s.cookie));
  return sendJson(reply, 201, { success: true, username: user.name, csrf_token: s.csrf });
};

export const stats: ApiHandler = async ({ reply, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  if (!accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can see the registry health');
  return sendJson(reply, 200, await registryStats(accounts.ctx));
};

export const manifestSummary: ApiHandler = async ({ req, reply, principal, deps: { accounts, artifacts } }) => {
  const q = summaryQuery.parse(req.query);
  const digests = [...new Set(Array.isArray(q.digest) ? q.digest : [q.digest])];
  await accounts.repos.requireAccess(principal, q.repository, 'read');
  return sendJson(reply, 200, { manifests: await artifacts.summaries(q.repository, digests) });
};
