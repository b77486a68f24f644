// WWW-Authenticate parsing and the per-scope bearer token cache of the Docker token flow.

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`) into scheme and parameters. */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g;
  for (const p of m[2].matchAll(re)) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

/** Bearer tokens by scope, each until shortly before its expiry (expires_in, default 60 s as the token spec says). */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  get(scope: string): string | undefined {
    const t = this.tokens.get(scope);
    if (!t) return undefined;
    if (t.until <= this.now()) {
      this.tokens.delete(scope);
      return undefined;
    }
    return t.token;
  }

  /** Keeps a token; `expiresInS` from the token response (at least 60 s is assumed when absent). A 10% / 5 s margin is kept. */
  set(scope: string, token: string, expiresInS?: number): void {
    const life = (expiresInS && expiresInS > 0 ? expiresInS : 60) * 1000;
    this.tokens.set(scope, { token, until: this.now() + life - Math.min(5000, life / 10) });
  }

  delete(scope: string): void {
    this.tokens.delete(scope);
  }

  get size(): number {
    return this.tokens.size;
  }
}
