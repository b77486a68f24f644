// Tag history (the time machine): every write to a tag goes through here, in the caller's transaction,
// so the `tag` row and its open `tag_history` row never disagree. History is pruned by gc after
// DEFAULT_TAG_EXPIRATION; until then gc keeps the manifests it names.
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type {} from '../db/types-tag-policy.js';
import { activeTag, openLifetime } from './tag-expiry.js';
import { immutableBy, requireMutable, rulesOf, TagImmutableError, type ImmutabilityRule } from './tag-rules.js';
import { prepared } from '../db/prepared.js';

type Tx = Kysely<Database>;

/**
 * The tag's current lifetime (at most one, 0023's unique index), open or ended by its own expiration. `is_current = 1`
 * is written out, not bound: SQLite re-prepares a statement on every run when a bound value stands where a partial
 * index's WHERE has a constant (the planner's check that the index applies depends on the value; docs/PERFORMANCE.md,
 * "Small push, sixth round"). test/sqlite-reprepare.test.ts holds every push statement to that.
 */
const currentLifetimeOf = prepared(2, (tx: Tx, repositoryId: number, name: string) =>
  tx
    .selectFrom('tag_history')
    .select(['id', 'manifest_digest', 'end_ts'])
    .where('repository_id', '=', repositoryId)
    .where('name', '=', name)
    .where('is_current', '=', sql.lit(1)),
);
/** The tag row, its expiration replaced by `expiresAt` (a number or null). */
const upsertTag = prepared(5, (tx: Tx, repositoryId: number, name: string, manifestId: number, now: number, expiresAt: number | null) =>
  tx
    .insertInto('tag')
    .values({ repository_id: repositoryId, name, manifest_id: manifestId, updated_at: now, expires_at: expiresAt })
    .onConflict((oc) =>
      oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: manifestId, updated_at: now, expires_at: expiresAt }),
    ),
);
/** The tag row, keeping its expiration when it stays on the same manifest and is alive, else none (`expiresAt` null). */
const upsertTagKeepExpiry = prepared(
  5,
  (tx: Tx, repositoryId: number, name: string, manifestId: number, now: number, expiresAt: number | null) =>
    tx
      .insertInto('tag')
      .values({ repository_id: repositoryId, name, manifest_id: manifestId, updated_at: now, expires_at: expiresAt })
      .onConflict((oc) =>
        oc.columns(['repository_id', 'name']).doUpdateSet({
          manifest_id: manifestId,
          updated_at: now,
          expires_at: sql<number | null>`case when tag.manifest_id = excluded.manifest_id
            and (tag.expires_at is null or tag.expires_at > ${now}) then tag.expires_at else null end`,
        }),
      ),
);
/**
 * PostgreSQL: the tag's current lifetime, or, when it has none, a new one started in the same statement (a
 * data-modifying WITH; one round trip less for a new tag). `started` says which.
 */
const currentLifetimeOrStart = prepared(
  5,
  (tx: Tx, repositoryId: number, name: string, digest: string, start: number, end: number | null) =>
    sql<{ id: number; manifest_digest: string | null; end_ts: number | null; started: boolean }>`with cur as (
  select id, manifest_digest, end_ts from tag_history where repository_id = ${repositoryId} and name = ${name} and is_current = 1
),
started as (
  insert into tag_history (repository_id, name, manifest_digest, start_ts, end_ts, is_current)
  select ${repositoryId}::bigint, ${name}::text, ${digest}::text, ${start}::bigint, ${end}::bigint, 1
  where not exists (select 1 from cur)
  returning id
)
select id, manifest_digest, end_ts, false as started from cur
union all select id, null, null, true from started`,
);
const setLifetimeEnd = prepared(2, (tx: Tx, id: number, end: number | null) =>
  tx.updateTable('tag_history').set({ end_ts: end }).where('id', '=', id),
);
/** Makes a lifetime no longer the current one, ending at `end`. */
const retireLifetime = prepared(2, (tx: Tx, id: number, end: number | null) =>
  tx.updateTable('tag_history').set({ end_ts: end, is_current: null }).where('id', '=', id),
);
const startLifetime = prepared(5, (tx: Tx, repositoryId: number, name: string, digest: string, start: number, end: number | null) =>
  tx
    .insertInto('tag_history')
    .values({ repository_id: repositoryId, name, manifest_digest: digest, start_ts: start, end_ts: end, is_current: 1 }),
);

/**
 * Points `name` at a manifest; a different manifest ends the tag's current lifetime and starts a new one.
 * `expiresAt` (ms): the new lifetime's end (a push with the quay.expires-after label); on the same manifest it
 * replaces the current end (null clears it); undefined keeps it. A tag under an immutability rule is refused a
 * different manifest (TagImmutableError, `refusal` names the action) and never gets an expiration.
 *
 * Concurrent writers of one tag take turns: the tag row is written first, which on PostgreSQL locks it until the
 * transaction ends, so the lifetime read next is the one the previous writer left (read committed: each statement
 * sees what committed before it). The unique index on the current lifetime backs this up: a writer that still
 * races fails with a unique conflict and its caller retries (retryOnConflict).
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
    /** The repository's immutability rules, when the caller read them in this transaction already. */
    rules?: ImmutabilityRule[];
    /** The tag row was written already in this transaction, as below with no `expiresAt` (manifest-store-pg.ts). */
    tagWritten?: boolean;
  },
): Promise<void> {
  const rule = immutableBy(t.rules ?? (await rulesOf(tx, t.repositoryId)), t.name);
  const expiresAt = rule ? undefined : t.expiresAt;
  // Undefined keeps the tag row's expiration only if it stays on the same (alive) manifest: the same rule as below.
  if (!(t.tagWritten && expiresAt === undefined))
    await (expiresAt === undefined ? upsertTagKeepExpiry : upsertTag)(tx, t.repositoryId, t.name, t.manifestId, t.now, expiresAt ?? null);
  let current: { id: number; manifest_digest: string; end_ts: number | null } | undefined;
  if (tx.getExecutor().adapter instanceof PostgresAdapter) {
    // A lifetime started here only when the tag had no current one: nothing is left to decide.
    const r = (await currentLifetimeOrStart(tx, t.repositoryId, t.name, t.digest, t.now, expiresAt ?? null)).rows[0];
    if (r?.started) return;
    current = r as typeof current;
  } else current = (await currentLifetimeOf(tx, t.repositoryId, t.name)).rows[0];
  const open = current && (current.end_ts === null || Number(current.end_ts) > t.now) ? current : undefined;
  // Refused after the tag row was written: throwing rolls the transaction back.
  if (rule && open && open.manifest_digest !== t.digest) throw new TagImmutableError(t.name, rule, t.refusal ?? 'move');
  if (open && open.manifest_digest === t.digest) {
    if (expiresAt !== undefined) await setLifetimeEnd(tx, open.id, expiresAt);
    return;
  }
  // The current lifetime ends now (or stays ended at its expiration) and is no longer current.
  if (current) await retireLifetime(tx, current.id, open ? t.now : current.end_ts);
  // A new lifetime has no expiration unless one is given.
  await startLifetime(tx, t.repositoryId, t.name, t.digest, t.now, expiresAt ?? null);
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
    .set({ end_ts: now, is_current: null })
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
    .set({ end_ts: now, is_current: null })
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
