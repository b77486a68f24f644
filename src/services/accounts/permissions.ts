// Who may do what: the effective role of a caller on a repository, and who may create repositories in a namespace.
import type { RepoRole } from '../../db/types.js';
import type { AccountsContext, Principal } from './context.js';
import { findAccount, findRepository, isRestrictedUser } from './store.js';
import { maxRole, namespaceOf, type RepoFacts } from './roles.js';
import { CacheGroups } from '../../cache/types.js';

export { atLeast, maxRole, namespaceOf, REPO_ROLES, type RepoFacts } from './roles.js';

export class PermissionService {
  constructor(private readonly ctx: AccountsContext) {}

  isSuper(p: Principal): boolean {
    return p.kind === 'user' && (p.superuser || this.ctx.auth.superUsers.has(p.name));
  }

  /** Repository facts by name; from the data-model cache (group `perm`). */
  findRepo(name: string): Promise<RepoFacts | undefined> {
    if (!this.ctx.cache) return findRepository(this.ctx.db, name);
    return this.ctx.cache.fetch(CacheGroups.perm, `repo:${name}`, () => findRepository(this.ctx.db, name));
  }

  /** The caller's role on an existing repository (undefined: none). */
  async role(p: Principal, repo: RepoFacts): Promise<RepoRole | undefined> {
    if (this.ctx.auth.open) return 'admin';
    const publicRead: RepoRole | undefined =
      repo.visibility === 'public' && (p.kind !== 'anonymous' || this.ctx.auth.anonymousAccess) ? 'read' : undefined;
    if (p.kind === 'anonymous') return publicRead;
    if (this.isSuper(p)) return 'admin';
    const nsId = repo.namespace_id ?? (await findAccount(this.ctx.db, namespaceOf(repo.name)))?.id;
    if (p.kind === 'user' && nsId === p.id) return 'admin';
    if (!this.ctx.cache) return maxRole(publicRead, await this.grantedRole(p.id, repo.id, nsId));
    const got = await this.ctx.cache.fetch(CacheGroups.perm, `role:${repo.id}:${p.id}`, async () => ({
      role: (await this.grantedRole(p.id, repo.id, nsId)) ?? null,
    }));
    return maxRole(publicRead, got?.role ?? undefined);
  }

  /** The role from facts already read (TokenStanding's one statement): the same decision as role(). */
  roleGiven(p: Principal, repo: RepoFacts, nsId: number | undefined, granted: RepoRole | undefined): RepoRole | undefined {
    if (this.ctx.auth.open) return 'admin';
    const publicRead: RepoRole | undefined =
      repo.visibility === 'public' && (p.kind !== 'anonymous' || this.ctx.auth.anonymousAccess) ? 'read' : undefined;
    if (p.kind === 'anonymous') return publicRead;
    if (this.isSuper(p)) return 'admin';
    if (p.kind === 'user' && nsId === p.id) return 'admin';
    return maxRole(publicRead, granted);
  }

  /** The role granted directly, through teams, or as an admin of the owning organization. */
  private async grantedRole(accountId: number, repoId: number, nsId: number | undefined): Promise<RepoRole | undefined> {
    const p = { id: accountId };
    const repo = { id: repoId };
    const direct = await this.ctx.db
      .selectFrom('repository_user_permission')
      .select('role')
      .where('repository_id', '=', repo.id)
      .where('account_id', '=', p.id)
      .executeTakeFirst();
    const viaTeams = await this.ctx.db
      .selectFrom('repository_team_permission as rtp')
      .innerJoin('team_member as tm', 'tm.team_id', 'rtp.team_id')
      .select('rtp.role')
      .where('rtp.repository_id', '=', repo.id)
      .where('tm.account_id', '=', p.id)
      .execute();
    const orgAdmin = nsId !== undefined && (await this.teamRoleIn(p.id, nsId)) === 'admin' ? 'admin' : undefined;
    return maxRole(direct?.role, ...viaTeams.map((t) => t.role), orgAdmin);
  }

