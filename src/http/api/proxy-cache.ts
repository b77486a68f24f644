// /api/v1/organization/:org/proxycache and /validateproxycache: Quay's proxy cache configuration endpoints
// (organization administrators and superusers; Quay also lets members read the view). The password is never returned.
import { ApiError } from './errors.js';
import { deny, sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';
import type { ProxyCacheService } from '../../services/proxy-cache/index.js';

function feature(c: ApiCall): ProxyCacheService {
  if (!c.deps.proxyCache) throw new ApiError(404, 'the proxy cache is not enabled on this registry (FEATURE_PROXY_CACHE)');
  return c.deps.proxyCache;
}

async function orgCaller({ params, principal, deps: { accounts } }: ApiCall, admin: boolean): Promise<string> {
  const { org } = params;
  await accounts.orgs.get(org);
  const ok = admin ? await accounts.perms.isNamespaceAdmin(principal, org) : await accounts.perms.isOrgMember(principal, org);
  if (!ok) throw deny(principal, `you are not ${admin ? 'an administrator' : 'a member'} of organization "${org}"`);
  return org;
}

export const getProxyCache: ApiHandler = async (c) => {
  const pc = feature(c);
  const org = await orgCaller(c, true);
  return sendJson(c.reply, 200, await pc.view(org));
};

export const createProxyCache: ApiHandler = async (c) => {
  const pc = feature(c);
  const org = await orgCaller(c, true);
  await pc.create(org, c.req.body as never);
  return sendJson(c.reply, 201, 'Created');
};

export const deleteProxyCache: ApiHandler = async (c) => {
  const pc = feature(c);
  const org = await orgCaller(c, true);
  await pc.remove(org);
  return sendJson(c.reply, 201, 'Deleted');
};

export const validateProxyCache: ApiHandler = async (c) => {
  const pc = feature(c);
  const org = await orgCaller(c, true);
  return sendJson(c.reply, 202, await pc.validate(org, c.req.body as never));
};
