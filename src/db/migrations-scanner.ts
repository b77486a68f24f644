// The scanner's vulnerability-data tables (migration 0003_scanner), for both dialects.
//
// advisory: one row per normalized advisory record (src/scanner/model.ts), keyed by
//   (updater, key); `content_hash` is what an update diffs on, `payload` the record as JSON. The
//   lookup columns (ecosystem, dist_id, dist_version, package) are what the matcher queries; ''
//   stands for "no distribution" (language ecosystems).
// updater_state: per updater, the fingerprint of the data set in `advisory`, its size, and when it
//   was last replaced and last checked.
// An update replaces an updater's rows in place and deletes the rest: no history is kept, so the
// tables stay the size of the current upstream data however often it is imported.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function scannerMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table advisory (
        updater text not null,
        key text not null,
        content_hash text not null,
        vuln_id text not null,
        ecosystem text not null,
        dist_id text not null,
        dist_version text not null,
        package text not null,
        fixed_in text,
        severity text not null,
        payload text not null,
        updated_at bigint not null,
        primary key (updater, key))`.execute(db);
      await sql`create index advisory_lookup on advisory (ecosystem, dist_id, dist_version, package)`.execute(db);
      await sql`create index advisory_vuln on advisory (vuln_id)`.execute(db);
      await sql`create table updater_state (
        name text primary key,
        fingerprint text not null,
        records bigint not null,
        updated_at bigint not null,
        checked_at bigint not null)`.execute(db);
    },
  };
}
