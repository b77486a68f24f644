import { sql } from "kysely";
function s3UploadsMigration() {
  return {
    async up(db) {
      await sql`create table storage_upload (
        id text primary key,
        rev bigint not null,
        state text not null,
        created_at bigint not null,
        updated_at bigint not null)`.execute(db);
      await sql`create index storage_upload_updated on storage_upload (updated_at)`.execute(db);
    }
  };
}
export {
  s3UploadsMigration
};
//# sourceMappingURL=migrations-s3.js.map
