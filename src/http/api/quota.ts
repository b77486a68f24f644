// /api/v1 storage quotas (Quay's namespacequota.py and superuser quota endpoints; docs/QUOTAS.md). Organization
// members (and superusers) read an organization's quota, a user reads their own, superusers create, change and
// delete quotas and limits. FEATURE_QUOTA_MANAGEMENT off: every route answers 404.
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../services/principal.js';
import type { QuotaService } from '../../services/quota/quotas.js';
import { parseLimit } from '../../services/quota/quotas.js';
import { ApiError } from './errors.js';
import { deny, requireUserCaller, sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';
import { auditLater } from '../audit-hook.js';
import type { LogKind } from '../../services/audit/kinds.js';

function service(c: ApiCall): QuotaService {
  if (!c.deps.quota) throw new ApiError(404, 'storage quotas are off (FEATURE_QUOTA_MANAGEMENT)');
  return c.deps.quota;
}

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new ApiError(400, 'the request body must be a JSON object');
  return b as Record<string, unknown>;
}

/** Superusers only, and only while FEATURE_EDIT_QUOTA is on. */
function requireEditor(c: ApiCall, q: QuotaService, what: string): void {
  if (!c.deps.accounts.perms.isSuper(c.principal)) throw deny(c.principal, `only a superuser can ${what}`);
  if (!q.settings.editable) throw new ApiError(403, `quotas cannot be changed: FEATURE_EDIT_QUOTA is off`);
}

/** The organization must exist (404) and the caller be a member of it or a superuser (401/403). */
async function orgReader(c: ApiCall, q: QuotaService): Promise<string> {
  const { org } = c.params;
  await q.namespace(org, 'org');
  if (!(await c.deps.accounts.perms.isOrgMember(c.principal, org)))
    throw deny(c.principal, `you are not a member of organization "${org}"`);
  return org;
}

async function orgWriter(c: ApiCall, q: QuotaService, what: string): Promise<string> {
  requireEditor(c, q, what);
  const { org } = c.params;
  await q.namespace(org, 'org');
  return org;
}

/** The limit in a create or update body: limit_bytes (a number) or Quay's human readable `limit` ("10 GiB"). */
function limitBytesOf(b: Record<string, unknown>, required: boolean): number | undefined {
  if (b.limit_bytes !== undefined) return b.limit_bytes as number;
  if (b.limit !== undefined) {
    if (typeof b.limit !== 'string') throw new ApiError(400, 'Invalid limit format');
    return parseLimit(b.limit);
  }
  if (required) throw new ApiError(400, 'limit_bytes is required');
  return undefined;
}

function audit(c: ApiCall, namespace: string, kind: LogKind, metadata: Record<string, unknown>): void {
  auditLater(c.req, { kind, namespace, metadata: { namespace, ...metadata } });
}

// ---- /organization/:org/quota… ----

export const listOrgQuota: ApiHandler = async (c) => {
  const q = service(c);
  return sendJson(c.reply, 200, await q.list(await orgReader(c, q)));
};

export const createOrgQuota: ApiHandler = async (c) => {
  const q = service(c);
  const org = await orgWriter(c, q, 'create quotas');
  const b = body(c.req);
  const created = await q.create(org, limitBytesOf(b, true) as number, `Organization quota for '${org}' already exists`);
  audit(c, org, 'org_create_quota', { quota_id: created.id, limit_bytes: created.limit_bytes });
  return sendJson(c.reply, 201, 'Created');
};

export const getOrgQuota: ApiHandler = async (c) => {
  const q = service(c);
  return sendJson(c.reply, 200, await q.get(await orgReader(c, q), c.params.quota));
};

export const changeOrgQuota: ApiHandler = async (c) => changeQuota(c, await orgWriter(c, service(c), 'change quotas'));
export const deleteOrgQuota: ApiHandler = async (c) => deleteQuota(c, await orgWriter(c, service(c), 'delete quotas'));

export const listOrgLimits: ApiHandler = async (c) => {
  const q = service(c);
  return sendJson(c.reply, 200, await q.listLimits(await orgReader(c, q), c.params.quota));
};
export const getOrgLimit: ApiHandler = async (c) => {
  const q = service(c);
  return sendJson(c.reply, 200, await q.getLimit(await orgReader(c, q), c.params.quota, c.params.limit));
};
export const createOrgLimit: ApiHandler = async (c) => createLimit(c, await orgWriter(c, service(c), 'create quota limits'));
export const changeOrgLimit: ApiHandler = async (c) => changeLimit(c, await orgWriter(c, service(c), 'change quota limits'));
export const deleteOrgLimit: ApiHandler = async (c) => deleteLimit(c, await orgWriter(c, service(c), 'delete quota limits'));

