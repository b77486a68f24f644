// Migration 0023_tag_history_open_unique: one current lifetime per tag, enforced by the database.
//
// 0007's unique index covers lifetimes with no end (end_ts null) only; a lifetime with an end in the future (a push
// labelled quay.expires-after, an expiration set by the API) is open too but escaped it, so two concurrent writers
// of one tag could each leave one. `is_current` (1 or null) marks the tag's current lifetime whatever its end, and a
// unique partial index on (repository_id, name) where it is 1 makes a second one impossible. Open duplicates that
// may exist already are closed first (at the migration's time), keeping the newest.
import { sql, type Kysely, type Migration } from 'kysely';

export function tagHistoryOpenUniqueMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const now = Date.now();
      const open = (t: string) => sql.raw(`(${t}.end_ts is null or ${t}.end_ts > ${now})`);
      await sql`update tag_history set end_ts = ${now}
        where ${open('tag_history')} and exists (select 1 from tag_history n
          where n.repository_id = tag_history.repository_id and n.name = tag_history.name and ${open('n')}
            and (n.start_ts > tag_history.start_ts or (n.start_ts = tag_history.start_ts and n.id > tag_history.id)))`.execute(db);
      await sql`alter table tag_history add column is_current smallint`.execute(db);
      await sql`update tag_history set is_current = 1 where ${open('tag_history')}`.execute(db);
      await sql`create unique index tag_history_current on tag_history (repository_id, name) where is_current = 1`.execute(db);
    },
  };
}
