// /api/v1/repository: create, list, read, update, delete; visibility; permissions for users and teams
// (handlers of the rows in route-table.ts). Every check on one repository is RepoService.requireAccess.
import { z } from 'zod';
import { repoQuotaReports } from './quota-report.js';
import { atLeast } from '../../services/accounts/permissions.js';
import { ApiError } from './errors.js';
import { requireSignedIn, sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

const createBody = z.object({
  namespace: z.string().min(1).max(255),
  repository: z.string().min(1).max(255),
  visibility: z.enum(['public', 'private']).default('private'),
  description: z.string().max(65_536).nullable().optional(),
  repo_kind: z.enum(['image']).optional(),
});
const updateBody = z.object({ description: z.string().max(65_536).nullable() });
const visibilityBody = z.object({ visibility: z.enum(['public', 'private']) });
const roleBody = z.object({ role: z.enum(['read', 'write', 'admin']) });

export const createRepo: ApiHandler = async ({ req, reply, principal, deps: { accounts } }) => {
  const p = requireSignedIn(principal);
  const b = createBody.parse(req.body);
  const full = `${b.namespace}/${b.repository}`;
  accounts.repos.requireName(full);
  if (!(await accounts.perms.canCreateIn(p, b.namespace))) {
    await accounts.repos.view(full).catch(() => undefined);
    throw new ApiError(403, `you may not create repositories in namespace "${b.namespace}"`);
  }
  await accounts.repos.create(p, full, b.visibility, b.description);
  return sendJson(reply, 201, { namespace: b.namespace, name: b.repository, kind: 'image' });
};

export const listRepos: ApiHandler = async ({ req, reply, principal, deps: { accounts, quota } }) => {
  const q = z.object({ namespace: z.string().max(255).optional() }).parse(req.query);
  const list = await accounts.repos.list(principal, q.namespace);
  const reports = await repoQuotaReports(quota, list);
  return sendJson(reply, 200, { repositories: list.map((r) => ({ ...r, kind: 'image', ...reports(r) })) });
};

export const getRepo: ApiHandler = async ({ reply, params: { name }, principal, deps: { accounts, quota } }) => {
  const { role } = await accounts.repos.requireAccess(principal, name, 'read');
  const v = await accounts.repos.view(name);
  const reports = await repoQuotaReports(quota, [v]);
  return sendJson(reply, 200, { ...v, kind: 'image', can_write: atLeast(role, 'write'), can_admin: atLeast(role, 'admin'), ...reports(v) });
};

export const updateRepo: ApiHandler = async ({ req, reply, params: { name }, principal, deps: { accounts } }) => {
  await accounts.repos.requireAccess(principal, name, 'write');
  const b = updateBody.parse(req.body);
  return sendJson(reply, 200, { ...(await accounts.repos.update(name, { description: b.description })), kind: 'image', success: true });
};

export const deleteRepo: ApiHandler = async ({ reply, params: { name }, principal, deps: { accounts } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  await accounts.repos.delete(name);
  return reply.code(204).send();
};

export const changeVisibility: ApiHandler = async ({ req, reply, params: { name }, principal, deps: { accounts } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  const b = visibilityBody.parse(req.body);
  await accounts.repos.update(name, { visibility: b.visibility });
  return sendJson(reply, 200, { success: true });
};

type Who = 'user' | 'team';

export const listPermissions =
  (who: Who): ApiHandler =>
  async ({ reply, params: { name }, principal, deps: { accounts } }) => {
    await accounts.repos.requireAccess(principal, name, 'admin');
    const all = await accounts.repos.permissions(name);
    const list = who === 'user' ? all.users : all.teams;
    return sendJson(reply, 200, { permissions: Object.fromEntries(list.map((x) => [x.name, x])) });
  };

export const getPermission =
  (who: Who): ApiHandler =>
  async ({ reply, params: { name, member }, principal, deps: { accounts } }) => {
    await accounts.repos.requireAccess(principal, name, 'admin');
    const all = await accounts.repos.permissions(name);
    const found = (who === 'user' ? all.users : all.teams).find((x) => x.name === member);
    if (!found) throw new ApiError(404, `"${member.slice(0, 100)}" has no permission on "${name}"`);
    return sendJson(reply, 200, found);
  };

export const setPermission =
  (who: Who): ApiHandler =>
  async ({ req, reply, params: { name, member }, principal, deps: { accounts } }) => {
    await accounts.repos.requireAccess(principal, name, 'admin');
    const b = roleBody.parse(req.body);
    const r =
      who === 'user'
        ? await accounts.repos.setUserPermission(name, member, b.role)
        : await accounts.repos.setTeamPermission(name, member, b.role);
    return sendJson(reply, 200, r);
  };

export const removePermission =
  (who: Who): ApiHandler =>
  async ({ reply, params: { name, member }, principal, deps: { accounts } }) => {
    await accounts.repos.requireAccess(principal, name, 'admin');
    if (who === 'user') await accounts.repos.removeUserPermission(name, member);
    else await accounts.repos.removeTeamPermission(name, member);
    return reply.code(204).send();
  };