  /** The highest team role the account holds in an organization. */
  async teamRoleIn(accountId: number, orgId: number): Promise<'member' | 'creator' | 'admin' | undefined> {
    const rows = await this.ctx.db
      .selectFrom('team')
      .innerJoin('team_member', 'team_member.team_id', 'team.id')
      .select('team.role')
      .where('team.org_id', '=', orgId)
      .where('team_member.account_id', '=', accountId)
      .execute();
    const roles = rows.map((r) => r.role);
    return roles.includes('admin') ? 'admin' : roles.includes('creator') ? 'creator' : roles.length ? 'member' : undefined;
  }

  /** Whether the caller may administer an organization or user namespace (robots, teams, settings). */
  async isNamespaceAdmin(p: Principal, namespace: string): Promise<boolean> {
    if (p.kind === 'anonymous') return false;
    if (this.isSuper(p)) return true;
    const ns = await findAccount(this.ctx.db, namespace);
    if (!ns) return false;
    if (ns.kind === 'user') return p.kind === 'user' && ns.id === p.id && !(await isRestrictedUser(this.ctx.db, p.id));
    if (ns.kind === 'org') return (await this.teamRoleIn(p.id, ns.id)) === 'admin';
    return false;
  }

  async isOrgMember(p: Principal, org: string): Promise<boolean> {
    if (p.kind === 'anonymous') return false;
    if (this.isSuper(p)) return true;
    const ns = await findAccount(this.ctx.db, org);
    return !!ns && ns.kind === 'org' && (await this.teamRoleIn(p.id, ns.id)) !== undefined;
  }

  /** Whether the caller may create repositories in a namespace (which must exist). */
  async canCreateIn(p: Principal, namespace: string): Promise<boolean> {
    if (this.ctx.auth.open) return true;
    if (p.kind === 'anonymous') return false;
    const ns = await findAccount(this.ctx.db, namespace);
    if (!ns || ns.kind === 'robot') return false;
    if (this.isSuper(p)) return true;
    if (ns.kind === 'user') return p.kind === 'user' && ns.id === p.id && !(await isRestrictedUser(this.ctx.db, p.id));
    const r = await this.teamRoleIn(p.id, ns.id);
    return r === 'admin' || r === 'creator';
  }

  /** Ids of every repository the caller can read (undefined: all of them). */
  async readableRepositoryIds(p: Principal): Promise<number[] | undefined> {
    if (this.ctx.auth.open || this.isSuper(p)) return undefined;
    const pub =
      this.ctx.auth.anonymousAccess || p.kind !== 'anonymous'
        ? await this.ctx.db.selectFrom('repository').select('id').where('visibility', '=', 'public').execute()
        : [];
    if (p.kind === 'anonymous') return pub.map((r) => r.id);
    const ids = new Set(pub.map((r) => r.id));
    const own = await this.ctx.db.selectFrom('repository').select('id').where('namespace_id', '=', p.id).execute();
    const direct = await this.ctx.db
      .selectFrom('repository_user_permission')
      .select('repository_id as id')
      .where('account_id', '=', p.id)
      .execute();
    const team = await this.ctx.db
      .selectFrom('repository_team_permission as rtp')
      .innerJoin('team_member as tm', 'tm.team_id', 'rtp.team_id')
      .select('rtp.repository_id as id')
      .where('tm.account_id', '=', p.id)
      .execute();
    const adminOrgs = await this.ctx.db
      .selectFrom('team')
      .innerJoin('team_member', 'team_member.team_id', 'team.id')
      .select('team.org_id')
      .where('team_member.account_id', '=', p.id)
      .where('team.role', '=', 'admin')
      .execute();
    const orgRepos = adminOrgs.length
      ? await this.ctx.db
          .selectFrom('repository')
          .select('id')
          .where(
            'namespace_id',
            'in',
            adminOrgs.map((o) => o.org_id),
          )
          .execute()
      : [];
    for (const r of [...own, ...direct, ...team, ...orgRepos]) ids.add(r.id);
    return [...ids];
  }
}
