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
import { RepoService } from '../repositories.js';
import { LoginThrottle } from './throttle.js';
import { SessionService } from './sessions.js';
import { Authenticator } from './authenticate.js';
import { RegistryTokenService } from './tokens.js';
import { ScopeService } from './scopes.js';
import { bootstrapAdmin } from './bootstrap.js';
import { FirstAdminService } from './first-admin.js';
import { PrincipalResolver } from './principals.js';
import { RegistryAccess } from './registry-access.js';
import { TokenStanding } from './token-standing.js';
import { invalidateOnAccountWrites, invalidateOnIdentityWrites } from './cache-writes.js';
import { IdentityService } from '../identity/index.js';

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
  /** Whether an issued registry token still stands (permissions, robot token), from the data-model cache. */
  standing: TokenStanding;
  scopes: ScopeService;
  /** The principal of an /api/v1 request. */
  principals: PrincipalResolver;
  /** The /v2 access policy: the principal of a registry token and what it may do. */
  registryAccess: RegistryAccess;
  /** Identity providers (database, LDAP, OIDC) and team sync (src/services/identity). */
  identity: IdentityService;
  /** Creates BOOTSTRAP_ADMIN when no user exists; returns its name when it did. */
  bootstrap(): Promise<string | undefined>;
  /** The first administrator from the web UI, guarded by the one-time setup code from the network. */
  firstAdmin: FirstAdminService;
}

export interface AccountServicesOptions {
  /** Shows a new first-run setup code to the operator (`berth serve`: its console). Default: only its file. */
  announceSetupCode?: (code: string, file: string) => void;
  /** The registry token service when the composition root built it first (the scanner signs layer tokens with it). */
  tokens?: RegistryTokenService;
}

export function buildAccountServices(base: ServiceContext, opts: AccountServicesOptions = {}): AccountServices {
  const ctx: AccountsContext = { ...base, auth: authSettings(base.config) };
  const users = new UserService(ctx);
  const robots = new RobotService(ctx);
  const appTokens = new AppTokenService(ctx);
  const perms = new PermissionService(ctx);
  const throttle = new LoginThrottle(ctx);
  const repos = new RepoService(ctx, perms);
  const sessions = new SessionService(ctx);
  const identity = new IdentityService(ctx, users);
  const authenticator = new Authenticator(ctx, users, robots, appTokens, throttle, identity);
  const standing = new TokenStanding(ctx, perms);
  const tokens = opts.tokens ?? new RegistryTokenService(ctx, (subject) => standing.credentialOf(subject));
  const orgs = new OrgService(ctx);
  const teams = new TeamService(ctx);
  invalidateOnAccountWrites(ctx.cache, ctx.db, { users, orgs, teams, robots, repos, appTokens });
  invalidateOnIdentityWrites(ctx.cache, identity);
  return {
    ctx,
    users,
    orgs,
    teams,
    robots,
    appTokens,
    perms,
    repos,
    sessions,
    authenticator,
    throttle,
    tokens,
    standing,
    scopes: new ScopeService(perms),
    principals: new PrincipalResolver(ctx, authenticator, appTokens, sessions),
    registryAccess: new RegistryAccess(ctx, tokens, authenticator, perms, repos, standing),
    identity,
    bootstrap: () => bootstrapAdmin(ctx, users),
    firstAdmin: new FirstAdminService(ctx, users, opts.announceSetupCode ?? (() => undefined)),
  };
}

export type { Principal } from './context.js';
export { AccountError } from './errors.js';