// ---- shared by the organization and superuser paths ----

async function changeQuota(c: ApiCall, namespace: string) {
  const q = service(c);
  const bytes = limitBytesOf(body(c.req), false);
  const view = bytes === undefined ? await q.get(namespace, c.params.quota) : await q.update(namespace, c.params.quota, bytes);
  if (bytes !== undefined) audit(c, namespace, 'org_change_quota', { quota_id: view.id, limit_bytes: view.limit_bytes });
  return sendJson(c.reply, 200, view);
}

async function deleteQuota(c: ApiCall, namespace: string) {
  await service(c).delete(namespace, c.params.quota);
  audit(c, namespace, 'org_delete_quota', { quota_id: c.params.quota });
  return c.reply.code(204).send();
}

async function createLimit(c: ApiCall, namespace: string) {
  const b = body(c.req);
  const l = await service(c).createLimit(namespace, c.params.quota, { type: b.type, threshold_percent: b.threshold_percent });
  audit(c, namespace, 'org_create_quota_limit', {
    quota_id: c.params.quota,
    limit_id: l.id,
    type: l.type,
    threshold_percent: l.limit_percent,
  });
  return sendJson(c.reply, 201, 'Created');
}

async function changeLimit(c: ApiCall, namespace: string) {
  const b = body(c.req);
  const view = await service(c).updateLimit(namespace, c.params.quota, c.params.limit, {
    type: b.type,
    threshold_percent: b.threshold_percent,
  });
  audit(c, namespace, 'org_change_quota_limit', { quota_id: c.params.quota, limit_id: c.params.limit });
  return sendJson(c.reply, 200, view);
}

async function deleteLimit(c: ApiCall, namespace: string) {
  await service(c).deleteLimit(namespace, c.params.quota, c.params.limit);
  audit(c, namespace, 'org_delete_quota_limit', { quota_id: c.params.quota, limit_id: c.params.limit });
  return c.reply.code(204).send();
}

// ---- /user/quota… (the signed-in user's own namespace) ----

function self(p: Principal): string {
  return requireUserCaller(p).name;
}

export const listUserQuota: ApiHandler = async (c) => sendJson(c.reply, 200, await service(c).list(self(c.principal)));
export const getUserQuota: ApiHandler = async (c) => sendJson(c.reply, 200, await service(c).get(self(c.principal), c.params.quota));
export const listUserLimits: ApiHandler = async (c) =>
  sendJson(c.reply, 200, await service(c).listLimits(self(c.principal), c.params.quota));
export const getUserLimit: ApiHandler = async (c) =>
  sendJson(c.reply, 200, await service(c).getLimit(self(c.principal), c.params.quota, c.params.limit));

// ---- /superuser/users/:namespace/quota… and /superuser/organization/:namespace/quota… ----

async function superNamespace(c: ApiCall, what: string, write: boolean): Promise<string> {
  const q = service(c);
  if (write) requireEditor(c, q, what);
  else if (!c.deps.accounts.perms.isSuper(c.principal)) throw deny(c.principal, `only a superuser can ${what}`);
  await q.namespace(c.params.namespace);
  return c.params.namespace;
}

export const superListQuota: ApiHandler = async (c) =>
  sendJson(c.reply, 200, await service(c).list(await superNamespace(c, 'list the quotas of other namespaces', false)));

export const superCreateQuota: ApiHandler = async (c) => {
  const ns = await superNamespace(c, 'create quotas', true);
  const created = await service(c).create(ns, limitBytesOf(body(c.req), true) as number, `Quota for '${ns}' already exists`);
  audit(c, ns, 'org_create_quota', { quota_id: created.id, limit_bytes: created.limit_bytes });
  return sendJson(c.reply, 201, 'Created');
};
export const superChangeQuota: ApiHandler = async (c) => changeQuota(c, await superNamespace(c, 'change quotas', true));
export const superDeleteQuota: ApiHandler = async (c) => deleteQuota(c, await superNamespace(c, 'delete quotas', true));
export const superListLimits: ApiHandler = async (c) =>
  sendJson(c.reply, 200, await service(c).listLimits(await superNamespace(c, 'read quota limits', false), c.params.quota));
export const superCreateLimit: ApiHandler = async (c) => createLimit(c, await superNamespace(c, 'create quota limits', true));
export const superChangeLimit: ApiHandler = async (c) => changeLimit(c, await superNamespace(c, 'change quota limits', true));
export const superDeleteLimit: ApiHandler = async (c) => deleteLimit(c, await superNamespace(c, 'delete quota limits', true));
