// Migration 0018_tag_policy: tag expiration and immutable tags (docs/TAGS.md).
// - tag.expires_at: when the tag's current lifetime ends (ms), null for a tag that lasts until moved or deleted.
//   Its tag_history row carries the same end_ts (a lifetime whose end is in the future, as Quay's lifetime_end_ms).
// - tag_immutability_rule: per repository, a tag pattern (regular expression, Quay's immutability policy) whose
//   tags cannot be moved, overwritten, deleted or given an expiration.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function tagPolicyMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? sql.raw('id bigserial primary key') : sql.raw('id integer primary key autoincrement');
  return {
    async up(db: Kysely<unknown>) {
      await sql`alter table tag add column expires_at bigint`.execute(db);
      await sql`create index tag_expires on tag (expires_at)`.execute(db);
      await sql`create table tag_immutability_rule (${id}, uuid text not null unique,
        repository_id bigint not null references repository(id) on delete cascade,
        tag_pattern text not null, tag_pattern_matches integer not null, created_at bigint not null,
        unique (repository_id, tag_pattern))`.execute(db);
    },
  };
}
