// /api/v1 audit logs and repository notifications, in Quay's paths and shapes:
//   GET …/logs, …/aggregatelogs, …/exportlogs   for a repository, an organization, the signed-in user, the superuser
//   POST/GET …/repository/{repo}/notification/, GET/DELETE/POST …/notification/{uuid}, POST …/{uuid}/test
// Logs are readable by repository admins, organization admins and superusers only. The repository paths
// are matched from repos.ts (repository names contain "/").
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RepoRole } from '../../db/types.js';
import type { AccountServices } from '../../services/accounts/index.js';
import { AuditQueryError, parseKinds, parseRange, type AuditQueries, type LogFilter, type LogScope } from '../../services/audit/query.js';
import { NotificationError, type NotificationService } from '../../services/notifications/service.js';
import { auditLater } from '../audit-hook.js';
import { ApiError } from './errors.js';
import { deny, requireSignedIn, requireUserCaller, sendJson } from './principal.js';

const logQuery = z.object({
  starttime: z.string().max(64).optional(),
  endtime: z.string().max(64).optional(),
  performer: z.string().min(1).max(255).optional(),
  kind: z.string().max(2000).optional(),
  next_page: z.string().max(512).optional(),
});

export interface AuditApi { queries: AuditQueries; notifications: NotificationService; now: () => number }

type Need = (req: FastifyRequest, name: string, role: RepoRole) => Promise<{ repo: { id: number; name: string } }>;

export type RepositoryExtraPath =
  | { name: string; kind: 'logs' | 'aggregatelogs' | 'exportlogs' }
  | { name: string; kind: 'notifications' }
  | { name: string; kind: 'notification' | 'notification-test' | 'notification-deliveries'; uuid: string };

export function matchRepositoryExtraPath(rest: string): RepositoryExtraPath | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/(logs|aggregatelogs|exportlogs)$/.exec(rest))) return { name: m[1], kind: m[2] as 'logs' };
  if ((m = /^(.+)\/notification\/?$/.exec(rest))) return { name: m[1], kind: 'notifications' };
  if ((m = /^(.+)\/notification\/([^/]+)\/test$/.exec(rest))) return { name: m[1], kind: 'notification-test', uuid: m[2] };
  if ((m = /^(.+)\/notification\/([^/]+)\/deliveries$/.exec(rest))) return { name: m[1], kind: 'notification-deliveries', uuid: m[2] };
  if ((m = /^(.+)\/notification\/([^/]+)$/.exec(rest))) return { name: m[1], kind: 'notification', uuid: m[2] };
  return undefined;
}

/** The method x pattern pairs served through matchRepositoryExtraPath (the authorization matrix covers each). */
export const REPOSITORY_EXTRA_ENDPOINTS: readonly { method: string; url: string }[] = [
  { method: 'GET', url: '/repository/:name/logs' },
  { method: 'GET', url: '/repository/:name/aggregatelogs' },
  { method: 'GET', url: '/repository/:name/exportlogs' },
  { method: 'GET', url: '/repository/:name/notification/' },
  { method: 'POST', url: '/repository/:name/notification/' },
  { method: 'GET', url: '/repository/:name/notification/:uuid' },
  { method: 'DELETE', url: '/repository/:name/notification/:uuid' },
  { method: 'POST', url: '/repository/:name/notification/:uuid' },
  { method: 'POST', url: '/repository/:name/notification/:uuid/test' },
  { method: 'GET', url: '/repository/:name/notification/:uuid/deliveries' },
];

function filterOf(req: FastifyRequest, now: number): { f: LogFilter; page?: string } {
  const q = logQuery.parse(req.query);
  try {
    const { start, end } = parseRange(q.starttime, q.endtime, now);
    return { f: { start, end, performer: q.performer, kinds: parseKinds(q.kind) }, page: q.next_page };
  } catch (e) {
    if (e instanceof AuditQueryError) throw new ApiError(400, e.message);
    throw e;
  }
}

