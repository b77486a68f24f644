import { sql } from "kysely";
function scannerIndexMigration(_dialect) {
  return {
    async up(db) {
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
    }
  };
}
export {
  scannerIndexMigration
};
//# sourceMappingURL=migrations-scanner-index.js.map
