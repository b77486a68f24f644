// /api/v1/organization: organizations, their robots and teams (Quay's paths and shapes; handlers of the rows
// in route-table.ts).
import { z } from 'zod';
import { deny, requireSignedIn, requireUserCaller, sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';
import { teamSyncView } from './team-sync.js';
import { orgQuotaFields } from './quota-report.js';

const createOrgBody = z.object({ name: z.string().min(1).max(255), email: z.string().max(320).optional() });
const teamBody = z.object({ role: z.enum(['member', 'creator', 'admin']), description: z.string().max(1024).optional() });

/** The org must exist (404) and the caller must administer it (401/403). */
async function orgAdmin({ params, principal, deps: { accounts } }: ApiCall): Promise<string> {
  const { org } = params;
  await accounts.orgs.get(org);
  if (!(await accounts.perms.isNamespaceAdmin(principal, org)))
    throw deny(principal, `you are not an administrator of organization "${org}"`);
  return org;
}

async function orgMember({ params, principal, deps: { accounts } }: ApiCall): Promise<string> {
  const { org } = params;
  await accounts.orgs.get(org);
  if (!(await accounts.perms.isOrgMember(principal, org))) throw deny(principal, `you are not a member of organization "${org}"`);
  return org;
}

const robotView = (r: { name: string; created_at: number }) => ({ name: r.name, created: new Date(r.created_at).toUTCString() });
const memberView = (m: { name: string; kind: string }) => ({ name: m.name, kind: m.kind, is_robot: m.kind === 'robot' });

export const createOrg: ApiHandler = async ({ req, reply, principal, deps: { accounts } }) => {
  const p = requireUserCaller(principal);
  const b = createOrgBody.parse(req.body);
  await accounts.orgs.create(b.name, b.email, p);
  return sendJson(reply, 201, 'Created');
};

export const getOrg: ApiHandler = async ({ reply, params: { org }, principal: p, deps: { accounts, quota } }) => {
  const o = await accounts.orgs.get(org);
  const isAdmin = await accounts.perms.isNamespaceAdmin(p, org);
  const isMember = await accounts.perms.isOrgMember(p, org);
  const body: Record<string, unknown> = { name: o.name, is_admin: isAdmin, is_member: isMember };
  if (isMember) {
    body.email = o.email;
    const teams = await accounts.teams.list(org);
    body.teams = Object.fromEntries(
      teams.map((t) => [t.name, { name: t.name, role: t.role, description: t.description, member_count: t.memberCount }]),
    );
    if (quota) Object.assign(body, await orgQuotaFields(quota, org));
  }
  return sendJson(reply, 200, body);
};

export const deleteOrg: ApiHandler = async (c) => {
  requireSignedIn(c.principal);
  const org = await orgAdmin(c);
  await c.deps.accounts.orgs.delete(org);
  await c.deps.proxyCache?.configs.forget(org);
  return c.reply.code(204).send();
};

export const listRobots: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  return sendJson(c.reply, 200, { robots: (await c.deps.accounts.robots.list(org)).map(robotView) });
};

export const getRobot: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  return sendJson(c.reply, 200, robotView(await c.deps.accounts.robots.get(org, c.params.short)));
};

export const createRobot: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  const r = await c.deps.accounts.robots.create(org, c.params.short);
  return sendJson(c.reply, 201, { name: r.name, token: r.token, created: new Date(r.created_at).toUTCString() });
};

export const regenerateRobot: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  const r = await c.deps.accounts.robots.regenerate(org, c.params.short);
  return sendJson(c.reply, 200, { name: r.name, token: r.token });
};

export const deleteRobot: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  await c.deps.accounts.robots.delete(org, c.params.short);
  return c.reply.code(204).send();
};

export const putTeam: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  const b = teamBody.parse(c.req.body);
  const t = await c.deps.accounts.teams.upsert(org, c.params.team, b.role, b.description);
  return sendJson(c.reply, 200, { name: t.name, role: t.role, description: t.description, member_count: t.memberCount });
};

export const deleteTeam: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  await c.deps.accounts.teams.delete(org, c.params.team);
  return c.reply.code(204).send();
};

export const listMembers: ApiHandler = async (c) => {
  const org = await orgMember(c);
  const members = await c.deps.accounts.teams.members(org, c.params.team);
  const sync = await teamSyncView(c.deps.accounts, org, c.params.team, c.principal);
  return sendJson(c.reply, 200, { name: c.params.team, members: members.map(memberView), ...sync });
};

export const addMember: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  return sendJson(c.reply, 200, memberView(await c.deps.accounts.teams.addMember(org, c.params.team, c.params.member)));
};

export const removeMember: ApiHandler = async (c) => {
  const org = await orgAdmin(c);
  await c.deps.accounts.teams.removeMember(org, c.params.team, c.params.member);
  return c.reply.code(204).send();
};
