// Migrations 0013_audit_log and 0014_notifications (docs/AUDIT.md; the audit indexes as they are now: 0024).
//
// audit_log: one row per recorded action (Quay's log kinds). Rows name the namespace and repository by
// name, not by id, so the history of a deleted repository or organization stays readable.
// repo_notification / notification_delivery: Quay's repository notifications and their deliveries.
// A delivery is claimed by one replica with a conditional UPDATE (claimed_until in the past), so every
// replica may deliver and exactly one does; `dedup_key` (unique per notification) keeps one event from
// being queued twice by replicas that saw the same change.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

const pk = (dialect: Dialect) =>
  dialect === 'postgres' ? sql.raw('id bigserial primary key') : sql.raw('id integer primary key autoincrement');

export function auditLogMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table audit_log (${pk(dialect)},
        kind text not null,
        namespace text,
        repository text,
        performer_kind text not null,
        performer text,
        ip text,
        metadata text not null,
        created_at bigint not null)`.execute(db);
      await sql`create index audit_log_time on audit_log (created_at)`.execute(db);
      await sql`create index audit_log_namespace on audit_log (namespace, created_at)`.execute(db);
      await sql`create index audit_log_repository on audit_log (repository, created_at)`.execute(db);
      // No index by performer: a performer filter runs inside one of the scopes above, and each index costs
      // every pull (bench/audit-write-cost.ts: 5.4 µs per entry with it, 3.9 without).
    },
  };
}

export function notificationsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table repo_notification (${pk(dialect)},
        uuid text not null unique,
        repository_id bigint not null references repository(id) on delete cascade,
        event text not null,
        method text not null,
        config text not null,
        event_config text not null,
        title text,
        secret text not null,
        number_of_failures bigint not null default 0,
        created_at bigint not null)`.execute(db);
      await sql`create index repo_notification_repo on repo_notification (repository_id, event)`.execute(db);
      await sql`create table notification_delivery (${pk(dialect)},
        notification_id bigint not null references repo_notification(id) on delete cascade,
        event text not null,
        payload text not null,
        dedup_key text,
        attempts bigint not null default 0,
        next_attempt_at bigint not null,
        claimed_by text,
        claimed_until bigint,
        delivered_at bigint,
        abandoned_at bigint,
        last_error text,
        created_at bigint not null)`.execute(db);
      await sql`create unique index notification_delivery_dedup on notification_delivery (notification_id, dedup_key)`.execute(db);
      await sql`create index notification_delivery_due on notification_delivery (delivered_at, abandoned_at, next_attempt_at)`.execute(db);
    },
  };
}
