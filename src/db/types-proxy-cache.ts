// Tables of migration 0015_proxy_cache (src/db/migrations-proxy-cache.ts).
export interface ProxyCacheConfigTable {
  org: string;
  upstream_registry: string;
  /** Sealed (SecretBox) or null. */
  username: string | null;
  /** Sealed (SecretBox) or null. */
  password: string | null;
  expiration_s: number;
  /** 0 or 1. */
  insecure: number;
  created_at: number;
  /** Migration 0026: the outbound proxy settings as JSON, sealed (SecretBox), or null. */
  proxy: string | null;
}
export interface ProxyCacheTagTable {
  repository_id: number;
  tag: string;
  digest: string;
  checked_at: number;
}

declare module './types.js' {
  interface Database {
    proxy_cache_config: ProxyCacheConfigTable;
    proxy_cache_tag: ProxyCacheTagTable;
  }
}
