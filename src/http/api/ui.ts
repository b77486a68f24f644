// /api/v1 extras the web UI needs and Quay's API lacks (read-only except the first-run admin; rows of route-table.ts):
//   GET  /setup                      {needs_admin, needs_code}: an administrator is needed while no user exists;
//                                    from the network it needs the setup code from the server's console
//   POST /setup                      create the first superuser (with setup_code unless from loopback) and sign in;
//                                    403 without the right code, 409 once any user exists
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
import { isLoopbackCaller } from './local-caller.js';

const setupBody = z.object({
  username: z.string().min(1).max(255),
  email: z.string().max(320).optional(),
  password: z.string().min(1).max(2048),
  setup_code: z.string().max(200).optional(),
});
const summaryQuery = z.object({
  repository: z.string().min(1).max(512),
  digest: z.union([z.string().max(200), z.array(z.string().max(200)).max(100)]),
});

// external_login: the "Sign in with …" buttons (OIDC providers, <NAME>_LOGIN_CONFIG).
export const getSetup: ApiHandler = async ({ req, reply, deps: { accounts } }) =>
  sendJson(reply, 200, { ...(await accounts.firstAdmin.state(isLoopbackCaller(req))), external_login: accounts.identity.externalLogins() });

export const postSetup: ApiHandler = async ({ req, reply, deps: { accounts } }) => {
  const b = setupBody.parse(req.body);
  const user = await accounts.firstAdmin.create(
    { username: b.username, email: b.email, password: b.password, setupCode: b.setup_code },
    isLoopbackCaller(req),
  );
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
