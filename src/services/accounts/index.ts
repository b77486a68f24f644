// The accounts services, built once by the composition root.
import type { ServiceContext } from '../context.js';
import { authSettings } from '../../config/auth.js';
import type { AccountsContext } from './context.js';
import { UserService } from './users.js';
import { OrgService } from './orgs.js';
import { TeamService } from './teams.js';
import { RobotService } from './robots.js';
import { AppTokenService } from './apptokens.js';
import { PermissionService } from './permissions.js';
import { RepoService } from './repos.js';
import { LoginThrottle } from './throttle.js';
import { SessionService } from './sessions.js';
import { Authenticator } from './authenticate.js';
import { RegistryTokenService } from './tokens.js';
import { ScopeService } from './scopes.js';
import { bootstrapAdmin } from './bootstrap.js';
import { TokenStanding } from './token-standing.js';
import { invalidateOnAccountWrites } from './cache-writes.js';

export interface AccountServices {
  ctx: AccountsContext;
  users: UserService;
  orgs: OrgService;
  teams: TeamService;
  robots: RobotService;
  appTokens: AppTokenService;
  perms: PermissionService;
  repos: RepoService;
  sessions: SessionService;
  authenticator: Authenticator;
  /** Failed-login counters in the database (shared by replicas). */
  throttle: LoginThrottle;
  tokens: RegistryTokenService;
  /** Whether an issued registry token still stands (permissions, account, robot token), from the cache. */
  standing: TokenStanding;
  scopes: ScopeService;
  /** Creates BOOTSTRAP_ADMIN when no user exists; returns its name when it did. */
  bootstrap(): Promise<string | undefined>;
}

export function buildAccountServices(base: ServiceContext): AccountServices {
  const ctx: AccountsContext = { ...base, auth: authSettings(base.config) };
  const users = new UserService(ctx);
  const robots = new RobotService(ctx);
  const appTokens = new AppTokenService(ctx);
  const perms = new PermissionService(ctx);
  const throttle = new LoginThrottle(ctx);
  const standing = new TokenStanding(ctx, perms);
  const orgs = new OrgService(ctx);
  const teams = new TeamService(ctx);
  const repos = new RepoService(ctx, perms);
  invalidateOnAccountWrites(ctx.cache, { users, orgs, teams, robots, repos });
  return {
    ctx,
    users,
    orgs,
    teams,
    robots,
    appTokens,
    perms,
    repos,
    standing,
    sessions: new SessionService(ctx),
    authenticator: new Authenticator(ctx, users, robots, appTokens, throttle),
    throttle,
    tokens: new RegistryTokenService(ctx, (subject) => standing.credentialOf(subject)),
    scopes: new ScopeService(perms),
    bootstrap: () => bootstrapAdmin(ctx, users),
  };
}

export type { Principal } from './context.js';
export { AccountError } from './errors.js';
