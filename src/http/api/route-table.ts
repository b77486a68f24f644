// The whole /api/v1 route table in one place, as /v2 has registry/route-table.ts. Each row is a method, a
// pattern and its handler. Patterns with :name (a repository name, which contains "/") are matched here,
// behind one /repository/* route, most specific pattern first; all others go to Fastify's router as they are.
// Handlers get { req, reply, params, principal, deps } (types.ts).
import type { ApiHandler, ApiMethod } from './types.js';
import * as users from './users.js';
import * as orgs from './orgs.js';
import * as teamSync from './team-sync.js';
import * as repos from './repos.js';
import * as tags from './tags.js';
import * as immutability from './immutability.js';
import * as artifacts from './artifacts.js';
import * as security from './security.js';
import * as pullStats from './pull-stats.js';
import * as ui from './ui.js';
import * as status from './status.js';
import * as scannerStatus from './scanner-status.js';
import * as audit from './audit.js';
import * as quota from './quota.js';
import * as mirror from './mirror.js';
import * as proxyCache from './proxy-cache.js';

export interface ApiRoute {
  method: ApiMethod;
  /** The pattern below /api/v1. */
  url: string;
  handler: ApiHandler;
  /** Served only when this optional part is on. */
  needs?: 'scanner';
}

const row = (method: ApiMethod, url: string, handler: ApiHandler, needs?: 'scanner'): ApiRoute => ({
  method,
  url,
  handler,
  ...(needs ? { needs } : {}),
});

