// Stores a manifest fetched from the upstream: the repository (created on the first successful pull, owned by
// the organization, visibility as a push would make it), the manifest row and its references, and the tag
// with the time it was checked. The blobs it names are fetched when a client asks for them (fetch-blob.ts).
import { parseManifest } from '../../oci/manifest.js';
import { effectiveArtifactType } from '../../oci/manifest.js';
import { decideArtifact } from '../../oci/artifact-policy.js';
import { RegistryError } from '../../oci/errors.js';
import { retryOnConflict } from '../../db/retry.js';
import { CacheGroups } from '../../cache/types.js';
import type { ServiceContext } from '../context.js';
import { findRepository, type RepositoryRow } from '../repositories.js';
import { setTag } from '../tag-history.js';
import type { Manifest } from '../../upstream/index.js';
import type {} from '../../db/types-proxy-cache.js';
import { activeTag } from '../tag-expiry.js';

/** The repository of a cached pull, created owned by its organization when it does not exist yet. */
export async function ensureCacheRepository(ctx: ServiceContext, name: string, visibility: 'public' | 'private'): Promise<RepositoryRow> {
  const found = await findRepository(ctx.db, name);
  if (found) return found;
  const org = name.split('/')[0];
  const ns = await ctx.db.selectFrom('account').select('id').where('name', '=', org).where('kind', '=', 'org').executeTakeFirst();
  await ctx.db
    .insertInto('repository')
    .values({ name, created_at: ctx.now(), namespace_id: ns?.id ?? null, visibility })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const made = await findRepository(ctx.db, name);
  if (!made) throw new Error(`repository ${name} vanished while being created`);
  await ctx.cache?.invalidate(CacheGroups.perm);
  return made;
}

/** Stores `m` in `repo` (and moves `tag` to it, recording when the upstream was checked); returns the child manifests an index names. */
export async function storeManifest(ctx: ServiceContext, repo: RepositoryRow, m: Manifest, tag?: string): Promise<string[]> {
  const parsed = parseManifest(m.bytes, m.mediaType);
  const decision = decideArtifact(parsed, ctx.config.artifacts);
  if (!decision.accept) throw new RegistryError('MANIFEST_INVALID', `proxy cache: ${decision.message}`, { mediaType: decision.mediaType });
  const blobs = parsed.isIndex ? [] : [parsed.config, ...parsed.layers].filter((d) => d !== undefined);
  const now = ctx.now();
  await retryOnConflict(() =>
    ctx.db.transaction().execute(async (tx) => {
      let row = await tx
        .selectFrom('manifest')
        .select('id')
        .where('repository_id', '=', repo.id)
        .where('digest', '=', m.digest)
        .executeTakeFirst();
      if (!row) {
        row = await tx
          .insertInto('manifest')
          .values({
            repository_id: repo.id,
            digest: m.digest,
            media_type: parsed.mediaType,
            artifact_type: effectiveArtifactType(parsed) ?? null,
            size: m.bytes.byteLength,
            content: m.bytes,
            subject_digest: parsed.subject?.digest ?? null,
            annotations: parsed.annotations ? JSON.stringify(parsed.annotations) : null,
            created_at: now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const refs = [
          ...[...new Set(blobs.map((d) => d.digest))].map((digest) => ({ manifest_id: row!.id, digest, kind: 'blob' as const })),
          ...[...new Set(parsed.manifests.map((d) => d.digest))].map((digest) => ({
            manifest_id: row!.id,
            digest,
            kind: 'manifest' as const,
          })),
        ];
        if (refs.length) await tx.insertInto('manifest_ref').values(refs).execute();
      }
      if (tag) {
        await setTag(tx, { repositoryId: repo.id, name: tag, manifestId: row.id, digest: m.digest, now });
        await markChecked(tx, repo.id, tag, m.digest, now);
      }
    }),
  );
  if (tag) await ctx.cache?.invalidate(CacheGroups.tags(repo.name));
  return [...new Set(parsed.manifests.map((d) => d.digest))];
}

/** Records that `tag` was found to be `digest` upstream at `now`. */
export async function markChecked(db: ServiceContext['db'], repositoryId: number, tag: string, digest: string, now: number): Promise<void> {
  await db
    .insertInto('proxy_cache_tag')
    .values({ repository_id: repositoryId, tag, digest, checked_at: now })
    .onConflict((oc) => oc.columns(['repository_id', 'tag']).doUpdateSet({ digest, checked_at: now }))
    .execute();
}

/** The cached tag: its manifest digest and when the upstream was last checked (undefined: not cached). */
export async function cachedTag(
  ctx: ServiceContext,
  repositoryId: number,
  tag: string,
): Promise<{ digest: string; checkedAt: number } | undefined> {
  const row = await ctx.db
    .selectFrom('tag')
    .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
    .leftJoin('proxy_cache_tag', (j) =>
      j.onRef('proxy_cache_tag.repository_id', '=', 'tag.repository_id').onRef('proxy_cache_tag.tag', '=', 'tag.name'),
    )
    .select(['manifest.digest', 'proxy_cache_tag.checked_at', 'proxy_cache_tag.digest as checked_digest'])
    .where('tag.repository_id', '=', repositoryId)
    .where('tag.name', '=', tag)
    .where(activeTag(ctx.now()))
    .executeTakeFirst();
  if (!row) return undefined;
  // A tag moved locally since the check (or never checked: it was there before the cache) counts as stale.
  const checkedAt = row.checked_digest === row.digest && row.checked_at !== null ? Number(row.checked_at) : 0;
  return { digest: row.digest, checkedAt };
}

export async function hasManifest(ctx: ServiceContext, repositoryId: number, digest: string): Promise<boolean> {
  return !!(await ctx.db
    .selectFrom('manifest')
    .select('id')
    .where('repository_id', '=', repositoryId)
    .where('digest', '=', digest)
    .executeTakeFirst());
}
