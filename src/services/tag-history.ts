// Tag history (the time machine): every write to a tag goes through here, in the caller's transaction,
// so the `tag` row and its open `tag_history` row never disagree. History is pruned by gc after
// DEFAULT_TAG_EXPIRATION; until then gc keeps the manifests it names.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type {} from '../db/types-tag-policy.js';
import { activeTag, openLifetime } from './tag-expiry.js';
import { immutableBy, requireMutable, rulesOf, TagImmutableError } from './tag-rules.js';

type Tx = Kysely<Database>;

/**
 * Points `name` at a manifest; a different manifest ends the tag's current lifetime and starts a new one.
 * `expiresAt` (ms): the new lifetime's end (a push with the quay.expires-after label); on the same manifest it
 * replaces the current end (null clears it); undefined keeps it. A tag under an immutability rule is refused a
 * different manifest (TagImmutableError, `refusal` names the action) and never gets an expiration.
 */
export async function setTag(
  tx: Tx,
  t: {
    repositoryId: number;
    name: string;
    manifestId: number;
    digest: string;
    now: number;
    expiresAt?: number | null;
    refusal?: 'overwrite' | 'move';
  },
): Promise<void> {
  const open = await tx
    .selectFrom('tag_history')
    .select(['id', 'manifest_digest'])
    .where('repository_id', '=', t.repositoryId)
    .where('name', '=', t.name)
    .where(openLifetime(t.now))
    .orderBy('start_ts', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  const rule = immutableBy(await rulesOf(tx, t.repositoryId), t.name);
  if (rule && open && open.manifest_digest !== t.digest) throw new TagImmutableError(t.name, rule, t.refusal ?? 'move');
  const expiresAt = rule ? undefined : t.expiresAt;
  const same = open?.manifest_digest === t.digest;
  // A new lifetime has no expiration unless one is given; the same manifest keeps its lifetime's end unless given.
  const rowExpiry = same ? expiresAt : (expiresAt ?? null);
  await tx
    .insertInto('tag')
    .values({ repository_id: t.repositoryId, name: t.name, manifest_id: t.manifestId, updated_at: t.now, expires_at: rowExpiry ?? null })
    .onConflict((oc) =>
      oc
        .columns(['repository_id', 'name'])
        .doUpdateSet({ manifest_id: t.manifestId, updated_at: t.now, ...(rowExpiry === undefined ? {} : { expires_at: rowExpiry }) }),
    )
    .execute();
  if (same) {
    if (expiresAt !== undefined) await tx.updateTable('tag_history').set({ end_ts: expiresAt }).where('id', '=', open.id).execute();
    return;
  }
  if (open) await tx.updateTable('tag_history').set({ end_ts: t.now }).where('id', '=', open.id).execute();
  // A concurrent writer of the same tag makes this insert conflict (one open row per tag); callers retry.
  await tx
    .insertInto('tag_history')
    .values({ repository_id: t.repositoryId, name: t.name, manifest_digest: t.digest, start_ts: t.now, end_ts: rowExpiry ?? null })
    .execute();
}

/** Deletes a tag and ends its lifetime; false when there was no such tag (or it had expired). Refused under a rule. */
export async function removeTag(tx: Tx, repositoryId: number, name: string, now: number): Promise<boolean> {
  const alive = await tx
    .selectFrom('tag')
    .select('name')
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where(activeTag(now))
    .executeTakeFirst();
  if (!alive) return false;
  await requireMutable(tx, repositoryId, name, 'delete');
  await tx.deleteFrom('tag').where('repository_id', '=', repositoryId).where('name', '=', name).execute();
  await endLifetimes(tx, repositoryId, [name], now);
  return true;
}

/**
 * Sets (ms) or clears (null) when the tag's current lifetime ends; false when the tag is not alive.
 * Refused (TagImmutableError) for a tag under an immutability rule.
 */
export async function setTagExpiry(tx: Tx, repositoryId: number, name: string, expiresAt: number | null, now: number): Promise<boolean> {
  const alive = await tx
    .selectFrom('tag')
    .select('name')
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where(activeTag(now))
    .executeTakeFirst();
  if (!alive) return false;
  if (expiresAt !== null) await requireMutable(tx, repositoryId, name, 'expire');
  await tx.updateTable('tag').set({ expires_at: expiresAt }).where('repository_id', '=', repositoryId).where('name', '=', name).execute();
  await tx
    .updateTable('tag_history')
    .set({ end_ts: expiresAt })
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where(openLifetime(now))
    .execute();
  return true;
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
    .where(openLifetime(now))
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
    .where(openLifetime(now))
    .execute();
}

/**
 * Removes history that ended before `cutoff` (ms); returns how many rows went. Tags that expired before it go
 * too (until then an expired row is only invisible), so nothing keeps their manifests from gc.
 */
export async function pruneHistory(db: Tx, cutoff: number): Promise<number> {
  await db.deleteFrom('tag').where('expires_at', 'is not', null).where('expires_at', '<', cutoff).execute();
  const r = await db.deleteFrom('tag_history').where('end_ts', 'is not', null).where('end_ts', '<', cutoff).executeTakeFirst();
  return Number(r.numDeletedRows);
}
