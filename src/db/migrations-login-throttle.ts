// Migration 0006_login_throttle: failed-login counters shared by every replica on the same database.
// One row per key: `a:<account name>` or `i:<client address>`; rows idle for an hour are pruned.
import { sql, type Kysely, type Migration } from 'kysely';

export function loginThrottleMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table login_throttle (
        key text primary key,
        failures bigint not null,
        blocked_until bigint not null,
        last_failure_at bigint not null)`.execute(db);
      await sql`create index login_throttle_last_failure on login_throttle (last_failure_at)`.execute(db);
    },
  };
}
