// Migration 0020_gc_upload_guard: the replicas sharing this database, each with a heartbeat (src/services/replicas.ts).
// A row whose heartbeat is older than a few intervals belongs to a replica that stopped or died.
import { sql, type Kysely, type Migration } from 'kysely';

export function replicasMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table replica (
        id text primary key,
        host text not null,
        pid bigint not null,
        cache_engine text not null,
        started_at bigint not null,
        seen_at bigint not null)`.execute(db);
    },
  };
}
