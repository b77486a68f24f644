// Migration 0021_gc_candidates: what gc examines (docs/ARCHITECTURE.md, "gc, candidate-driven" in docs/PERFORMANCE.md).
//
//   gc_candidate  something that may have become garbage: a repository's link to a blob (kind 'blob': the link,
//                 then the blob row and its bytes) or a manifest that may be untagged (kind 'manifest'). Written
//                 where a reference goes away (a manifest or repository deleted, tag history pruned, an upload
//                 linked with no manifest yet, a manifest pushed by digest). Plain inserts, duplicates allowed:
//                 a writer never waits on another; gc deletes exactly the rows it handled, by id.
//   gc_sweep      the one row of the safety-net sweep's progress (phase and keyset cursor), so a sweep spread
//                 over many passes resumes where the last one stopped.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function gcCandidatesMigration(dialect: Dialect): Migration {
  const id = dialect === 'postgres' ? sql.raw('id bigserial primary key') : sql.raw('id integer primary key autoincrement');
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table gc_candidate (
        ${id},
        kind text not null,
        repository_id bigint not null,
        digest text not null,
        created_at bigint not null)`.execute(db);
      await sql`create index gc_candidate_kind on gc_candidate (kind, id)`.execute(db);
      await sql`create table gc_sweep (
        id integer primary key,
        phase text not null,
        cursor text,
        started_at bigint not null,
        finished_at bigint)`.execute(db);
    },
  };
}
