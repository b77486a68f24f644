// Migration 0016_repo_mirror (docs/MIRRORING.md): Quay's repository state and repository mirroring.
//
// repository.state: NORMAL, READ_ONLY or MIRROR (Quay's RepositoryState); only NORMAL takes pushes over /v2.
// repo_mirror: one row per mirrored repository: where it mirrors from, which tags, how often, the status of the
// last sync, and the lease of the replica syncing it now (lease_owner + sync_expiration_date, renewed while the
// sync runs; an expired lease lets any replica take the sync over).
import { sql, type Kysely, type Migration } from 'kysely';

export function repoMirrorMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`alter table repository add column state text not null default 'NORMAL'`.execute(db);
      await sql`create table repo_mirror (
        repository_id bigint primary key references repository(id) on delete cascade,
        is_enabled integer not null,
        external_reference text not null,
        external_registry_username text,
        external_registry_password text,
        external_registry_config text not null,
        robot_username text,
        root_rule text not null,
        sync_interval bigint not null,
        sync_start_date bigint,
        sync_expiration_date bigint,
        sync_retries_remaining integer not null,
        sync_status text not null,
        lease_owner text,
        last_sync bigint,
        last_error text,
        progress text,
        created_at bigint not null,
        updated_at bigint not null)`.execute(db);
      await sql`create index repo_mirror_due on repo_mirror (sync_status, sync_start_date)`.execute(db);
    },
  };
}