export const API_ROUTES: readonly ApiRoute[] = [
  // sign-in, the signed-in user, user accounts, app tokens, the user's robots (users.ts)
  row('POST', '/signin', users.signin),
  row('POST', '/signout', users.signout),
  row('GET', '/user/', users.currentUser),
  row('POST', '/user/', users.createUser),
  row('DELETE', '/superuser/users/:name', users.deleteUser),
  row('GET', '/user/apptoken', users.listAppTokens),
  row('POST', '/user/apptoken', users.createAppToken),
  row('DELETE', '/user/apptoken/:uuid', users.revokeAppToken),
  row('GET', '/user/robots', users.listRobots),
  row('PUT', '/user/robots/:short', users.createRobot),
  row('POST', '/user/robots/:short/regenerate', users.regenerateRobot),
  row('DELETE', '/user/robots/:short', users.deleteRobot),

  // organizations, their robots and teams (orgs.ts)
  row('POST', '/organization/', orgs.createOrg),
  row('GET', '/organization/:org', orgs.getOrg),
  row('DELETE', '/organization/:org', orgs.deleteOrg),
  row('GET', '/organization/:org/robots', orgs.listRobots),
  row('GET', '/organization/:org/robots/:short', orgs.getRobot),
  row('PUT', '/organization/:org/robots/:short', orgs.createRobot),
  row('POST', '/organization/:org/robots/:short/regenerate', orgs.regenerateRobot),
  row('DELETE', '/organization/:org/robots/:short', orgs.deleteRobot),
  row('PUT', '/organization/:org/team/:team', orgs.putTeam),
  row('DELETE', '/organization/:org/team/:team', orgs.deleteTeam),
  row('GET', '/organization/:org/team/:team/members', orgs.listMembers),
  row('PUT', '/organization/:org/team/:team/members/:member', orgs.addMember),
  row('DELETE', '/organization/:org/team/:team/members/:member', orgs.removeMember),
  row('POST', '/organization/:org/team/:team/syncing', teamSync.linkTeam),
  row('DELETE', '/organization/:org/team/:team/syncing', teamSync.unlinkTeam),
  row('GET', '/organization/:org/proxycache', proxyCache.getProxyCache),
  row('POST', '/organization/:org/proxycache', proxyCache.createProxyCache),
  row('DELETE', '/organization/:org/proxycache', proxyCache.deleteProxyCache),
  row('POST', '/organization/:org/validateproxycache', proxyCache.validateProxyCache),

  // repositories, visibility, permissions (repos.ts)
  row('POST', '/repository', repos.createRepo),
  row('GET', '/repository', repos.listRepos),
  row('GET', '/repository/:name', repos.getRepo),
  row('PUT', '/repository/:name', repos.updateRepo),
  row('DELETE', '/repository/:name', repos.deleteRepo),
  row('POST', '/repository/:name/changevisibility', repos.changeVisibility),
  row('GET', '/repository/:name/permissions/user/', repos.listPermissions('user')),
  row('GET', '/repository/:name/permissions/user/:member', repos.getPermission('user')),
  row('PUT', '/repository/:name/permissions/user/:member', repos.setPermission('user')),
  row('DELETE', '/repository/:name/permissions/user/:member', repos.removePermission('user')),
  row('GET', '/repository/:name/permissions/team/', repos.listPermissions('team')),
  row('GET', '/repository/:name/permissions/team/:member', repos.getPermission('team')),
  row('PUT', '/repository/:name/permissions/team/:member', repos.setPermission('team')),
  row('DELETE', '/repository/:name/permissions/team/:member', repos.removePermission('team')),

  // tags: list (paging, name filter, history), move, delete, restore (tags.ts)
  row('GET', '/repository/:name/tag/', tags.listTags),
  row('PUT', '/repository/:name/tag/:tag', tags.moveTag),
  row('DELETE', '/repository/:name/tag/:tag', tags.deleteTag),
  row('POST', '/repository/:name/tag/:tag/restore', tags.restoreTag),
  // immutable tags: the repository's immutability policies (immutability.ts)
  row('GET', '/repository/:name/immutabilitypolicy/', immutability.listPolicies),
  row('POST', '/repository/:name/immutabilitypolicy/', immutability.createPolicy),
  row('GET', '/repository/:name/immutabilitypolicy/:uuid', immutability.getPolicy),
  row('PUT', '/repository/:name/immutabilitypolicy/:uuid', immutability.updatePolicy),
  row('DELETE', '/repository/:name/immutabilitypolicy/:uuid', immutability.deletePolicy),

  // repository state and mirroring (mirror.ts, docs/MIRRORING.md)
  row('PUT', '/repository/:name/changestate', mirror.changeState),
  row('GET', '/repository/:name/mirror', mirror.getMirror),
  row('POST', '/repository/:name/mirror', mirror.createMirror),
  row('PUT', '/repository/:name/mirror', mirror.updateMirror),
  row('POST', '/repository/:name/mirror/sync-now', mirror.syncNow),
  row('POST', '/repository/:name/mirror/sync-cancel', mirror.syncCancel),

  // charts and artifact views (artifacts.ts), Quay's security report (security.ts)
  row('GET', '/repository/:name/charts', artifacts.charts),
  row('GET', '/repository/:name/manifest/:digest', artifacts.manifest),
  row('GET', '/repository/:name/manifest/:digest/security', security.manifestSecurity, 'scanner'),
  // Quay's pull statistics (pull-stats.ts)
  row('GET', '/repository/:name/tag/:tag/pull_statistics', pullStats.tagPullStatistics),
  row('GET', '/repository/:name/manifest/:digest/pull_statistics', pullStats.manifestPullStatistics),

  // audit logs and repository notifications (audit.ts, docs/AUDIT.md)
  ...(['logs', 'aggregatelogs', 'exportlogs'] as const).flatMap((what) => [
    row('GET', `/repository/:name/${what}`, audit.repositoryLogs(what)),
    row('GET', `/organization/:org/${what}`, audit.organizationLogs(what)),
    row('GET', `/user/${what}`, audit.userLogs(what)),
    row('GET', `/superuser/${what}`, audit.superuserLogs(what)),
  ]),
  row('GET', '/repository/:name/notification/', audit.listNotifications),
  row('POST', '/repository/:name/notification/', audit.createNotification),
  row('GET', '/repository/:name/notification/:uuid', audit.getNotification),
  row('DELETE', '/repository/:name/notification/:uuid', audit.deleteNotification),
  row('POST', '/repository/:name/notification/:uuid', audit.resetNotification),
  row('POST', '/repository/:name/notification/:uuid/test', audit.testNotification),
  row('GET', '/repository/:name/notification/:uuid/deliveries', audit.notificationDeliveries),

  // storage quotas (quota.ts, docs/QUOTAS.md)
  row('GET', '/organization/:org/quota', quota.listOrgQuota),
  row('POST', '/organization/:org/quota', quota.createOrgQuota),
  row('GET', '/organization/:org/quota/:quota', quota.getOrgQuota),
  row('PUT', '/organization/:org/quota/:quota', quota.changeOrgQuota),
  row('DELETE', '/organization/:org/quota/:quota', quota.deleteOrgQuota),
  row('GET', '/organization/:org/quota/:quota/limit', quota.listOrgLimits),
  row('POST', '/organization/:org/quota/:quota/limit', quota.createOrgLimit),
  row('GET', '/organization/:org/quota/:quota/limit/:limit', quota.getOrgLimit),
  row('PUT', '/organization/:org/quota/:quota/limit/:limit', quota.changeOrgLimit),
  row('DELETE', '/organization/:org/quota/:quota/limit/:limit', quota.deleteOrgLimit),
  row('GET', '/user/quota', quota.listUserQuota),
  row('GET', '/user/quota/:quota', quota.getUserQuota),
  row('GET', '/user/quota/:quota/limit', quota.listUserLimits),
  row('GET', '/user/quota/:quota/limit/:limit', quota.getUserLimit),
  ...(['users', 'organization'] as const).flatMap((kind) => [
    row('GET', `/superuser/${kind}/:namespace/quota`, quota.superListQuota),
    row('POST', `/superuser/${kind}/:namespace/quota`, quota.superCreateQuota),
    row('PUT', `/superuser/${kind}/:namespace/quota/:quota`, quota.superChangeQuota),
    row('DELETE', `/superuser/${kind}/:namespace/quota/:quota`, quota.superDeleteQuota),
    row('GET', `/superuser/${kind}/:namespace/quota/:quota/limit`, quota.superListLimits),
    row('POST', `/superuser/${kind}/:namespace/quota/:quota/limit`, quota.superCreateLimit),
    row('PUT', `/superuser/${kind}/:namespace/quota/:quota/limit/:limit`, quota.superChangeLimit),
    row('DELETE', `/superuser/${kind}/:namespace/quota/:quota/limit/:limit`, quota.superDeleteLimit),
  ]),

  // the web UI's extras (ui.ts), FIPS status (status.ts), scanner data age (scanner-status.ts)
  row('GET', '/setup', ui.getSetup),
  row('POST', '/setup', ui.postSetup),
  row('GET', '/superuser/stats', ui.stats),
  row('GET', '/manifestsummary', ui.manifestSummary),
  row('GET', '/status', status.getStatus),
  row('GET', '/scanner/updaters', scannerStatus.updaters),
];

