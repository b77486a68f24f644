import { sql } from "kysely";
function scannerCleanupMigration(dialect) {
  return {
    async up(db) {
      await sql`alter table advisory add column ranges text`.execute(db);
      if (dialect === "postgres") {
        await sql`update advisory set ranges = json_build_array(payload::json -> 'ranges', payload::json -> 'versions')::text`.execute(db);
      } else {
        await sql`update advisory set ranges = json_array(json(json_extract(payload, '$.ranges')), json(coalesce(json_extract(payload, '$.versions'), 'null')))`.execute(db);
        await sql`drop index advisory_lookup`.execute(db);
        await sql`create index advisory_lookup on advisory (ecosystem, dist_id, dist_version, package, ranges, vuln_id, updater, key)`.execute(db);
      }
      await sql`create table scan_manifest_layer (
        manifest_digest text not null,
        layer_digest text not null,
        primary key (manifest_digest, layer_digest))`.execute(db);
      await sql`create index scan_manifest_layer_layer on scan_manifest_layer (layer_digest)`.execute(db);
      await sql`create index manifest_by_digest on manifest (digest)`.execute(db);
      const reports = await sql`select manifest_digest, report from scan_report`.execute(db);
      for (const r of reports.rows) {
        let layers;
        try {
          layers = JSON.parse(r.report).layers;
        } catch {
          continue;
        }
        if (!Array.isArray(layers)) continue;
        for (const l of new Set(layers.filter((x) => typeof x === "string"))) {
          await sql`insert into scan_manifest_layer (manifest_digest, layer_digest) values (${r.manifest_digest}, ${l})`.execute(db);
        }
      }
    }
  };
}
export {
  scannerCleanupMigration
};
//# sourceMappingURL=migrations-scanner-cleanup.js.map
