// The database secret key must be the one the database's sealed values (token-signing keys, mirror and
// proxy cache credentials, notification secrets) were sealed with. The first start records the key's
// public id and where the key came from (table secret_key_fingerprint); every later start compares, and a
// server started with another key (a new DATA_DIR, a lost key file, another DATABASE_SECRET_KEY) refuses
// to start, naming both keys' places, instead of answering 500 to every token request.
import path from 'node:path';
import type { BerthConfig } from '../config/load.js';
import type { DB } from '../db/database.js';
import type {} from '../db/types-key-fingerprint.js';
import { databaseSecretBox, SECRET_KEY_FILE } from './secret-key.js';

export class SecretKeyMismatchError extends Error {}

/** Where this server's key comes from, as recorded and shown. */
export function secretKeySource(config: BerthConfig): string {
  return config.raw.DATABASE_SECRET_KEY ? 'DATABASE_SECRET_KEY' : path.join(config.dataDir, SECRET_KEY_FILE);
}

function keyIdOfSealed(value: string): string | undefined {
  const parts = value.split('.');
  return parts.length === 6 && `${parts[0]}.${parts[1]}` === 'aes256gcm.v1' ? parts[2] : undefined;
}

/** Records the key's id on the first start; throws SecretKeyMismatchError when this server's key is another. */
export async function checkSecretKeyFingerprint(db: DB, config: BerthConfig, now: number): Promise<void> {
  const box = databaseSecretBox(config);
  const source = secretKeySource(config);
  let row = await db.selectFrom('secret_key_fingerprint').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!row) {
    // A database from before the fingerprint: its signing keys tell which key sealed them.
    const sealed = await db.selectFrom('signing_key').select('private_pem').execute();
    const other = sealed.map((r) => keyIdOfSealed(r.private_pem)).find((id) => id !== undefined && id !== box.keyId);
    if (other) throw mismatch({ key_id: other, source: 'an unrecorded place' }, box.keyId, source, config);
    await db
      .insertInto('secret_key_fingerprint')
      .values({ id: 1, key_id: box.keyId, source, created_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    // Another replica may have started at the same moment: compare with whichever row won.
    row = await db.selectFrom('secret_key_fingerprint').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  }
  if (row.key_id !== box.keyId) throw mismatch(row, box.keyId, source, config);
}

function mismatch(
  recorded: { key_id: string; source: string },
  keyId: string,
  source: string,
  config: BerthConfig,
): SecretKeyMismatchError {
  const fix =
    source === 'DATABASE_SECRET_KEY'
      ? `set DATABASE_SECRET_KEY to the key this database was set up with`
      : recorded.source === 'DATABASE_SECRET_KEY'
        ? `set DATABASE_SECRET_KEY to the key this database was set up with (this server looked for ${source})`
        : `restore the key file ${recorded.source} to ${source}, or point DATA_DIR back to ${path.dirname(recorded.source)}`;
  return new SecretKeyMismatchError(
    `the database secret key does not match this database: it was set up with the key from ${recorded.source} (key id ${recorded.key_id}), ` +
      `but this server's key comes from ${source} (key id ${keyId}${source === 'DATABASE_SECRET_KEY' ? '' : `; DATA_DIR is ${config.dataDir}`}). ` +
      `Without that key its token-signing keys and stored credentials cannot be opened. To fix: ${fix}. ` +
      'Every replica must use the same key (docs/SCALE-OUT.md, "The database secret key").',
  );
}
