// Migration 0022_key_fingerprint: which database secret key this database's sealed values were sealed with
// (its public key id, never the key) and where that key came from, checked at every start
// (src/startup/key-fingerprint.ts). One row.
import { sql, type Kysely, type Migration } from 'kysely';

export function keyFingerprintMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`create table secret_key_fingerprint (
        id integer primary key,
        key_id text not null,
        source text not null,
        created_at bigint not null)`.execute(db);
    },
  };
}
