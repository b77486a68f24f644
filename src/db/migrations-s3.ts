// Migration 0010_s3_uploads: the state of uploads to object storage (S3 multipart upload id, parts, pending tail),
// so a chunk received by one replica can be followed by a chunk or the final PUT on another (docs/STORAGE.md).
import { sql, type Kysely, type Migration } from 'kysely';

export function s3UploadsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // `rev` is bumped by every claim and every save (compare-and-set), so two replicas never write one upload at once.
      await sql`create table storage_upload (
        id text primary key,
        rev bigint not null,
        state text not null,
        created_at bigint not null,
        updated_at bigint not null)`.execute(db);
      await sql`create index storage_upload_updated on storage_upload (updated_at)`.execute(db);
    },
  };
}
