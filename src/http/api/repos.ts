// /api/v1/repository: create, list, read, update, delete; visibility; permissions for users, robots and teams;
// tags (list with paging and name filter, history, move, delete, restore). Repository names contain "/", so the path is matched here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RepoRole } from '../../db/types.js';
import type { AccountServices } from '../../services/accounts/index.js';
import { atLeast } from '../../services/accounts/permissions.js';
import { parseTagNameFilter, type TagService } from '../../services/tags.js';
import type { ArtifactService } from '../../services/artifacts.js';
import { handleArtifactPath, matchArtifactPath } from './artifacts.js';
import { handlePullStatsPath, matchPullStatsPath } from './pull-stats.js';
import { matchSecurityPath, type SecurityHandler } from './security.js';
import { ApiError } from './errors.js';
import { requireSignedIn, sendJson } from './principal.js';

const createBody = z.object({
  namespace: z.string().min(1).max(255), repository: z.string().min(1).max(255),
  visibility: z.enum(['public', 'private']).default('private'), description: z.string().max(65_536).nullable().optional(),
  repo_kind: z.enum(['image']).optional(),
});
const updateBody = z.object({ description: z.string().max(65_536).nullable() });
const visibilityBody = z.object({ visibility: z.enum(['public', 'private']) });
const roleBody = z.object({ role: z.enum(['read', 'write', 'admin']) });
const moveTagBody = z.object({ manifest_digest: z.string().min(1).max(200) });
const pageQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50), page: z.coerce.number().int().min(1).max(1_000_000).default(1) });
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const tagQuery = pageQuery.extend({
  onlyActiveTags: flag.default(true), specificTag: z.string().min(1).max(128).optional(), filter_tag_name: z.string().max(140).optional(),
});

type Sub = { name: string; kind: 'repo' | 'tags' | 'tag' | 'restore' | 'perms' | 'perm' | 'visibility'; who?: 'user' | 'team'; arg?: string };

/** Every method x pattern served behind the /repository/* route (here and in artifacts.ts); `dispatch` handles exactly these. */
export const REPOSITORY_ENDPOINTS: readonly { method: string; url: string }[] = [
  ...['GET', 'PUT', 'DELETE'].map((method) => ({ method, url: '/repository/:name' })),
  { method: 'POST', url: '/repository/:name/changevisibility' },
  ...['user', 'team'].flatMap((who) => [
    { method: 'GET', url: `/repository/:name/permissions/${who}/` },
    ...['GET', 'PUT', 'DELETE'].map((method) => ({ method, url: `/repository/:name/permissions/${who}/:member` })),
  ]),
  { method: 'GET', url: '/repository/:name/tag/' },
  ...['PUT', 'DELETE'].map((method) => ({ method, url: '/repository/:name/tag/:tag' })),
  { method: 'POST', url: '/repository/:name/tag/:tag/restore' },
  { method: 'GET', url: '/repository/:name/charts' },
  { method: 'GET', url: '/repository/:name/manifest/:digest' },
  { method: 'GET', url: '/repository/:name/manifest/:digest/security' },
  { method: 'GET', url: '/repository/:name/tag/:tag/pull_statistics' },
  { method: 'GET', url: '/repository/:name/manifest/:digest/pull_statistics' },
];

function parseSub(rest: string): Sub | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/tag\/?$/.exec(rest))) return { name: m[1], kind: 'tags' };
  if ((m = /^(.+)\/tag\/([^/]+)$/.exec(rest))) return { name: m[1], kind: 'tag', arg: m[2] };
  if ((m = /^(.+)\/tag\/([^/]+)\/restore$/.exec(rest))) return { name: m[1], kind: 'restore', arg: m[2] };
  if ((m = /^(.+)\/permissions\/(user|team)\/?$/.exec(rest))) return { name: m[1], kind: 'perms', who: m[2] as 'user' | 'team' };
  if ((m = /^(.+)\/permissions\/(user|team)\/([^/]+)$/.exec(rest))) return { name: m[1], kind: 'perm', who: m[2] as 'user' | 'team', arg: m[3] };
  if ((m = /^(.+)\/changevisibility$/.exec(rest))) return { name: m[1], kind: 'visibility' };
  if (rest) return { name: rest.replace(/\/$/, ''), kind: 'repo' };
  return undefined;
}

