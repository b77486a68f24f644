// /api/v1/repository/{name}/changestate and …/mirror[/sync-now|/sync-cancel]: Quay's repository state and
// repository mirroring (docs/MIRRORING.md). Repository admins only; served when FEATURE_REPO_MIRROR is on.
import { z } from 'zod';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';
import { auditLater } from '../audit-hook.js';
import type { MirrorChange } from '../../services/mirror/config-store.js';

const stateBody = z.object({ state: z.string().max(40) }).strict();
// external_registry_config.proxy is checked by the service (services/proxy-settings.ts): each key's reason, never the value.
const proxy = z.unknown();
const mirrorBody = z
  .object({
    is_enabled: z.boolean().optional(),
    external_reference: z.string().max(512).optional(),
    external_registry_username: z.string().max(255).nullable().optional(),
    external_registry_password: z.string().max(4096).nullable().optional(),
    external_registry_config: z
      .object({ verify_tls: z.boolean().optional(), unsigned_images: z.boolean().optional(), proxy: proxy.optional() })
      .strict()
      .optional(),
    sync_interval: z.number().int().optional(),
    sync_start_date: z.string().max(64).optional(),
    robot_username: z.string().max(255).nullable().optional(),
    root_rule: z
      .object({ rule_kind: z.string().max(64), rule_value: z.array(z.string().max(255)).max(100) })
      .strict()
      .optional(),
  })
  .strict();

/** The mirror service after the feature and permission checks (admin on the repository). */
async function admin({ params: { name }, principal, deps }: ApiCall) {
  if (!deps.mirror) throw new ApiError(404, 'repository mirroring is not enabled on this registry (FEATURE_REPO_MIRROR)');
  await deps.accounts.repos.requireAccess(principal, name, 'admin');
  return deps.mirror;
}

function logChanges(c: ApiCall, changes: MirrorChange[]): void {
  const name = c.params.name;
  const i = name.indexOf('/');
  for (const ch of changes)
    auditLater(c.req, {
      kind: 'repo_mirror_config_changed',
      repository: name,
      metadata: { repo: name.slice(i + 1), namespace: name.slice(0, i), changed: ch.changed, to: ch.to },
    });
}

export const changeState: ApiHandler = async (c) => {
  const mirror = await admin(c);
  const b = stateBody.parse(c.req.body);
  const state = await mirror.changeState(c.params.name, b.state);
  const name = c.params.name;
  const i = name.indexOf('/');
  auditLater(c.req, {
    kind: 'change_repo_state',
    repository: name,
    metadata: { repo: name.slice(i + 1), namespace: name.slice(0, i), state_changed: state },
  });
  return sendJson(c.reply, 200, { success: true });
};

export const getMirror: ApiHandler = async (c) => {
  const mirror = await admin(c);
  return sendJson(c.reply, 200, await mirror.get(c.params.name));
};

export const createMirror: ApiHandler = async (c) => {
  const mirror = await admin(c);
  const b = mirrorBody.parse(c.req.body);
  logChanges(c, await mirror.create(c.params.name, b));
  return c.reply.code(201).header('Content-Type', 'application/json').send('""');
};

export const updateMirror: ApiHandler = async (c) => {
  const mirror = await admin(c);
  const b = mirrorBody.parse(c.req.body);
  logChanges(c, await mirror.update(c.params.name, b));
  return c.reply.code(201).header('Content-Type', 'application/json').send('""');
};

export const syncNow: ApiHandler = async (c) => {
  const mirror = await admin(c);
  await mirror.syncNow(c.params.name);
  logChanges(c, [{ changed: 'sync_status', to: 'SYNC_NOW' }]);
  return c.reply.code(204).send();
};

export const syncCancel: ApiHandler = async (c) => {
  const mirror = await admin(c);
  await mirror.cancel(c.params.name);
  logChanges(c, [{ changed: 'sync_status', to: 'SYNC_CANCEL' }]);
  return c.reply.code(204).send();
};
