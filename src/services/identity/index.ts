// Identity: who may sign in and how. AUTHENTICATION_TYPE chooses the password provider (Database, or LDAP with
// the local superusers still signing in with their database password, so they get in when the directory is
// down); <NAME>_LOGIN_CONFIG blocks add OpenID Connect providers for the web UI; team sync follows groups.
// The accounts Authenticator is the one caller of checkPassword/stillAllowed/signedIn, so every login passes there.
import { identitySettings, type IdentitySettings } from '../../config/schema-identity.js';
import type { AccountsContext, AccountRow } from '../accounts/context.js';
import type { UserService } from '../accounts/users.js';
import { LdapProvider } from './ldap.js';
import { IdentityLinks } from './links.js';
import { OidcProvider } from './oidc.js';
import type { ExternalUser, IdentityProvider } from './provider.js';
import { TeamSyncService } from './team-sync.js';

/** The database provider: Berth's own PBKDF2 passwords. */
export class DatabaseProvider implements IdentityProvider {
  readonly id = 'database';
  constructor(private readonly users: UserService) {}
  async checkPassword(username: string, password: string): Promise<ExternalUser | undefined> {
    const u = await this.users.checkPassword(username, password);
    return u && { subject: String(u.id), username: u.name, email: u.email };
  }
}

export class IdentityService {
  readonly settings: IdentitySettings;
  readonly links: IdentityLinks;
  readonly teamSync: TeamSyncService;
  readonly ldap?: LdapProvider;
  readonly oidc: Map<string, OidcProvider>;
  private readonly database: DatabaseProvider;

  constructor(
    private readonly ctx: AccountsContext,
    private readonly users: UserService,
  ) {
    this.settings = identitySettings(ctx.config.raw);
    this.links = new IdentityLinks(ctx);
    this.database = new DatabaseProvider(users);
    if (this.settings.ldap) this.ldap = new LdapProvider(this.settings.ldap);
    this.oidc = new Map(this.settings.oidc.map((o) => [o.id, new OidcProvider(ctx, o)]));
    const providers = new Map<string, IdentityProvider>([['database', this.database]]);
    if (this.ldap) providers.set('ldap', this.ldap);
    for (const p of this.oidc.values()) providers.set(p.id, p);
    this.teamSync = new TeamSyncService(ctx, this.settings, this.links, providers);
  }

  /** The sign-in buttons of the web UI: Quay's external logins. */
  externalLogins(): { id: string; title: string; url: string }[] {
    return [...this.oidc.values()].map((p) => ({ id: p.s.id, title: p.serviceName, url: `/oauth2/${p.s.id}/start` }));
  }

  /**
   * A username and password -> the local user, or undefined (wrong, unknown). LDAP: users with a database password
   * who are superusers (bootstrap admin, `berth admin create-user --superuser`, SUPER_USERS) are checked locally;
   * everyone else against the directory (throws AccountError `unavailable` when it cannot be used).
   */
  async checkPassword(username: string, password: string): Promise<AccountRow | undefined> {
    if (!this.ldap) {
      const u = await this.database.checkPassword(username, password);
      return u && this.users.get(u.username);
    }
    const local = await this.ctx.db
      .selectFrom('account')
      .select(['name', 'superuser', 'password_hash'])
      .where('name', '=', username)
      .where('kind', '=', 'user')
      .executeTakeFirst();
    if (local?.password_hash && this.users.isSuperuser(local)) return this.users.checkPassword(username, password);
    const ext = await this.ldap.checkPassword(username, password);
    if (!ext) return undefined;
    const row = await this.links.ensureUser('ldap', ext, true);
    await this.teamSync.atSignIn('ldap', row.id, ext);
    return this.users.get(row.name);
  }

  /** An external sign-in (OIDC): the linked local user, created at the first sign-in; team memberships from the groups. */
  async signedIn(provider: string, ext: ExternalUser): Promise<AccountRow> {
    const row = await this.links.ensureUser(provider, ext, true);
    await this.teamSync.atSignIn(provider, row.id, ext);
    return row;
  }

  /**
   * Whether an account may still use what it was given (app tokens, at each token request): a directory user must
   * still be in the directory and match LDAP_USER_FILTER (if not, their UI sessions end as well). Throws
   * `unavailable` when the directory cannot be asked.
   */
  async stillAllowed(accountId: number): Promise<boolean> {
    if (!this.ldap) return true;
    const link = await this.links.linkOf(accountId);
    if (!link || link.provider !== 'ldap') return true;
    if ((await this.ldap.lookup(link.subject)) !== undefined) return true;
    // Gone from the directory: the user's browser sessions end too.
    await this.ctx.db.deleteFrom('session').where('account_id', '=', accountId).execute();
    return false;
  }

  /** LDAP_RESTRICTED_USER_FILTER: may not create organizations or repositories in the own namespace. */
  async isRestricted(accountId: number): Promise<boolean> {
    return (await this.links.linkOf(accountId))?.restricted === 1;
  }

  start(log?: TeamSyncService['log']): void {
    this.teamSync.log = log;
    this.teamSync.start();
  }

  async stop(): Promise<void> {
    await this.teamSync.stop();
  }
}
