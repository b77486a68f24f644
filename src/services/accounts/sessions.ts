// UI sessions: a random cookie value (stored as a digest) and a CSRF token that state-changing requests must echo.
import { randomToken, safeEqual, secretDigest } from '../../crypto/index.js';
import type { AccountsContext } from './context.js';

export class SessionService {
  constructor(private readonly ctx: AccountsContext) {}

  async create(accountId: number): Promise<{ cookie: string; csrf: string; expires: number }> {
    const cookie = randomToken(32);
    const csrf = randomToken(24);
    const now = this.ctx.now();
    const expires = now + this.ctx.auth.sessionSeconds * 1000;
    await this.ctx.db
      .insertInto('session')
      .values({ digest: secretDigest(cookie), account_id: accountId, csrf, created_at: now, expires_at: expires })
      .execute();
    return { cookie, csrf, expires };
  }

  async lookup(cookie: string): Promise<{ accountId: number; csrf: string } | undefined> {
    const r = await this.ctx.db
      .selectFrom('session')
      .select(['account_id', 'csrf', 'expires_at'])
      .where('digest', '=', secretDigest(cookie))
      .executeTakeFirst();
    if (!r || r.expires_at < this.ctx.now()) return undefined;
    return { accountId: r.account_id, csrf: r.csrf };
  }

  csrfMatches(expected: string, given: string | undefined): boolean {
    return given !== undefined && safeEqual(expected, given);
  }

  async delete(cookie: string): Promise<void> {
    await this.ctx.db.deleteFrom('session').where('digest', '=', secretDigest(cookie)).execute();
    await this.ctx.db.deleteFrom('session').where('expires_at', '<', this.ctx.now()).execute();
  }
}
