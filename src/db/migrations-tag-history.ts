// Migration 0007_tag_history: the lifetime of every tag (which manifest it pointed at, from when until
// when), so the API can list expired tags and restore them (Quay's "time machine"). The open row of a
// tag (end_ts null) is unique; rows name the manifest by digest so they outlive the manifest row.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function tagHistoryMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? sql.raw('id bigserial primary key') : sql.raw('id integer primary key autoincrement');
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table tag_history (${id},
        repository_id bigint not null references repository(id) on delete cascade,
        name text not null, manifest_digest text not null,
        start_ts bigint not null, end_ts bigint)`.execute(db);
      await sql`create unique index tag_history_open on tag_history (repository_id, name) where end_ts is null`.execute(db);
      await sql`create index tag_history_repo on tag_history (repository_id, start_ts)`.execute(db);
      await sql`create index tag_history_end on tag_history (end_ts)`.execute(db);
      // Tags that exist already start their history now (with the time they were last set).
      await sql`insert into tag_history (repository_id, name, manifest_digest, start_ts, end_ts)
        select t.repository_id, t.name, m.digest, t.updated_at, null from tag t join manifest m on m.id = t.manifest_id`.execute(db);
    },
  };
}
