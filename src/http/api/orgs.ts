// /api/v1/organization: organizations, their robots and teams (Quay's paths and shapes).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AccountServices } from '../../services/accounts/index.js';
import { deny, requireSignedIn, requireUserCaller, sendJson } from './principal.js';
import { teamSyncRoutes, teamSyncView } from './team-sync.js';

const createOrgBody = z.object({ name: z.string().min(1).max(255), email: z.string().max(320).optional() });
const teamBody = z.object({ role: z.enum(['member', 'creator', 'admin']), description: z.string().max(1024).optional() });

type P = { org: string; short?: string; team?: string; member?: string };

export async function orgRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;

  /** The org must exist (404) and the caller must administer it (401/403). */
  const orgAdmin = async (req: FastifyRequest): Promise<string> => {
    const { org } = req.params as P;
    await accounts.orgs.get(org);
    if (!(await accounts.perms.isNamespaceAdmin(req.principal!, org))) throw deny(req, `you are not an administrator of organization "${org}"`);
    return org;
  };
  const orgMember = async (req: FastifyRequest): Promise<string> => {
    const { org } = req.params as P;
    await accounts.orgs.get(org);
    if (!(await accounts.perms.isOrgMember(req.principal!, org))) throw deny(req, `you are not a member of organization "${org}"`);
    return org;
  };

  app.post('/organization/', async (req, reply) => {
    const p = requireUserCaller(req);
    const b = createOrgBody.parse(req.body);
    await accounts.orgs.create(b.name, b.email, p);
    return sendJson(reply, 201, 'Created');
  });

  app.get('/organization/:org', async (req, reply) => {
    const { org } = req.params as P;
    const o = await accounts.orgs.get(org);
    const p = req.principal!;
    const isAdmin = await accounts.perms.isNamespaceAdmin(p, org);
    const isMember = await accounts.perms.isOrgMember(p, org);
    const body: Record<string, unknown> = { name: o.name, is_admin: isAdmin, is_member: isMember };
    if (isMember) {
      body.email = o.email;
      const teams = await accounts.teams.list(org);
      body.teams = Object.fromEntries(teams.map((t) => [t.name, { name: t.name, role: t.role, description: t.description, member_count: t.memberCount }]));
    }
    return sendJson(reply, 200, body);
  });

  app.delete('/organization/:org', async (req, reply) => {
    requireSignedIn(req);
    const org = await orgAdmin(req);
    await accounts.orgs.delete(org);
    return reply.code(204).send();
  });

  app.get('/organization/:org/robots', async (req, reply) => {
    const org = await orgAdmin(req);
    const list = await accounts.robots.list(org);
    return sendJson(reply, 200, { robots: list.map((r) => ({ name: r.name, created: new Date(r.created_at).toUTCString() })) });
  });
  app.get('/organization/:org/robots/:short', async (req, reply) => {
    const org = await orgAdmin(req);
    const r = await accounts.robots.get(org, (req.params as P).short!);
    return sendJson(reply, 200, { name: r.name, created: new Date(r.created_at).toUTCString() });
  });
  app.put('/organization/:org/robots/:short', async (req, reply) => {
    const org = await orgAdmin(req);
    const r = await accounts.robots.create(org, (req.params as P).short!);
    return sendJson(reply, 201, { name: r.name, token: r.token, created: new Date(r.created_at).toUTCString() });
  });
  app.post('/organization/:org/robots/:short/regenerate', async (req, reply) => {
    const org = await orgAdmin(req);
    const r = await accounts.robots.regenerate(org, (req.params as P).short!);
    return sendJson(reply, 200, { name: r.name, token: r.token });
  });
  app.delete('/organization/:org/robots/:short', async (req, reply) => {
    const org = await orgAdmin(req);
    await accounts.robots.delete(org, (req.params as P).short!);
    return reply.code(204).send();
  });

  app.put('/organization/:org/team/:team', async (req, reply) => {
    const org = await orgAdmin(req);
    const b = teamBody.parse(req.body);
    const t = await accounts.teams.upsert(org, (req.params as P).team!, b.role, b.description);
    return sendJson(reply, 200, { name: t.name, role: t.role, description: t.description, member_count: t.memberCount });
  });
  app.delete('/organization/:org/team/:team', async (req, reply) => {
    const org = await orgAdmin(req);
    await accounts.teams.delete(org, (req.params as P).team!);
    return reply.code(204).send();
  });
  app.get('/organization/:org/team/:team/members', async (req, reply) => {
    const org = await orgMember(req);
    const members = await accounts.teams.members(org, (req.params as P).team!);
    const sync = await teamSyncView(accounts, org, (req.params as P).team!, await accounts.perms.isNamespaceAdmin(req.principal!, org));
    return sendJson(reply, 200, { name: (req.params as P).team, members: members.map((m) => ({ name: m.name, kind: m.kind, is_robot: m.kind === 'robot' })), ...sync });
  });
  app.put('/organization/:org/team/:team/members/:member', async (req, reply) => {
    const org = await orgAdmin(req);
    const { team, member } = req.params as P;
    const m = await accounts.teams.addMember(org, team!, member!);
    return sendJson(reply, 200, { name: m.name, kind: m.kind, is_robot: m.kind === 'robot' });
  });
  app.delete('/organization/:org/team/:team/members/:member', async (req, reply) => {
    const org = await orgAdmin(req);
    const { team, member } = req.params as P;
    await accounts.teams.removeMember(org, team!, member!);
    return reply.code(204).send();
  });
  await teamSyncRoutes(app, { accounts, orgAdmin });
}
