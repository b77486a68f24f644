// Migration 0011_pull_stats: Quay's pull statistics, per tag and per manifest of a repository.
// Written only in batches by src/services/pull-stats.ts (a pull never writes here on its own).
// Times are epoch milliseconds, as everywhere in Berth.
import { sql, type Kysely, type Migration } from 'kysely';

export function pullStatsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table tag_pull_stats (
        repository_id bigint not null references repository(id) on delete cascade,
        tag_name text not null,
        tag_pull_count bigint not null,
        last_tag_pull_date bigint not null,
        current_manifest_digest text not null,
        primary key (repository_id, tag_name))`.execute(db);
      await sql`create table manifest_pull_stats (
        repository_id bigint not null references repository(id) on delete cascade,
        manifest_digest text not null,
        manifest_pull_count bigint not null,
        last_manifest_pull_date bigint not null,
        primary key (repository_id, manifest_digest))`.execute(db);
    },
  };
}
