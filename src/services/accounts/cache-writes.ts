// Which account writes invalidate which cache groups (src/cache): every write that can change who may do
// what (accounts, robots and their tokens, teams and members, repository permissions and visibility)
// drops the `perm` group on every replica; deleting a repository also drops its manifests by tag.
import { CacheGroups, type DataModelCache } from '../../cache/types.js';
import { invalidateAfter } from '../../cache/invalidation.js';
import type { UserService } from './users.js';
import type { OrgService } from './orgs.js';
import type { TeamService } from './teams.js';
import type { RobotService } from './robots.js';
import type { RepoService } from './repos.js';

export function invalidateOnAccountWrites(cache: DataModelCache | undefined, s: {
  users: UserService; orgs: OrgService; teams: TeamService; robots: RobotService; repos: RepoService;
}): void {
  const perm = () => [CacheGroups.perm];
  invalidateAfter(s.users, cache, ['create', 'setSuperuser', 'delete'], perm);
  invalidateAfter(s.orgs, cache, ['create', 'delete'], perm);
  invalidateAfter(s.teams, cache, ['upsert', 'delete', 'addMember', 'removeMember'], perm);
  invalidateAfter(s.robots, cache, ['create', 'regenerate', 'delete'], perm);
  invalidateAfter(s.repos, cache, ['create', 'update', 'setUserPermission', 'removeUserPermission', 'setTeamPermission', 'removeTeamPermission'], perm);
  invalidateAfter(s.repos, cache, ['delete'], (a) => [CacheGroups.perm, CacheGroups.tags(a[0] as string)]);
}
