// Migration 0024_audit_page_indexes: the audit log's pages read in index order (docs/AUDIT.md, "Paging").
//
// A page is the newest entries of a time range in one scope (a repository, a namespace, or all), in the order
// (created_at, id) descending, continued from the last entry's (created_at, id). 0013's indexes are (repository,
// created_at), (namespace, created_at) and (created_at): on SQLite every index ends in the rowid, which is `id`
// (integer primary key), so they already hold the entries in that order and nothing changes. On PostgreSQL an index
// holds only its columns, so equal times came out unsorted and the planner added a sort; the three are rebuilt with
// `id` as their last column, under the same names (the same count of indexes: every INSERT maintains three, as
// before). No index by performer or kind: those filters run inside a scope's range (see 0013).
//
// Upgrade cost on PostgreSQL: each index is built anew from the table (a scan and a sort of the audit log per index:
// 10–18 s for a million entries on this shared machine, docs/PERFORMANCE.md "Audit pages"), in the migration's
// transaction, which holds the table's exclusive lock (DROP INDEX) until it commits: other replicas' audit flushes and
// log reads wait for it (docs/AUDIT.md, the upgrade note).
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

const INDEXES = [
  ['audit_log_time', 'created_at, id'],
  ['audit_log_namespace', 'namespace, created_at, id'],
  ['audit_log_repository', 'repository, created_at, id'],
] as const;

export function auditPageIndexesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      for (const [name, columns] of INDEXES) {
        await sql`drop index ${sql.raw(name)}`.execute(db);
        await sql`create index ${sql.raw(name)} on audit_log (${sql.raw(columns)})`.execute(db);
      }
    },
  };
}
