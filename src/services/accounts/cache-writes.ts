// Which account writes invalidate which cache groups (src/cache): every write that can change who may do
// what (accounts, robots and their tokens, app tokens revoked, teams and members, repository permissions and visibility)
// drops the `perm` group on every replica; deleting a repository also drops its manifests by tag.
import { CacheGroups, type DataModelCache } from '../../cache/types.js';
import { invalidateAfter } from '../../cache/invalidation.js';
import type { UserService } from './users.js';
import type { OrgService } from './orgs.js';
import type { TeamService } from './teams.js';
import type { RobotService } from './robots.js';
import type { AppTokenService } from './apptokens.js';
import type { RepoService } from '../repositories.js';
import type { DB } from '../../db/database.js';
import type { IdentityService } from '../identity/index.js';

export function invalidateOnAccountWrites(
  cache: DataModelCache | undefined,
  db: DB,
  s: {
    users: UserService;
    orgs: OrgService;
    teams: TeamService;
    robots: RobotService;
    repos: RepoService;
    appTokens: AppTokenService;
  },
): void {
  const perm = () => [CacheGroups.perm];
  // Deleting a user or an organization deletes its repositories: their manifests by tag go too.
  const namespace = async (a: unknown[]) => {
    const repos = await db
      .selectFrom('repository')
      .innerJoin('account', 'account.id', 'repository.namespace_id')
      .select('repository.name')
      .where('account.name', '=', String(a[0]))
      .execute();
    return [CacheGroups.perm, ...repos.map((r) => CacheGroups.tags(r.name))];
  };
  invalidateAfter(s.users, cache, ['create', 'setSuperuser'], perm);
  invalidateAfter(s.users, cache, ['delete'], namespace);
  invalidateAfter(s.orgs, cache, ['create'], perm);
  invalidateAfter(s.orgs, cache, ['delete'], namespace);
  invalidateAfter(s.teams, cache, ['upsert', 'delete', 'addMember', 'removeMember'], perm);
  invalidateAfter(s.robots, cache, ['create', 'regenerate', 'delete'], perm);
  invalidateAfter(s.appTokens, cache, ['revoke'], perm);
  invalidateAfter(
    s.repos,
    cache,
    ['create', 'update', 'setUserPermission', 'removeUserPermission', 'setTeamPermission', 'removeTeamPermission'],
    perm,
  );
  invalidateAfter(s.repos, cache, ['delete'], (a) => [CacheGroups.perm, CacheGroups.tags(a[0] as string)]);
}

/** Directory sign-in and team sync (LDAP, OIDC) change accounts and team members: the same `perm` group. */
export function invalidateOnIdentityWrites(cache: DataModelCache | undefined, identity: IdentityService): void {
  invalidateAfter(identity.links, cache, ['ensureUser'], () => [CacheGroups.perm]);
  // setUsers is the one place team sync changes team_member (private: wrapped by name).
  invalidateAfter(identity.teamSync as unknown as { setUsers(): Promise<unknown> }, cache, ['setUsers'], () => [CacheGroups.perm]);
}
