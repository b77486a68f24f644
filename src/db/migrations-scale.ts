// Migration 0019_scale_indexes: the indexes that keep the request path flat with 100,000 repositories,
// 1,000,000 tags and 10,000,000 blobs (docs/PERFORMANCE.md, "Flat at scale"; test/scale-plans.test.ts
// checks the plans on both dialects).
//
// - PostgreSQL lists repositories and tags in byte order (`collate "C"`, the OCI spec's lexical order) and
//   an index only serves an ORDER BY of its own collation: without these, every catalog page and every
//   tag list page read and sorted the whole table (or repository) first, and /api/v1's per-namespace list
//   could not use the name index for its range. SQLite's default collation is byte order already.
// - repository (visibility): which repositories are public, asked by every permission-filtered listing
//   (catalog, /api/v1 repository list) of a signed-in user; it read every repository row.
// - repository_team_permission (team_id): the repositories a user may read through teams; the primary key
//   starts with repository_id, so "by team" read the whole table.
// - tag (repository_id, updated_at): /api/v1's tag list of a repository, newest first, without sorting
//   all of that repository's tags for each page.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function scaleIndexesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        await sql`create index repository_name_bytes on repository (name collate "C")`.execute(db);
        await sql`create index tag_name_bytes on tag (repository_id, name collate "C")`.execute(db);
      }
      await sql`create index repository_visibility on repository (visibility)`.execute(db);
      await sql`create index repository_team_permission_team on repository_team_permission (team_id)`.execute(db);
      await sql`create index tag_updated on tag (repository_id, updated_at)`.execute(db);
    },
  };
}
