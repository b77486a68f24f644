// Slows down repeated failed logins, per account and per client address. The counters live in the database
// (table login_throttle), so every replica on the same database sees the same failures.
import { sql } from 'kysely';
import type { AccountsContext } from './context.js';
import { AccountError } from './errors.js';

const MAX_DELAY_MS = 15 * 60_000;
/** A counter idle this long (and not blocking) is forgotten. */
export const THROTTLE_IDLE_MS = 3_600_000;
const PRUNE_EVERY_MS = 60_000;

const accountKey = (account: string) => `a:${account}`;
const addressKey = (address: string) => `i:${address}`;

export class LoginThrottle {
  private lastPrune = 0;
  constructor(private readonly ctx: AccountsContext) {}

  /**
   * Throws `throttled` while the account or the address must wait. Otherwise resolves with whether the
   * account has failures on record (only then does a success need to clear them: no write per good login).
   */
  async check(account: string, address: string): Promise<boolean> {
    const now = this.ctx.now();
    const rows = await this.ctx.db
      .selectFrom('login_throttle')
      .select(['key', 'blocked_until'])
      .where('key', 'in', [accountKey(account), addressKey(address)])
      .execute();
    const until = Math.max(0, ...rows.map((r) => Number(r.blocked_until)));
    if (until > now) {
      const wait = Math.max(1, Math.ceil((until - now) / 1000));
      throw new AccountError('throttled', `too many failed logins; try again in ${wait} seconds`, wait);
    }
    return rows.some((r) => r.key === accountKey(account));
  }

  /** Counts a failure for the account and the address (atomically, whichever replica saw it). */
  async failed(account: string, address: string): Promise<void> {
    const now = this.ctx.now();
    await this.pruneNow(now);
    const { loginFailureLimit, loginBackoffMs } = this.ctx.auth;
    // An address (possibly a NAT shared by many people) gets four times the account's allowance.
    for (const [key, limit] of [
      [accountKey(account), loginFailureLimit],
      [addressKey(address), loginFailureLimit * 4],
    ] as const) {
      const row = await this.ctx.db
        .insertInto('login_throttle')
        .values({ key, failures: 1, blocked_until: 0, last_failure_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ failures: sql`login_throttle.failures + 1`, last_failure_at: now }))
        .returning('failures')
        .executeTakeFirstOrThrow();
      const over = Number(row.failures) - limit;
      if (over >= 0) {
        const until = now + Math.min(MAX_DELAY_MS, loginBackoffMs * 2 ** Math.min(over, 20));
        await this.ctx.db
          .updateTable('login_throttle')
          .set({ blocked_until: until })
          .where('key', '=', key)
          .where('blocked_until', '<', until)
          .execute();
      }
    }
  }

  /** A successful login clears the account's counter (not the address's). */
  async succeeded(account: string): Promise<void> {
    await this.ctx.db.deleteFrom('login_throttle').where('key', '=', accountKey(account)).execute();
  }

  /** Deletes counters that block nothing and saw no failure for an hour; at most once a minute per process. */
  async pruneNow(now = this.ctx.now(), force = false): Promise<void> {
    if (!force && now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    await this.ctx.db
      .deleteFrom('login_throttle')
      .where('last_failure_at', '<', now - THROTTLE_IDLE_MS)
      .where('blocked_until', '<', now)
      .execute();
  }
}
