import { sql } from "kysely";
function scannerMigration(_dialect) {
  return {
    async up(db) {
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
    }
  };
}
export {
  scannerMigration
};
//# sourceMappingURL=migrations-scanner.js.map