export async function repoRoutes(app: FastifyInstance, opts: { accounts: AccountServices; tags: TagService; artifacts?: ArtifactService; security?: SecurityHandler }): Promise<void> {
  const { accounts, tags } = opts;

  /** The caller needs `needed` on the repository (the one repository access check: RepoService.requireAccess). */
  const need = (req: FastifyRequest, name: string, needed: RepoRole) => accounts.repos.requireAccess(req.principal!, name, needed);

  app.post('/repository', async (req, reply) => {
    const p = requireSignedIn(req);
    const b = createBody.parse(req.body);
    const full = `${b.namespace}/${b.repository}`;
    accounts.repos.requireName(full);
    if (!(await accounts.perms.canCreateIn(p, b.namespace))) {
      await accounts.repos.view(full).catch(() => undefined);
      throw new ApiError(403, `you may not create repositories in namespace "${b.namespace}"`);
    }
    await accounts.repos.create(p, full, b.visibility, b.description);
    return sendJson(reply, 201, { namespace: b.namespace, name: b.repository, kind: 'image' });
  });

  app.get('/repository', async (req, reply) => {
    const q = z.object({ namespace: z.string().max(255).optional() }).parse(req.query);
    const list = await accounts.repos.list(req.principal!, q.namespace);
    return sendJson(reply, 200, { repositories: list.map((r) => ({ ...r, kind: 'image' })) });
  });

  app.route({
    method: ['GET', 'PUT', 'POST', 'DELETE'],
    url: '/repository/*',
    handler: async (req, reply) => {
      const url = req.raw.url ?? '';
      const path = url.split('?')[0].replace(/^\/api\/v1\/repository\//, '');
      let rest: string;
      try {
        rest = decodeURIComponent(path);
      } catch {
        throw new ApiError(400, 'the path is not valid percent-encoding');
      }
      const sec = opts.security && matchSecurityPath(rest);
      if (sec) return sendJson(reply, 200, await opts.security!(req, sec.name, sec.digest));
      const pulls = accounts.ctx.pulls && matchPullStatsPath(rest);
      if (pulls) return handlePullStatsPath(req, reply, pulls, accounts.ctx.pulls!, need);
      const art = opts.artifacts && matchArtifactPath(rest);
      if (art) return handleArtifactPath(req, reply, art, opts.artifacts!, need);
      const sub = parseSub(rest);
      if (!sub) throw new ApiError(404, 'no such endpoint');
      return dispatch(req, reply, sub);
    },
  });

  const dispatch = async (req: FastifyRequest, reply: FastifyReply, sub: Sub) => {
    const { name } = sub;
    const key = `${req.method} ${sub.kind}`;
    switch (key) {
      case 'GET repo': {
        const { role } = await need(req, name, 'read');
        const v = await accounts.repos.view(name);
        return sendJson(reply, 200, { ...v, kind: 'image', can_write: atLeast(role, 'write'), can_admin: atLeast(role, 'admin') });
      }
      case 'PUT repo': {
        await need(req, name, 'write');
        const b = updateBody.parse(req.body);
        return sendJson(reply, 200, { ...(await accounts.repos.update(name, { description: b.description })), kind: 'image', success: true });
      }
      case 'DELETE repo':
        await need(req, name, 'admin');
        await accounts.repos.delete(name);
        return reply.code(204).send();
      case 'POST visibility': {
        await need(req, name, 'admin');
        const b = visibilityBody.parse(req.body);
        await accounts.repos.update(name, { visibility: b.visibility });
        return sendJson(reply, 200, { success: true });
      }
      case 'GET perms': {
        await need(req, name, 'admin');
        const all = await accounts.repos.permissions(name);
        const list = sub.who === 'user' ? all.users : all.teams;
        return sendJson(reply, 200, { permissions: Object.fromEntries(list.map((x) => [x.name, x])) });
      }
      case 'GET perm': {
        await need(req, name, 'admin');
        const all = await accounts.repos.permissions(name);
        const found = (sub.who === 'user' ? all.users : all.teams).find((x) => x.name === sub.arg);
        if (!found) throw new ApiError(404, `"${sub.arg!.slice(0, 100)}" has no permission on "${name}"`);
        return sendJson(reply, 200, found);
      }
      case 'PUT perm': {
        await need(req, name, 'admin');
        const b = roleBody.parse(req.body);
        const r = sub.who === 'user' ? await accounts.repos.setUserPermission(name, sub.arg!, b.role) : await accounts.repos.setTeamPermission(name, sub.arg!, b.role);
        return sendJson(reply, 200, r);
      }
      case 'DELETE perm':
        await need(req, name, 'admin');
        if (sub.who === 'user') await accounts.repos.removeUserPermission(name, sub.arg!);
        else await accounts.repos.removeTeamPermission(name, sub.arg!);
        return reply.code(204).send();
      case 'GET tags': {
        await need(req, name, 'read');
        const q = tagQuery.parse(req.query);
        const filter = q.filter_tag_name === undefined ? undefined : parseTagNameFilter(q.filter_tag_name);
        return sendJson(reply, 200, await tags.list(name, { limit: q.limit, page: q.page, onlyActive: q.onlyActiveTags, specificTag: q.specificTag, filter }));
      }
      case 'PUT tag': {
        await need(req, name, 'write');
        const b = moveTagBody.parse(req.body);
        await tags.move(name, sub.arg!, b.manifest_digest);
        return sendJson(reply, 201, 'Updated');
      }
      case 'POST restore': {
        await need(req, name, 'write');
        const b = moveTagBody.parse(req.body);
        await tags.restore(name, sub.arg!, b.manifest_digest);
        return sendJson(reply, 200, {});
      }
      case 'DELETE tag':
        await need(req, name, 'write');
        await tags.delete(name, sub.arg!);
        return reply.code(204).send();
      default:
        throw new ApiError(405, `${req.method} is not supported here`);
    }
  };
}
