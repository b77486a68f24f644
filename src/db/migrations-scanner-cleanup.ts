// Migration 0008_scanner_cleanup, for both dialects.
//
// advisory.ranges: `[ranges, versions | null]` copied out of each payload, so the matcher decides
//   "affected" without reading and parsing whole records (filled here with one UPDATE per dialect;
//   the store writes it with every record); on SQLite the lookup index now covers it.
// manifest_by_digest: an index on manifest(digest) alone, for "is this digest still stored anywhere".
// scan_manifest_layer: which layers each index report (scan_report) was built from, one row per
//   (manifest, layer). It is what lets the scanner drop a layer's cached result (scan_layer) once no
//   manifest it knows uses that layer any more, with one indexed anti-join instead of reading every
//   report's JSON. Filled from the existing reports here; kept in step by ScannerService.saveReport
//   and ScannerService.forget.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from './database.js';

export function scannerCleanupMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`alter table advisory add column ranges text`.execute(db);
      if (dialect === 'postgres') {
        await sql`update advisory set ranges = json_build_array(payload::json -> 'ranges', payload::json -> 'versions')::text`.execute(db);
        // PostgreSQL keeps the lookup index as it is: a B-tree entry is limited to ~2.7 kB and a
        // long `versions` list exceeds it, so `ranges` stays in the table rows.
      } else {
        await sql`update advisory set ranges = json_array(json(json_extract(payload, '$.ranges')), json(coalesce(json_extract(payload, '$.versions'), 'null')))`.execute(
          db,
        );
        // The lookup index covers the matcher's first query (distinct ranges per name, in index
        // order) and narrows its second to the rows of the groups it wants, without reading any
        // other ~1 kB row.
        await sql`drop index advisory_lookup`.execute(db);
        await sql`create index advisory_lookup on advisory (ecosystem, dist_id, dist_version, package, ranges, vuln_id, updater, key)`.execute(
          db,
        );
      }
      await sql`create table scan_manifest_layer (
        manifest_digest text not null,
        layer_digest text not null,
        primary key (manifest_digest, layer_digest))`.execute(db);
      await sql`create index scan_manifest_layer_layer on scan_manifest_layer (layer_digest)`.execute(db);
      // "Does any repository still store this digest?" (asked after deletes and by the sweep).
      await sql`create index manifest_by_digest on manifest (digest)`.execute(db);
      const reports = await sql<{ manifest_digest: string; report: string }>`select manifest_digest, report from scan_report`.execute(db);
      for (const r of reports.rows) {
        let layers: unknown;
        try {
          layers = (JSON.parse(r.report) as { layers?: unknown }).layers;
        } catch {
          continue;
        }
        if (!Array.isArray(layers)) continue;
        for (const l of new Set(layers.filter((x): x is string => typeof x === 'string'))) {
          await sql`insert into scan_manifest_layer (manifest_digest, layer_digest) values (${r.manifest_digest}, ${l})`.execute(db);
        }
      }
    },
  };
}
