// Migration 0017_quota: storage quotas (docs/QUOTAS.md).
//
// namespace_quota / quota_limit: Quay's UserOrganizationQuota and QuotaLimits (one quota per namespace, limits
// of type Warning or Reject at a percentage of it). quota_namespace_size / quota_repository_size: the usage,
// each blob counted once per namespace and once per repository, kept up to date by the registry's writes
// (src/services/quota/usage.ts) under the namespace row's lock, and recomputed from scratch by a recount.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function quotaMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? sql.raw('id bigserial primary key') : sql.raw('id integer primary key autoincrement');
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table namespace_quota (${id},
        namespace_id bigint not null unique references account(id) on delete cascade,
        limit_bytes bigint not null, created_at bigint not null)`.execute(db);
      await sql`create table quota_limit (${id},
        quota_id bigint not null references namespace_quota(id) on delete cascade,
        type text not null, threshold_percent integer not null, created_at bigint not null)`.execute(db);
      await sql`create index quota_limit_quota on quota_limit (quota_id)`.execute(db);
      await sql`create table quota_namespace_size (namespace text primary key,
        size_bytes bigint not null, updated_at bigint not null, backfill_complete integer not null default 0)`.execute(db);
      await sql`create table quota_repository_size (
        repository_id bigint primary key references repository(id) on delete cascade,
        size_bytes bigint not null, updated_at bigint not null)`.execute(db);
    },
  };
}
