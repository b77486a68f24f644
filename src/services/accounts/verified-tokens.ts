// Remembers tokens whose signature was already checked, so the hot path of every /v2 request does not verify
// an ES256/RS256 signature again for the hour a client reuses the same token (docs/PERFORMANCE.md).
// Keyed by the exact token text; an entry is used only until the token's own expiry (plus the same clock
// tolerance the full check allows), and the map is bounded. RegistryAccess keeps each token's principal the same way.
import type { TokenClaims } from './tokens.js';

const MAX_ENTRIES = 4096;

export class VerifiedTokenCache<T extends { exp: number } = TokenClaims> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly toleranceSeconds: number) {}

  /** The claims of a token verified before and not yet expired at `nowMs`. */
  get(token: string, nowMs: number): T | undefined {
    const claims = this.entries.get(token);
    if (!claims) return undefined;
    if (nowMs / 1000 > claims.exp + this.toleranceSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: T): void {
    if (this.entries.size >= MAX_ENTRIES) {
      // Drop the oldest quarter (Map keeps insertion order).
      let n = MAX_ENTRIES / 4;
      for (const k of this.entries.keys()) {
        this.entries.delete(k);
        if (--n <= 0) break;
      }
    }
    this.entries.set(token, claims);
  }
}
