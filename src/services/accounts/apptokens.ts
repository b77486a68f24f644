// App-specific tokens: a user logs in with username "$app" and the token as password. Stored as a SHA-256 digest.
import { randomToken, secretDigest } from '../../crypto/index.js';
import type { AccountsContext } from './context.js';
import { forbidden, invalid, notFound } from './errors.js';
import { requireUser } from './store.js';

export interface AppTokenView {
  uuid: string;
  title: string;
  created: number;
  last_accessed: number | null;
  expiration: number | null;
  token_code?: string;
}

export class AppTokenService {
  constructor(private readonly ctx: AccountsContext) {}

  private enabled(): void {
    if (!this.ctx.auth.appTokens) throw forbidden('app-specific tokens are turned off (FEATURE_APP_SPECIFIC_TOKENS)');
  }

  async create(user: string, title: string, expiresInSeconds?: number): Promise<AppTokenView & { token_code: string }> {
    this.enabled();
    if (!title || title.length > 255) throw invalid('an app token needs a title of 1 to 255 characters');
    const u = await requireUser(this.ctx.db, user);
    const token = randomToken(40);
    const now = this.ctx.now();
    const expires = expiresInSeconds ? now + expiresInSeconds * 1000 : null;
    const row = await this.ctx.db
      .insertInto('app_token')
      .values({
        account_id: u.id,
        title,
        token_digest: secretDigest(token),
        created_at: now,
        last_used_at: null,
        expires_at: expires,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { uuid: String(row.id), title, created: now, last_accessed: null, expiration: expires, token_code: token };
  }

  async list(user: string): Promise<AppTokenView[]> {
    const u = await requireUser(this.ctx.db, user);
    const rows = await this.ctx.db
      .selectFrom('app_token')
      .select(['id', 'title', 'created_at', 'last_used_at', 'expires_at'])
      .where('account_id', '=', u.id)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      uuid: String(r.id),
      title: r.title,
      created: r.created_at,
      last_accessed: r.last_used_at,
      expiration: r.expires_at,
    }));
  }

  async revoke(user: string, uuid: string): Promise<void> {
    const u = await requireUser(this.ctx.db, user);
    if (!/^\d{1,15}$/.test(uuid)) throw notFound(`app token "${uuid.slice(0, 40)}" does not exist`);
    const r = await this.ctx.db.deleteFrom('app_token').where('account_id', '=', u.id).where('id', '=', Number(uuid)).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`app token "${uuid}" does not exist`);
  }

  /** The token's id and the user it belongs to, or undefined (unknown, expired, or feature off). */
  async check(token: string): Promise<{ id: number; accountId: number } | undefined> {
    if (!this.ctx.auth.appTokens) return undefined;
    const now = this.ctx.now();
    const r = await this.ctx.db
      .selectFrom('app_token')
      .select(['id', 'account_id', 'expires_at'])
      .where('token_digest', '=', secretDigest(token))
      .executeTakeFirst();
    if (!r || (r.expires_at !== null && r.expires_at < now)) return undefined;
    await this.ctx.db.updateTable('app_token').set({ last_used_at: now }).where('id', '=', r.id).execute();
    return { id: Number(r.id), accountId: r.account_id };
  }
}
