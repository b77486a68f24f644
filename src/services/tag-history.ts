// Tag history (the time machine): every write to a tag goes through here, in the caller's transaction,
// so the `tag` row and its open `tag_history` row never disagree. History is pruned by gc after
// DEFAULT_TAG_EXPIRATION; until then gc keeps the manifests it names.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';

type Tx = Kysely<Database>;

/** Points `name` at a manifest; a different manifest ends the tag's current lifetime and starts a new one. */
export async function setTag(
  tx: Tx,
  t: { repositoryId: number; name: string; manifestId: number; digest: string; now: number },
): Promise<void> {
  await tx
    .insertInto('tag')
    .values({ repository_id: t.repositoryId, name: t.name, manifest_id: t.manifestId, updated_at: t.now })
    .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: t.manifestId, updated_at: t.now }))
    .execute();
  const open = await tx
    .selectFrom('tag_history')
    .select(['id', 'manifest_digest'])
    .where('repository_id', '=', t.repositoryId)
    .where('name', '=', t.name)
    .where('end_ts', 'is', null)
    .executeTakeFirst();
  if (open?.manifest_digest === t.digest) return;
  if (open) await tx.updateTable('tag_history').set({ end_ts: t.now }).where('id', '=', open.id).execute();
  // A concurrent writer of the same tag makes this insert conflict (one open row per tag); callers retry.
  await tx
    .insertInto('tag_history')
    .values({ repository_id: t.repositoryId, name: t.name, manifest_digest: t.digest, start_ts: t.now, end_ts: null })
    .execute();
}

/** Deletes a tag and ends its lifetime; false when there was no such tag. */
export async function removeTag(tx: Tx, repositoryId: number, name: string, now: number): Promise<boolean> {
  const r = await tx.deleteFrom('tag').where('repository_id', '=', repositoryId).where('name', '=', name).executeTakeFirst();
  await endLifetimes(tx, repositoryId, [name], now);
  return Number(r.numDeletedRows) > 0;
}

/**
 * After a manifest is deleted (its tags went with it): ends the open lifetimes on that digest whose tag no
 * longer points at it. Checked against the tag table, so a tag written concurrently keeps its lifetime.
 */
export async function endTagsOfDeletedManifest(tx: Tx, repositoryId: number, digest: string, now: number): Promise<void> {
  await tx
    .updateTable('tag_history')
    .set({ end_ts: now })
    .where('repository_id', '=', repositoryId)
    .where('manifest_digest', '=', digest)
    .where('end_ts', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('tag')
            .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
            .select('tag.name')
            .whereRef('tag.repository_id', '=', 'tag_history.repository_id')
            .whereRef('tag.name', '=', 'tag_history.name')
            .whereRef('manifest.digest', '=', 'tag_history.manifest_digest'),
        ),
      ),
    )
    .execute();
}

async function endLifetimes(tx: Tx, repositoryId: number, names: string[], now: number): Promise<void> {
  if (!names.length) return;
  await tx
    .updateTable('tag_history')
    .set({ end_ts: now })
    .where('repository_id', '=', repositoryId)
    .where('name', 'in', names)
    .where('end_ts', 'is', null)
    .execute();
}

/** Removes history that ended before `cutoff` (ms); returns how many rows went. */
export async function pruneHistory(db: Tx, cutoff: number): Promise<number> {
  const r = await db.deleteFrom('tag_history').where('end_ts', 'is not', null).where('end_ts', '<', cutoff).executeTakeFirst();
  return Number(r.numDeletedRows);
}