async function answer(req: FastifyRequest, reply: FastifyReply, api: AuditApi, what: 'logs' | 'aggregatelogs' | 'exportlogs', scope: LogScope, label: string): Promise<FastifyReply> {
  const { f, page } = filterOf(req, api.now());
  try {
    if (what === 'logs') return sendJson(reply, 200, await api.queries.lookup(scope, f, page));
    if (what === 'aggregatelogs') return sendJson(reply, 200, await api.queries.aggregate(scope, f));
  } catch (e) {
    if (e instanceof AuditQueryError) throw new ApiError(400, e.message);
    throw e;
  }
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  reply.code(200).header('Content-Type', 'application/x-ndjson; charset=utf-8')
    .header('Content-Disposition', `attachment; filename="${label.replace(/[^A-Za-z0-9._-]/g, '_')}-logs-${day(f.start)}-${day(f.end - 1)}.jsonl"`);
  const { Readable } = await import('node:stream');
  return reply.send(Readable.from(api.queries.exportLines(scope, f)));
}

export async function handleRepositoryExtraPath(req: FastifyRequest, reply: FastifyReply, p: RepositoryExtraPath, api: AuditApi, need: Need): Promise<FastifyReply> {
  const key = `${req.method} ${p.kind}`;
  const allowed = p.kind === 'notifications' ? ['GET', 'POST'] : p.kind === 'notification' ? ['GET', 'DELETE', 'POST'] : p.kind === 'notification-test' ? ['POST'] : ['GET'];
  if (!allowed.includes(req.method)) throw new ApiError(405, `${req.method} is not supported here`);
  const { repo } = await need(req, p.name, 'admin');
  const i = repo.name.indexOf('/');
  const meta = { repo: repo.name.slice(i + 1), namespace: repo.name.slice(0, i) };
  if (p.kind === 'logs' || p.kind === 'aggregatelogs' || p.kind === 'exportlogs') return answer(req, reply, api, p.kind, { repository: repo.name }, repo.name);
  const n = api.notifications;
  try {
    switch (key) {
      case 'GET notifications':
        return sendJson(reply, 200, { notifications: await n.list(repo.id) });
      case 'POST notifications': {
        const created = await n.create(repo.id, req.body);
        auditLater(req, { kind: 'add_repo_notification', repository: repo.name, metadata: { ...meta, notification_id: created.uuid, event: created.event, method: created.method } });
        return sendJson(reply, 201, created);
      }
      case 'GET notification':
        return sendJson(reply, 200, await n.get(repo.id, (p as { uuid: string }).uuid));
      case 'DELETE notification': {
        const gone = await n.delete(repo.id, (p as { uuid: string }).uuid);
        auditLater(req, { kind: 'delete_repo_notification', repository: repo.name, metadata: { ...meta, notification_id: gone.uuid, event: gone.event, method: gone.method } });
        return reply.code(204).send();
      }
      case 'POST notification': {
        await n.reset(repo.id, (p as { uuid: string }).uuid);
        auditLater(req, { kind: 'reset_repo_notification', repository: repo.name, metadata: { ...meta, notification_id: (p as { uuid: string }).uuid } });
        return reply.code(204).send();
      }
      case 'POST notification-test':
        await n.test(repo.id, repo.name, (p as { uuid: string }).uuid);
        return sendJson(reply, 200, {});
      case 'GET notification-deliveries':
        return sendJson(reply, 200, { deliveries: await n.deliveries(repo.id, (p as { uuid: string }).uuid) });
      default:
        throw new ApiError(405, `${req.method} is not supported here`);
    }
  } catch (e) {
    if (e instanceof NotificationError) throw new ApiError(e.status, e.message);
    throw e;
  }
}

/** The organization, user and superuser log routes. */
export async function auditRoutes(app: FastifyInstance, opts: { accounts: AccountServices; api: AuditApi }): Promise<void> {
  const { accounts, api } = opts;
  for (const what of ['logs', 'aggregatelogs', 'exportlogs'] as const) {
    app.get(`/organization/:org/${what}`, async (req, reply) => {
      const { org } = req.params as { org: string };
      requireSignedIn(req);
      await accounts.orgs.get(org);
      if (!(await accounts.perms.isNamespaceAdmin(req.principal!, org))) throw deny(req, `only administrators of organization "${org}" and superusers can read its logs`);
      return answer(req, reply, api, what, { namespace: org }, org);
    });
    app.get(`/user/${what}`, async (req, reply) => {
      const p = requireUserCaller(req);
      return answer(req, reply, api, what, { namespace: p.name }, p.name);
    });
    app.get(`/superuser/${what}`, async (req, reply) => {
      const p = requireUserCaller(req);
      if (!accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can read the logs of the whole registry');
      return answer(req, reply, api, what, { all: true }, 'registry');
    });
  }
}
