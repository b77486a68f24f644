// Turns credentials (user + password, "$app" + app token, "owner+robot" + robot token) into a Principal,
// slowing down repeated failures. Never logs or returns the secret. The one place every sign-in passes:
// passwords (database or directory, through IdentityService), app tokens (Basic "$app" or Bearer on /api/v1),
// and external sign-ins (OIDC) all end in login(), appToken() or external().
import type { AccountsContext, Principal } from './context.js';
import type { Via } from '../principal.js';
import { AccountError } from './errors.js';
import { MAX_PASSWORD_BYTES, splitRobotName } from './names.js';
import type { UserService } from './users.js';
import type { RobotService } from './robots.js';
import type { AppTokenService } from './apptokens.js';
import type { LoginThrottle } from './throttle.js';
import { findAccountById } from './store.js';
import type { IdentityService } from '../identity/index.js';
import type { ExternalUser } from '../identity/provider.js';

export const MAX_USERNAME_BYTES = 512;

export class Authenticator {
  constructor(
    private readonly ctx: AccountsContext,
    private readonly users: UserService,
    private readonly robots: RobotService,
    private readonly appTokens: AppTokenService,
    private readonly throttle: LoginThrottle,
    private readonly identity: IdentityService,
  ) {}

  /** Checks credentials; throws `unauthorized` (wrong), `throttled` (too many failures) or `invalid` (oversized). */
  async login(username: string, secret: string, address: string): Promise<Principal> {
    if (Buffer.byteLength(username) > MAX_USERNAME_BYTES || Buffer.byteLength(secret) > MAX_PASSWORD_BYTES * 2) {
      throw new AccountError('invalid', 'credentials are too long');
    }
    if (!username || !secret) throw new AccountError('unauthorized', 'username and password are required');
    const hadFailures = await this.throttle.check(username, address);
    // A directory that cannot be asked throws `unavailable` here: no failure is counted against the user.
    const p = await this.verify(username, secret);
    this.ctx.observer?.authAttempt?.('basic', !!p);
    if (!p) {
      await this.throttle.failed(username, address);
      throw new AccountError('unauthorized', 'invalid username or password');
    }
    if (hadFailures) await this.throttle.succeeded(username);
    return p;
  }

  private async verify(username: string, secret: string): Promise<Principal | undefined> {
    if (username === '$app') return this.appTokenPrincipal(secret);
    if (splitRobotName(username)) {
      const r = await this.robots.check(username, secret);
      return r ? { kind: 'robot', id: r.id, name: r.name, superuser: false, ownerId: r.owner_id, via: 'robot' } : undefined;
    }
    const u = await this.identity.checkPassword(username, secret);
    if (!u || u.enabled !== 1) return undefined;
    return { kind: 'user', id: u.id, name: u.name, superuser: this.users.isSuperuser(u), ownerId: null, via: 'password' };
  }

  private async appTokenPrincipal(token: string): Promise<Principal | undefined> {
    const t = await this.appTokens.check(token);
    // A directory user removed (or no longer matching LDAP_USER_FILTER) loses their app tokens at the next use.
    if (t === undefined || !(await this.identity.stillAllowed(t.accountId))) return undefined;
    const p = await this.principalOf(t.accountId, 'apptoken');
    return p && p.kind !== 'anonymous' ? { ...p, appTokenId: t.id } : p;
  }

  /** An app token sent as `Authorization: Bearer` to /api/v1; undefined when not valid. */
  async appToken(token: string): Promise<Principal | undefined> {
    const p = token.length <= 512 ? await this.appTokenPrincipal(token) : undefined;
    this.ctx.observer?.authAttempt?.('bearer', !!p);
    return p;
  }

  /**
   * An external sign-in (OIDC): `verify` finishes it with the provider (throws AccountError with the reason);
   * the linked local user (created at the first sign-in) is the principal. Successes and refusals both pass here.
   */
  async external(provider: string, verify: () => Promise<ExternalUser>): Promise<Principal> {
    let p: Principal | undefined;
    try {
      const user = await verify();
      const row = await this.identity.signedIn(provider, user);
      p = await this.principalOf(row.id, 'session');
      if (!p) throw new AccountError('unauthorized', `the account "${row.name}" is disabled`);
      return p;
    } finally {
      this.ctx.observer?.authAttempt?.('oauth', !!p);
    }
  }

  /** The principal of an account id (sessions, app tokens, registry tokens); undefined if gone or disabled. */
  async principalOf(id: number, via?: Via): Promise<Principal | undefined> {
    const a = await findAccountById(this.ctx.db, id);
    if (!a || a.kind === 'org' || a.enabled !== 1) return undefined;
    return { kind: a.kind, id: a.id, name: a.name, superuser: a.kind === 'user' && this.users.isSuperuser(a), ownerId: a.owner_id, via };
  }
}
