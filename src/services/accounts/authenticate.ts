// Turns credentials (user + password, "$app" + app token, "owner+robot" + robot token) into a Principal,
// slowing down repeated failures. Never logs or returns the secret.
import type { AccountsContext, Principal } from './context.js';
import type { Via } from '../principal.js';
import { AccountError } from './errors.js';
import { MAX_PASSWORD_BYTES, splitRobotName } from './names.js';
import type { UserService } from './users.js';
import type { RobotService } from './robots.js';
import type { AppTokenService } from './apptokens.js';
import type { LoginThrottle } from './throttle.js';
import { findAccountById } from './store.js';

export const MAX_USERNAME_BYTES = 512;

export class Authenticator {
  constructor(
    private readonly ctx: AccountsContext,
    private readonly users: UserService,
    private readonly robots: RobotService,
    private readonly appTokens: AppTokenService,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Checks credentials; throws `unauthorized` (wrong), `throttled` (too many failures) or `invalid` (oversized). */
  async login(username: string, secret: string, address: string): Promise<Principal> {
    if (Buffer.byteLength(username) > MAX_USERNAME_BYTES || Buffer.byteLength(secret) > MAX_PASSWORD_BYTES * 2) {
      throw new AccountError('invalid', 'credentials are too long');
    }
    if (!username || !secret) throw new AccountError('unauthorized', 'username and password are required');
    const hadFailures = await this.throttle.check(username, address);
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
    if (username === '$app') {
      const id = await this.appTokens.check(secret);
      return id === undefined ? undefined : this.principalOf(id, 'apptoken');
    }
    if (splitRobotName(username)) {
      const r = await this.robots.check(username, secret);
      return r ? { kind: 'robot', id: r.id, name: r.name, superuser: false, ownerId: r.owner_id, via: 'robot' } : undefined;
    }
    const u = await this.users.checkPassword(username, secret);
    if (!u || u.enabled !== 1) return undefined;
    return { kind: 'user', id: u.id, name: u.name, superuser: this.users.isSuperuser(u), ownerId: null, via: 'password' };
  }

  /** The principal of an account id (sessions, app tokens, registry tokens); undefined if gone or disabled. */
  async principalOf(id: number, via?: Via): Promise<Principal | undefined> {
    const a = await findAccountById(this.ctx.db, id);
    if (!a || a.kind === 'org' || a.enabled !== 1) return undefined;
    return { kind: a.kind, id: a.id, name: a.name, superuser: a.kind === 'user' && this.users.isSuperuser(a), ownerId: a.owner_id, via };
  }
}
