// /api/v1 audit logs and repository notifications, in Quay's paths and shapes (rows in route-table.ts):
//   GET …/logs, …/aggregatelogs, …/exportlogs   for a repository, an organization, the signed-in user, the superuser
//   POST/GET …/repository/{repo}/notification/, GET/DELETE/POST …/notification/{uuid}, POST …/{uuid}/test
// Logs are readable by repository admins, organization admins and superusers only.
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AuditQueryError, parseKinds, parseRange, type LogFilter, type LogScope } from '../../services/audit/query.js';
import { NotificationError } from '../../services/notifications/service.js';
import { auditLater } from '../audit-hook.js';
import { ApiError } from './errors.js';
import { deny, requireSignedIn, requireUserCaller, sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';

const logQuery = z.object({
  starttime: z.string().max(64).optional(),
  endtime: z.string().max(64).optional(),
  performer: z.string().min(1).max(255).optional(),
  kind: z.string().max(2000).optional(),
  next_page: z.string().max(512).optional(),
});

export type { AuditApi } from './types.js';

type What = 'logs' | 'aggregatelogs' | 'exportlogs';

function filterOf(c: ApiCall): { f: LogFilter; page?: string } {
  const q = logQuery.parse(c.req.query);
  try {
    const { start, end } = parseRange(q.starttime, q.endtime, c.deps.audit.now());
    return { f: { start, end, performer: q.performer, kinds: parseKinds(q.kind) }, page: q.next_page };
  } catch (e) {
    if (e instanceof AuditQueryError) throw new ApiError(400, e.message);
    throw e;
  }
}

async function answer(c: ApiCall, what: What, scope: LogScope, label: string): Promise<FastifyReply> {
  const { f, page } = filterOf(c);
  const { queries } = c.deps.audit;
  try {
    if (what === 'logs') return sendJson(c.reply, 200, await queries.lookup(scope, f, page));
    if (what === 'aggregatelogs') return sendJson(c.reply, 200, await queries.aggregate(scope, f));
  } catch (e) {
    if (e instanceof AuditQueryError) throw new ApiError(400, e.message);
    throw e;
  }
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  c.reply
    .code(200)
    .header('Content-Type', 'application/x-ndjson; charset=utf-8')
    .header(
      'Content-Disposition',
      `attachment; filename="${label.replace(/[^A-Za-z0-9._-]/g, '_')}-logs-${day(f.start)}-${day(f.end - 1)}.jsonl"`,
    );
  return c.reply.send(Readable.from(queries.exportLines(scope, f)));
}

/** Repository logs: admins of the repository and superusers. */
export const repositoryLogs =
  (what: What): ApiHandler =>
  async (c) => {
    const { repo } = await c.deps.accounts.repos.requireAccess(c.principal, c.params.name, 'admin');
    return answer(c, what, { repository: repo.name }, repo.name);
  };

/** Organization logs: its admins and superusers. */
export const organizationLogs =
  (what: What): ApiHandler =>
  async (c) => {
    const { org } = c.params;
    requireSignedIn(c.principal);
    await c.deps.accounts.orgs.get(org);
    if (!(await c.deps.accounts.perms.isNamespaceAdmin(c.principal, org)))
      throw deny(c.principal, `only administrators of organization "${org}" and superusers can read its logs`);
    return answer(c, what, { namespace: org }, org);
  };

/** The signed-in user's own namespace. */
export const userLogs =
  (what: What): ApiHandler =>
  async (c) => {
    const p = requireUserCaller(c.principal);
    return answer(c, what, { namespace: p.name }, p.name);
  };

/** Everything: superusers. */
export const superuserLogs =
  (what: What): ApiHandler =>
  async (c) => {
    const p = requireUserCaller(c.principal);
    if (!c.deps.accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can read the logs of the whole registry');
    return answer(c, what, { all: true }, 'registry');
  };

/** Repository notifications: admins of the repository; NotificationError -> its status. */
const notification =
  (fn: (c: ApiCall, repo: { id: number; name: string }, meta: Record<string, string>) => Promise<unknown>): ApiHandler =>
  async (c) => {
    const { repo } = await c.deps.accounts.repos.requireAccess(c.principal, c.params.name, 'admin');
    const i = repo.name.indexOf('/');
    try {
      return await fn(c, repo, { repo: repo.name.slice(i + 1), namespace: repo.name.slice(0, i) });
    } catch (e) {
      if (e instanceof NotificationError) throw new ApiError(e.status, e.message);
      throw e;
    }
  };

export const listNotifications = notification(async ({ reply, deps }, repo) =>
  sendJson(reply, 200, { notifications: await deps.audit.notifications.list(repo.id) }),
);

export const createNotification = notification(async ({ req, reply, deps }, repo, meta) => {
  const created = await deps.audit.notifications.create(repo.id, req.body);
  auditLater(req, {
    kind: 'add_repo_notification',
    repository: repo.name,
    metadata: { ...meta, notification_id: created.uuid, event: created.event, method: created.method },
  });
  return sendJson(reply, 201, created);
});

export const getNotification = notification(async ({ reply, params, deps }, repo) =>
  sendJson(reply, 200, await deps.audit.notifications.get(repo.id, params.uuid)),
);

export const deleteNotification = notification(async ({ req, reply, params, deps }, repo, meta) => {
  const gone = await deps.audit.notifications.delete(repo.id, params.uuid);
  auditLater(req, {
    kind: 'delete_repo_notification',
    repository: repo.name,
    metadata: { ...meta, notification_id: gone.uuid, event: gone.event, method: gone.method },
  });
  return reply.code(204).send();
});

/** Quay's reset: number_of_failures back to 0. */
export const resetNotification = notification(async ({ req, reply, params, deps }, repo, meta) => {
  await deps.audit.notifications.reset(repo.id, params.uuid);
  auditLater(req, { kind: 'reset_repo_notification', repository: repo.name, metadata: { ...meta, notification_id: params.uuid } });
  return reply.code(204).send();
});

export const testNotification = notification(async ({ reply, params, deps }, repo) => {
  await deps.audit.notifications.test(repo.id, repo.name, params.uuid);
  return sendJson(reply, 200, {});
});

export const notificationDeliveries = notification(async ({ reply, params, deps }, repo) =>
  sendJson(reply, 200, { deliveries: await deps.audit.notifications.deliveries(repo.id, params.uuid) }),
);
