// Recording a committed blob in the database and linking it to a repository.
import type { DB } from '../db/database.js';
import { retryOnConflict } from '../db/retry.js';

/**
 * Upserts the blob row (touching last_used_at, which guards it from gc) and links it to the repository.
 * `ensureBytes` runs inside the transaction right after the blob row is written: gc deletes a blob's row and
 * its file in one transaction that holds that row (SQLite: the write lock; PostgreSQL: the row lock the upsert
 * waits for), so what `ensureBytes` sees is final. It puts the bytes back or throws, and then nothing is
 * committed: no row ever points at bytes a concurrent gc took, so no manifest can be acknowledged on them.
 */
export async function linkBlob(
  db: DB,
  repositoryId: number,
  digest: string,
  size: number,
  now: number,
  alsoInTransaction?: (tx: DB) => Promise<void>,
  ensureBytes?: () => Promise<void>,
): Promise<void> {
  await retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      await alsoInTransaction?.(tx);
      await tx
        .insertInto('blob')
        .values({ digest, size, created_at: now, last_used_at: now })
        .onConflict((oc) => oc.column('digest').doUpdateSet({ last_used_at: now }))
        .execute();
      await ensureBytes?.();
      await tx
        .insertInto('repository_blob')
        .values({ repository_id: repositoryId, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
        .execute();
    }),
  );
}
