// Tag history (the time machine): every write to a tag goes through here, in the caller's transaction,
// so the `tag` row and its open `tag_history` row never disagree. History is pruned by gc after
// DEFAULT_TAG_EXPIRATION; until then gc keeps the manifests it names.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type {} from '../db/types-tag-policy.js';
import { activeTag, openLifetime } from './tag-expiry.js';
import { immutableBy, requireMutable, rulesOf, TagImmutableError } from './tag-rules.js';
import { prepared } from '../db/prepared.js';

type Tx = Kysely<Database>;

const openLifetimeOf = prepared(3, (tx: Tx, repositoryId: number, name: string, now: number) =>
  tx
    .selectFrom('tag_history')
    .select(['id', 'manifest_digest'])
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where(openLifetime(now))
    .orderBy('start_ts', 'desc')
    .orderBy('id', 'desc')
    .limit(1),
);
/** The tag row: its expiration replaced (`expiresAt` a number or null) or kept (the second form). */
const upsertTag = prepared(5, (tx: Tx, repositoryId: number, name: string, manifestId: number, now: number, expiresAt: number | null) =>
  tx
    .insertInto('tag')
    .values({ repository_id: repositoryId, name, manifest_id: manifestId, updated_at: now, expires_at: expiresAt })
    .onConflict((oc) =>
      oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: manifestId, updated_at: now, expires_at: expiresAt }),
    ),
);
const upsertTagKeepExpiry = prepared(
  5,
  (tx: Tx, repositoryId: number, name: string, manifestId: number, now: number, expiresAt: number | null) =>
    tx
      .insertInto('tag')
      .values({ repository_id: repositoryId, name, manifest_id: manifestId, updated_at: now, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: manifestId, updated_at: now })),
);
const endLifetime = prepared(2, (tx: Tx, id: number, end: number | null) =>
  tx.updateTable('tag_history').set({ end_ts: end }).where('id', '=', id),
);
const startLifetime = prepared(5, (tx: Tx, repositoryId: number, name: string, digest: string, start: number, end: number | null) =>
  tx.insertInto('tag_history').values({ repository_id: repositoryId, name, manifest_digest: digest, start_ts: start, end_ts: end }),
);

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
  const open = (await openLifetimeOf(tx, t.repositoryId, t.name, t.now)).rows[0];
  const rule = immutableBy(await rulesOf(tx, t.repositoryId), t.name);
  if (rule && open && open.manifest_digest !== t.digest) throw new TagImmutableError(t.name, rule, t.refusal ?? 'move');
  const expiresAt = rule ? undefined : t.expiresAt;
  const same = open?.manifest_digest === t.digest;
  // A new lifetime has no expiration unless one is given; the same manifest keeps its lifetime's end unless given.
  const rowExpiry = same ? expiresAt : (expiresAt ?? null);
  await (rowExpiry === undefined ? upsertTagKeepExpiry : upsertTag)(tx, t.repositoryId, t.name, t.manifestId, t.now, rowExpiry ?? null);
  if (same) {
    if (expiresAt !== undefined) await endLifetime(tx, open.id, expiresAt);
    return;
  }
  if (open) await endLifetime(tx, open.id, t.now);
  // A concurrent writer of the same tag makes this insert conflict (one open row per tag); callers retry.
  await startLifetime(tx, t.repositoryId, t.name, t.digest, t.now, rowExpiry ?? null);
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
