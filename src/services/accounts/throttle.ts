// Slows down repeated failed logins, per account and per client address (in memory, per server process).
import type { AccountsContext } from './context.js';
import { AccountError } from './errors.js';

const MAX_DELAY_MS = 15 * 60_000;
interface Entry { failures: number; until: number; last: number }

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly ctx: AccountsContext) {}

  /** Throws `throttled` while the account or the address must wait. */
  check(account: string, address: string): void {
    const now = this.ctx.now();
    for (const key of [`a:${account}`, `i:${address}`]) {
      const e = this.entries.get(key);
      if (e && e.until > now) {
        const wait = Math.ceil((e.until - now) / 1000);
        throw new AccountError('throttled', `too many failed logins; try again in ${wait} seconds`, wait);
      }
    }
  }

  failed(account: string, address: string): void {
    const now = this.ctx.now();
    if (this.entries.size > 50_000) this.prune(now);
    for (const key of [`a:${account}`, `i:${address}`]) {
      const e = this.entries.get(key) ?? { failures: 0, until: 0, last: now };
      e.failures++;
      e.last = now;
      // An address (possibly a NAT shared by many people) gets four times the account's allowance.
      const limit = key.startsWith('i:') ? this.ctx.auth.loginFailureLimit * 4 : this.ctx.auth.loginFailureLimit;
      const over = e.failures - limit;
      if (over >= 0) e.until = now + Math.min(MAX_DELAY_MS, this.ctx.auth.loginBackoffMs * 2 ** Math.min(over, 20));
      this.entries.set(key, e);
    }
  }

  succeeded(account: string): void {
    this.entries.delete(`a:${account}`);
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) if (e.until < now && now - e.last > 3_600_000) this.entries.delete(k);
  }
}