/** Whether a pattern names a repository (matched behind /repository/*, since the name contains "/"). */
export const isRepositoryPattern = (url: string): boolean => url.startsWith('/repository/:name');

/** The rows served behind /repository/*. */
export const REPOSITORY_ENDPOINTS: readonly ApiRoute[] = API_ROUTES.filter((r) => isRepositoryPattern(r.url));

interface Compiled {
  url: string;
  re: RegExp;
  keys: string[];
  literals: number;
}

function compile(url: string): Compiled {
  const keys: string[] = [];
  const src = url
    .replace(/\/$/, '')
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      keys.push(seg.slice(1));
      // A repository name always has a namespace ("ns/name"), so /repository/acme/mirror is the repository acme/mirror.
      return seg === ':name' ? '([^/]+/.+)' : '([^/]+)';
    })
    .join('/');
  return { url, re: new RegExp(`^${src}/?$`), keys, literals: url.split('/').filter((s) => s && !s.startsWith(':')).length };
}

/** The /repository/* patterns, most literal segments first (so /tag/:tag/restore is tried before /:name). */
const REPOSITORY_PATTERNS: Compiled[] = [...new Set(REPOSITORY_ENDPOINTS.map((r) => r.url))]
  .map(compile)
  .sort((a, b) => b.literals - a.literals);

/** Matches a decoded path below /api/v1 against the /repository/* patterns: the pattern and its parameters. */
export function matchRepositoryPath(path: string): { url: string; params: Record<string, string> } | undefined {
  for (const c of REPOSITORY_PATTERNS) {
    const m = c.re.exec(path);
    if (m) return { url: c.url, params: Object.fromEntries(c.keys.map((k, i) => [k, m[i + 1]])) };
  }
  return undefined;
}
