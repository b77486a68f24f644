// Migration 0005_airgap: when each updater's data was last imported from an air-gap bundle, and
// how old that data was (the time it was fetched upstream, from the bundle header), so the API and
// metrics can say how stale the data is. One row per updater, replaced at each import.
import { sql, type Kysely, type Migration } from 'kysely';

export function airgapMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table updater_import (
        name text primary key,
        data_time bigint not null,
        imported_at bigint not null,
        bundle_created bigint not null,
        bundle_sha256 text not null,
        kind text not null)`.execute(db);
    },
  };
}
