// Local accounts linked to external identities (account_identity): found by (provider, subject), created at the
// first sign-in (or when team sync first sees a group member), kept in step with the provider's e-mail and flags.
import type { AccountsContext, AccountRow } from '../accounts/context.js';
import { findAccount, findAccountById } from '../accounts/store.js';
import { localUsername, type ExternalUser } from './provider.js';

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export interface IdentityLink {
  provider: string;
  subject: string;
  restricted: number;
}

export class IdentityLinks {
  constructor(private readonly ctx: AccountsContext) {}

  /** The link of an account (undefined: a local account). */
  async linkOf(accountId: number): Promise<IdentityLink | undefined> {
    return this.ctx.db
      .selectFrom('account_identity')
      .select(['provider', 'subject', 'restricted'])
      .where('account_id', '=', accountId)
      .executeTakeFirst();
  }

  async accountOf(provider: string, subject: string): Promise<AccountRow | undefined> {
    const l = await this.ctx.db
      .selectFrom('account_identity')
      .select('account_id')
      .where('provider', '=', provider)
      .where('subject', '=', subject)
      .executeTakeFirst();
    return l ? findAccountById(this.ctx.db, l.account_id) : undefined;
  }

  /**
   * The local user for an external one, created when new (a free name derived from theirs: "alice", else "alice2", …,
   * never an existing account). `signIn` refreshes the e-mail, the superuser and restricted flags and the last sign-in.
   */
  async ensureUser(provider: string, u: ExternalUser, signIn = false): Promise<AccountRow> {
    const now = this.ctx.now();
    const email = u.email && EMAIL_RE.test(u.email) ? u.email : null;
    const existing = await this.accountOf(provider, u.subject);
    if (existing) {
      if (signIn) {
        await this.ctx.db
          .updateTable('account')
          .set({
            ...(email ? { email } : {}),
            ...(u.superuser !== undefined ? { superuser: u.superuser ? 1 : 0 } : {}),
          })
          .where('id', '=', existing.id)
          .execute();
        await this.ctx.db
          .updateTable('account_identity')
          .set({ last_login_at: now, ...(u.restricted !== undefined ? { restricted: u.restricted ? 1 : 0 } : {}) })
          .where('provider', '=', provider)
          .where('subject', '=', u.subject)
          .execute();
        return (await findAccountById(this.ctx.db, existing.id))!;
      }
      return existing;
    }
    const base = localUsername(u.username);
    for (let i = 1; i < 1000; i++) {
      const name = i === 1 ? base : `${base.slice(0, 250)}${i}`;
      if (await findAccount(this.ctx.db, name)) continue;
      try {
        await this.ctx.db.transaction().execute(async (tx) => {
          const row = await tx
            .insertInto('account')
            .values({
              name,
              kind: 'user',
              email,
              password_hash: null,
              token_digest: null,
              owner_id: null,
              superuser: u.superuser ? 1 : 0,
              created_at: now,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          await tx
            .insertInto('account_identity')
            .values({
              provider,
              subject: u.subject,
              account_id: row.id,
              restricted: u.restricted ? 1 : 0,
              created_at: now,
              last_login_at: signIn ? now : null,
            })
            .execute();
        });
      } catch (e) {
        // Another request created the same link (or took the name) in between: use what is there now.
        const raced = await this.accountOf(provider, u.subject);
        if (raced) return raced;
        if (await findAccount(this.ctx.db, name)) continue;
        throw e;
      }
      return (await this.accountOf(provider, u.subject))!;
    }
    throw new Error(`no free username for "${base}"`);
  }
}
