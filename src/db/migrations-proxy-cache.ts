// Migration 0015_proxy_cache: an organization's pull-through cache configuration (Quay's ProxyCacheConfig;
// username and password sealed with the database secret key) and, per cached tag, when the upstream was
// last checked (src/services/proxy-cache/). Times are epoch milliseconds.
import { sql, type Kysely, type Migration } from 'kysely';

export function proxyCacheMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table proxy_cache_config (
        org text primary key,
        upstream_registry text not null,
        username text,
        password text,
        expiration_s bigint not null,
        insecure integer not null,
        created_at bigint not null)`.execute(db);
      await sql`create table proxy_cache_tag (
        repository_id bigint not null references repository(id) on delete cascade,
        tag text not null,
        digest text not null,
        checked_at bigint not null,
        primary key (repository_id, tag))`.execute(db);
    },
  };
}

/**
 * Migration 0026_proxy_cache_proxy: the organization's outbound proxy to its upstream (the mirror's shape,
 * {http_proxy, https_proxy, no_proxy}, as JSON sealed with the database secret key: its URLs may hold credentials), or null.
 */
export function proxyCacheProxyMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`alter table proxy_cache_config add column proxy text`.execute(db);
    },
  };
}
