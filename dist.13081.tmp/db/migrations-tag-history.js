import { sql } from "kysely";
function tagHistoryMigration(dialect) {
  const id = dialect === "postgres" ? sql.raw("id bigserial primary key") : sql.raw("id integer primary key autoincrement");
  return {
    async up(db) {
      await sql`create table tag_history (${id},
        repository_id bigint not null references repository(id) on delete cascade,
        name text not null, manifest_digest text not null,
        start_ts bigint not null, end_ts bigint)`.execute(db);
      await sql`create unique index tag_history_open on tag_history (repository_id, name) where end_ts is null`.execute(db);
      await sql`create index tag_history_repo on tag_history (repository_id, start_ts)`.execute(db);
      await sql`create index tag_history_end on tag_history (end_ts)`.execute(db);
      await sql`insert into tag_history (repository_id, name, manifest_digest, start_ts, end_ts)
        select t.repository_id, t.name, m.digest, t.updated_at, null from tag t join manifest m on m.id = t.manifest_id`.execute(db);
    }
  };
}
export {
  tagHistoryMigration
};
//# sourceMappingURL=migrations-tag-history.js.map
