// Recording a committed blob in the database and linking it to a repository.
import type { DB } from '../db/database.js';
import { retryOnConflict } from '../db/retry.js';

/** Upserts the blob row (touching last_used_at, which guards it from gc) and links it to the repository. */
export async function linkBlob(
  db: DB,
  repositoryId: number,
  digest: string,
  size: number,
  now: number,
  alsoInTransaction?: (tx: DB) => Promise<void>,
): Promise<void> {
  await retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      await alsoInTransaction?.(tx);
      await tx
        .insertInto('blob')
        .values({ digest, size, created_at: now, last_used_at: now })
        .onConflict((oc) => oc.column('digest').doUpdateSet({ last_used_at: now }))
        .execute();
      await tx
        .insertInto('repository_blob')
        .values({ repository_id: repositoryId, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now }))
        .execute();
    }),
  );
}

/**
 * Undoes linkBlob for content whose bytes are gone (collected while its upload was committed): the
 * repository's link, and the blob row when nothing else links or references it.
 */
export async function unlinkMissingBlob(db: DB, repositoryId: number, digest: string): Promise<void> {
  await retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      await tx.deleteFrom('repository_blob').where('repository_id', '=', repositoryId).where('digest', '=', digest).execute();
      await tx
        .deleteFrom('blob')
        .where('digest', '=', digest)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('repository_blob').select('digest').where('repository_blob.digest', '=', digest))),
        )
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('manifest_ref').select('digest').where('manifest_ref.digest', '=', digest))),
        )
        .execute();
    }),
  );
}
