// The scanner's index tables (migration 0004_scanner_index), for both dialects.
//
// scan_job: the durable indexing queue, one row per manifest digest (a scan is about content, so a
//   manifest pushed to two repositories is scanned once). state: queued | indexing | indexed |
//   failed | unsupported. A worker claims a row with a conditional UPDATE (state and lease checked
//   in the WHERE clause), so two replicas never run the same job; a claim holds a lease
//   (lease_until) that a crashed worker lets expire, and the next claim retries the job. attempts
//   counts claims; next_attempt_at implements the backoff; last_error keeps the reason.
// scan_layer: per-layer indexer results keyed by layer digest and scanner version (a hash of the
//   scanner list), shared by every manifest that has the layer.
// scan_report: the index report of a manifest (distribution, packages as JSON, the layers).
// scan_vulnset: the vulnerability keys a manifest had at its last match (the notifier's diff base).
// scan_notification: notifications (Clair notifier pages) and webhook delivery state.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function scannerIndexMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table scan_job (
        manifest_digest text primary key,
        repository text not null,
        state text not null,
        attempts integer not null,
        lease_until bigint,
        lease_owner text,
        next_attempt_at bigint not null,
        last_error text,
        created_at bigint not null,
        updated_at bigint not null)`.execute(db);
      await sql`create index scan_job_claim on scan_job (state, next_attempt_at)`.execute(db);
      await sql`create table scan_layer (
        layer_digest text not null,
        scanner_version text not null,
        result text not null,
        created_at bigint not null,
        primary key (layer_digest, scanner_version))`.execute(db);
      await sql`create table scan_report (
        manifest_digest text primary key,
        state text not null,
        scanner_version text not null,
        report text not null,
        error text,
        indexed_at bigint not null)`.execute(db);
      await sql`create table scan_vulnset (
        manifest_digest text primary key,
        vulns text not null,
        matched_at bigint not null)`.execute(db);
      await sql`create table scan_notification (
        id text primary key,
        created_at bigint not null,
        body text not null,
        delivered_at bigint,
        attempts integer not null,
        last_error text)`.execute(db);
    },
  };
}
