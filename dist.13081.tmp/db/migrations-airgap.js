import { sql } from "kysely";
function airgapMigration() {
  return {
    async up(db) {
      await sql`create table updater_import (
        name text primary key,
        data_time bigint not null,
        imported_at bigint not null,
        bundle_created bigint not null,
        bundle_sha256 text not null,
        kind text not null)`.execute(db);
    }
  };
}
export {
  airgapMigration
};
//# sourceMappingURL=migrations-airgap.js.map
