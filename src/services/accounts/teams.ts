// Teams inside an organization (roles member / creator / admin) and their members (users and the org's robots).
import type { TeamRole } from '../../db/types.js';
import type { AccountsContext } from './context.js';
import { invalid, notFound } from './errors.js';
import { requireTeamName } from './names.js';
import { findAccount, requireOrg } from './store.js';
import { isTeamSynced } from '../identity/team-sync.js';

const SYNCED = (team: string) =>
  invalid(`team "${team}" is synced with a group: its users follow the group (remove the sync to edit them by hand)`);

export const TEAM_ROLES: readonly TeamRole[] = ['member', 'creator', 'admin'];
export interface TeamView {
  id: number;
  name: string;
  role: TeamRole;
  description: string | null;
  memberCount: number;
}

export class TeamService {
  constructor(private readonly ctx: AccountsContext) {}

  /** Names of the organizations the account belongs to (through any team), sorted. */
  async organizationsOf(accountId: number): Promise<string[]> {
    const rows = await this.ctx.db
      .selectFrom('team')
      .innerJoin('team_member', 'team_member.team_id', 'team.id')
      .innerJoin('account', 'account.id', 'team.org_id')
      .select('account.name')
      .distinct()
      .where('team_member.account_id', '=', accountId)
      .orderBy('account.name')
      .execute();
    return rows.map((r) => r.name);
  }

  async upsert(orgName: string, name: string, role: TeamRole, description?: string): Promise<TeamView> {
    const org = await requireOrg(this.ctx.db, orgName);
    requireTeamName(name);
    if (!TEAM_ROLES.includes(role)) throw invalid(`team role must be one of ${TEAM_ROLES.join(', ')}`);
    const existing = await this.ctx.db
      .selectFrom('team')
      .select(['id', 'role'])
      .where('org_id', '=', org.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing) {
      if (name === 'owners' && role !== 'admin') throw invalid('the owners team must keep the admin role');
      await this.ctx.db
        .updateTable('team')
        .set({ role, ...(description !== undefined ? { description } : {}) })
        .where('id', '=', existing.id)
        .execute();
    } else {
      await this.ctx.db
        .insertInto('team')
        .values({ org_id: org.id, name, role, description: description ?? null, created_at: this.ctx.now() })
        .onConflict((oc) => oc.columns(['org_id', 'name']).doNothing())
        .execute();
    }
    return this.get(orgName, name);
  }

  async get(orgName: string, name: string): Promise<TeamView> {
    const org = await requireOrg(this.ctx.db, orgName);
    const t = await this.ctx.db
      .selectFrom('team')
      .select(['id', 'name', 'role', 'description'])
      .where('org_id', '=', org.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!t) throw notFound(`team "${name.slice(0, 64)}" does not exist in organization "${orgName}"`);
    const n = await this.ctx.db
      .selectFrom('team_member')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('team_id', '=', t.id)
      .executeTakeFirstOrThrow();
    return { ...t, memberCount: Number(n.n) };
  }

  async list(orgName: string): Promise<TeamView[]> {
    const org = await requireOrg(this.ctx.db, orgName);
    const rows = await this.ctx.db.selectFrom('team').select(['name']).where('org_id', '=', org.id).orderBy('name').execute();
    return Promise.all(rows.map((r) => this.get(orgName, r.name)));
  }

  async delete(orgName: string, name: string): Promise<void> {
    if (name === 'owners') throw invalid('the owners team cannot be deleted');
    const t = await this.get(orgName, name);
    await this.ctx.db.deleteFrom('team').where('id', '=', t.id).execute();
  }

  async addMember(orgName: string, team: string, member: string): Promise<{ name: string; kind: string }> {
    const t = await this.get(orgName, team);
    const org = await requireOrg(this.ctx.db, orgName);
    const a = await findAccount(this.ctx.db, member);
    if (!a || a.kind === 'org') throw notFound(`user or robot "${member.slice(0, 100)}" does not exist`);
    if (a.kind === 'robot' && a.owner_id !== org.id) throw invalid(`robot "${member}" does not belong to organization "${orgName}"`);
    if (a.kind === 'user' && (await isTeamSynced(this.ctx, t.id))) throw SYNCED(team);
    await this.ctx.db
      .insertInto('team_member')
      .values({ team_id: t.id, account_id: a.id })
      .onConflict((oc) => oc.columns(['team_id', 'account_id']).doNothing())
      .execute();
    return { name: a.name, kind: a.kind };
  }

  async removeMember(orgName: string, team: string, member: string): Promise<void> {
    const t = await this.get(orgName, team);
    const a = await findAccount(this.ctx.db, member);
    if (!a) throw notFound(`user or robot "${member.slice(0, 100)}" does not exist`);
    if (team === 'owners' && t.memberCount <= 1) throw invalid('the owners team must keep at least one member');
    if (a.kind === 'user' && (await isTeamSynced(this.ctx, t.id))) throw SYNCED(team);
    const r = await this.ctx.db.deleteFrom('team_member').where('team_id', '=', t.id).where('account_id', '=', a.id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`"${member}" is not a member of team "${team}"`);
  }

  async members(orgName: string, team: string): Promise<{ name: string; kind: string }[]> {
    const t = await this.get(orgName, team);
    return this.ctx.db
      .selectFrom('team_member')
      .innerJoin('account', 'account.id', 'team_member.account_id')
      .select(['account.name', 'account.kind'])
      .where('team_member.team_id', '=', t.id)
      .orderBy('account.name')
      .execute();
  }
}
