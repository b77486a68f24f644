// /api/v1/repository/{name}/immutabilitypolicy/…: a repository's immutable-tag rules, in Quay's shapes
// (list, create, read, update, delete); repository admins only (handlers of the rows in route-table.ts).
import { z } from 'zod';
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';
import { auditLater } from '../audit-hook.js';
import type { ImmutabilityRule } from '../../services/tag-rules.js';

const policyBody = z.object({
  tagPattern: z.string().min(1).max(256),
  tagPatternMatches: z.boolean().optional(),
});

const view = (r: ImmutabilityRule) => ({ uuid: r.uuid, tagPattern: r.tagPattern, tagPatternMatches: r.tagPatternMatches });

function where(name: string) {
  const i = name.indexOf('/');
  return { repo: name.slice(i + 1), namespace: name.slice(0, i) };
}

export const listPolicies: ApiHandler = async ({ reply, params: { name }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  return sendJson(reply, 200, { policies: (await tags.policies.list(name)).map(view) });
};

export const createPolicy: ApiHandler = async ({ req, reply, params: { name }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  const b = policyBody.parse(req.body);
  const { uuid, expirationsCleared } = await tags.policies.create(name, b);
  auditLater(req, {
    kind: 'create_immutability_policy',
    repository: name,
    metadata: { ...where(name), tag_pattern: b.tagPattern, tag_pattern_matches: b.tagPatternMatches ?? true },
  });
  return sendJson(reply, 201, { uuid, expirations_cleared: expirationsCleared });
};

export const getPolicy: ApiHandler = async ({ reply, params: { name, uuid }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  return sendJson(reply, 200, view(await tags.policies.get(name, uuid)));
};

export const updatePolicy: ApiHandler = async ({ req, reply, params: { name, uuid }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  const b = policyBody.parse(req.body);
  await tags.policies.update(name, uuid, b);
  auditLater(req, {
    kind: 'update_immutability_policy',
    repository: name,
    metadata: { ...where(name), policy_uuid: uuid, tag_pattern: b.tagPattern, tag_pattern_matches: b.tagPatternMatches ?? true },
  });
  return reply.code(204).send();
};

export const deletePolicy: ApiHandler = async ({ req, reply, params: { name, uuid }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'admin');
  await tags.policies.delete(name, uuid);
  auditLater(req, { kind: 'delete_immutability_policy', repository: name, metadata: { ...where(name), policy_uuid: uuid } });
  return sendJson(reply, 200, { uuid });
};
