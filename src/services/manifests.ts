// Manifests: put (validated against what the repository holds), get with content negotiation, delete, referrers.
import { RegistryError } from '../oci/errors.js';
import { digestOf, looksLikeDigest, requireDigest } from '../oci/digest.js';
import { isValidTag, requireRepositoryName, requireTag } from '../oci/names.js';
import { MT, MANIFEST_MEDIA_TYPES, isIndexType } from '../oci/mediatypes.js';
import { effectiveArtifactType, parseManifest, type Descriptor } from '../oci/manifest.js';
import { decideArtifact } from '../oci/artifact-policy.js';
import type { ServiceContext } from './context.js';
import { ensureRepository, findRepository, requireRepository, type RepositoryCreator } from './repositories.js';
import { retryOnConflict } from '../db/retry.js';
import { prepared, preparedList } from '../db/prepared.js';
import type { DB } from '../db/database.js';
import { endTagsOfDeletedManifest, removeTag, setTag } from './tag-history.js';
import { recordCandidate, recordManifestDeleted } from './gc-candidates.js';
import { CacheGroups } from '../cache/types.js';
import { invalidateAfter } from '../cache/invalidation.js';
import { labelledExpiry } from './tag-expiry.js';
import { deniedIfImmutable, requireMutableManifest } from './tag-rules.js';
import { storeImageManifestPg } from './manifest-store-pg.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  content: Uint8Array;
}
export interface PutResult {
  digest: string;
  subject?: string;
  created: boolean;
}

/** Layers that clients may reference without uploading (foreign / non-distributable layers). */
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

const manifestId = prepared(2, (db: DB, repositoryId: number, digest: string) =>
  db.selectFrom('manifest').select('id').where('repository_id', '=', repositoryId).where('digest', '=', digest),
);
const insertManifest = prepared(
  9,
  (
    db: DB,
    repositoryId: number,
    digest: string,
    mediaType: string,
    artifactType: string | null,
    size: number,
    content: Uint8Array,
    subject: string | null,
    annotations: string | null,
    createdAt: number,
  ) =>
    db
      .insertInto('manifest')
      .values({
        repository_id: repositoryId,
        digest,
        media_type: mediaType,
        artifact_type: artifactType,
        size,
        content,
        subject_digest: subject,
        annotations,
        created_at: createdAt,
      })
      .returning('id'),
);

// A manifest PUT's list queries, compiled once per list length (../db/prepared.ts).
const linkedBlobSizes = preparedList(1, (db: DB, [repositoryId]: [number], digests: readonly string[]) =>
  db
    .selectFrom('repository_blob')
    .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
    .select(['blob.digest', 'blob.size'])
    .where('repository_blob.repository_id', '=', repositoryId)
    .where('repository_blob.digest', 'in', digests),
);
const touchBlobs = preparedList(1, (db: DB, [now]: [number], digests: readonly string[]) =>
  db.updateTable('blob').set({ last_used_at: now }).where('digest', 'in', digests).returning(['digest', 'size']),
);
const touchLinks = preparedList(2, (db: DB, [repositoryId, now]: [number, number], digests: readonly string[]) =>
  db
    .updateTable('repository_blob')
    .set({ created_at: now })
    .where('repository_id', '=', repositoryId)
    .where('digest', 'in', digests)
    .returning('digest'),
);
// PostgreSQL: a new manifest's blobs and this repository's links to them, read and held with FOR KEY SHARE until the
// commit. Shared locks: pushes of manifests that share a blob (a base layer, the same config) do not wait for each
// other, where the updates above serialise them on the blob's row until each commit; gc's removal takes FOR UPDATE
// first (gc.ts removeOne), so it still waits for the push and then, in a new statement, sees its references.
const lockLinkedBlobs = preparedList(1, (db: DB, [repositoryId]: [number], digests: readonly string[]) =>
  db
    .selectFrom('repository_blob')
    .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
    .select(['blob.digest', 'blob.size'])
    .where('repository_blob.repository_id', '=', repositoryId)
    .where('repository_blob.digest', 'in', digests)
    .forKeyShare(),
);
const insertRefs = (kind: 'blob' | 'manifest') =>
  preparedList(1, (db: DB, [manifestId]: [number], digests: readonly string[]) =>
    db.insertInto('manifest_ref').values(digests.map((digest) => ({ manifest_id: manifestId, digest, kind }))),
  );
const insertBlobRefs = insertRefs('blob');
const insertManifestRefs = insertRefs('manifest');

export class ManifestService {
  constructor(private readonly ctx: ServiceContext) {
    invalidateAfter<ManifestService>(this, ctx.cache, ['put', 'delete'], (a) => [CacheGroups.tags(a[0] as string)]);
  }

  async put(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    contentType: string | undefined,
    create?: RepositoryCreator,
  ): Promise<PutResult> {
    const byDigest = looksLikeDigest(reference);
    const algorithm = byDigest ? requireDigest(reference).algorithm : 'sha256';
    if (!byDigest) requireTag(reference);
    if (bytes.byteLength > this.ctx.config.maxManifestBytes) {
      throw new RegistryError(
        'SIZE_INVALID',
        `manifest is ${bytes.byteLength} bytes, over the limit of ${this.ctx.config.maxManifestBytes}`,
        { size: bytes.byteLength },
      );
    }
    const m = parseManifest(bytes, contentType);
    // Images always; Helm charts and other artifacts by FEATURE_* switches and ALLOWED_OCI_ARTIFACT_TYPES.
    const decision = decideArtifact(m, this.ctx.config.artifacts);
    if (!decision.accept)
      throw new RegistryError('MANIFEST_INVALID', decision.message, { mediaType: decision.mediaType, configKey: decision.configKey });
    const digest = digestOf(bytes, algorithm);
    if (byDigest && digest !== reference) {
      throw new RegistryError('DIGEST_INVALID', `manifest content has digest ${digest}, not ${reference}`, {
        expected: reference,
        actual: digest,
      });
    }
    const { db, scanQueue } = this.ctx;
    const blobs: Descriptor[] = m.isIndex ? [] : [m.config!, ...m.layers].filter((d) => !FOREIGN_LAYER_TYPES.has(d.mediaType));
    const children = m.manifests;
    const blobDigests = [...new Set(blobs.map((d) => d.digest))];
    const childDigests = [...new Set(children.map((d) => d.digest))];
    // PostgreSQL, an image (blobs, no child manifests): the repository, the manifest and its blobs in one statement
    // inside the transaction (./manifest-store-pg.ts); a missing repository is a missing blob there too.
    const onePg = this.ctx.dialect === 'postgres' && blobDigests.length > 0 && childDigests.length === 0;
    // A repository comes into being with its first content: never for a manifest that is refused.
    const existing = onePg ? undefined : await findRepository(db, repository);
    if (!onePg && !existing && (blobs.length || children.length)) {
      const first = blobs[0] ?? children[0];
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        `${blobs.length ? 'blob' : 'manifest'} ${first.digest} is not in repository "${repository}": push it before the manifest`,
        { digest: first.digest },
      );
    }
    const repo = onePg ? undefined : (existing ?? (await ensureRepository(this.ctx, repository, create)));
    const now = this.ctx.now();
    // quay.expires-after in the image config: the tag's lifetime ends then (docs/TAGS.md).
    const expiresAt = byDigest ? undefined : await labelledExpiry(this.ctx.store, m.isIndex ? undefined : m.config, now);
    const result = await retryOnConflict(() =>
      db.transaction().execute(async (tx) => {
        const pg = onePg
          ? await storeImageManifestPg(
              tx,
              {
                repository,
                digest,
                mediaType: m.mediaType,
                artifactType: effectiveArtifactType(m) ?? null,
                size: bytes.byteLength,
                content: bytes,
                subject: m.subject?.digest ?? null,
                annotations: m.annotations ? JSON.stringify(m.annotations) : null,
                now,
                tag: !byDigest && expiresAt === undefined ? reference : null,
                scanJob: !!scanQueue,
              },
              blobDigests,
            )
          : undefined;
        const unknownBlob = (d: Descriptor) =>
          new RegistryError(
            'MANIFEST_BLOB_UNKNOWN',
            `blob ${d.digest} (${d.mediaType}) is not in repository "${repository}": push it before the manifest`,
            { digest: d.digest },
          );
        // Only the one statement finds no repository (then it has none of the blobs either).
        const repoId = repo?.id ?? pg?.repositoryId;
        if (repoId === undefined) throw unknownBlob(blobs[0]);
        let row = pg ? (pg.manifestId !== undefined ? { id: pg.manifestId } : undefined) : (await manifestId(tx, repoId, digest)).rows[0];
        const created = pg ? pg.created : !row;
        const checkSizes = (sizes: Map<string, number>, linked: Set<string>) => {
          for (const d of blobs) {
            const size = sizes.get(d.digest);
            if (size === undefined || !linked.has(d.digest)) throw unknownBlob(d);
            if (size !== d.size) {
              throw new RegistryError('MANIFEST_INVALID', `descriptor of ${d.digest} says ${d.size} bytes but the blob has ${size}`, {
                digest: d.digest,
              });
            }
          }
        };
        if (pg) {
          checkSizes(pg.sizes, new Set(pg.sizes.keys()));
          // A concurrent push of the same manifest committed its row first: read it (this statement sees it).
          row ??= (await manifestId(tx, repoId, digest)).rows[0];
          if (!row) throw new Error('manifest insert returned no id');
        } else if (blobDigests.length && !created) {
          // The manifest is here already (a tag moved to it): its blobs are checked, nothing is touched.
          const have = (await linkedBlobSizes(tx, [repoId], blobDigests)).rows;
          checkSizes(new Map(have.map((h) => [h.digest, h.size])), new Set(have.map((h) => h.digest)));
        } else if (blobDigests.length && this.ctx.dialect === 'postgres') {
          // A new manifest on PostgreSQL: its blobs' links and rows are held (FOR KEY SHARE) until the commit, one
          // statement; a link gc removed meanwhile is not returned and the push is refused.
          const have = (await lockLinkedBlobs(tx, [repoId], blobDigests)).rows;
          checkSizes(new Map(have.map((h) => [h.digest, h.size])), new Set(have.map((h) => h.digest)));
        } else if (blobDigests.length) {
          // A new manifest touches every blob it names and this repository's links to them, and the same two
          // statements check them: a blob gc removed meanwhile (or never pushed here) is missing from what they
          // return, and the push is refused rather than acknowledged without its content. The links are locked
          // here, so a gc pass that is removing one finishes first and the push is refused, or waits for this push.
          const touched = (await touchBlobs(tx, [now], blobDigests)).rows;
          const linked = (await touchLinks(tx, [repoId, now], blobDigests)).rows;
          checkSizes(new Map(touched.map((h) => [h.digest, h.size])), new Set(linked.map((h) => h.digest)));
        }
        if (childDigests.length) {
          const have = await tx
            .selectFrom('manifest')
            .select('digest')
            .where('repository_id', '=', repoId)
            .where('digest', 'in', childDigests)
            .execute();
          const known = new Set(have.map((h) => h.digest));
          const missing = childDigests.find((d) => !known.has(d));
          if (missing)
            throw new RegistryError(
              'MANIFEST_BLOB_UNKNOWN',
              `manifest ${missing} listed in the index is not in repository "${repository}": push it first`,
              { digest: missing },
            );
        }
        if (!row) {
          // A concurrent push of the same manifest makes this insert conflict; the retry then finds its row.
          const inserted = await insertManifest(
            tx,
            repoId,
            digest,
            m.mediaType,
            effectiveArtifactType(m) ?? null,
            bytes.byteLength,
            bytes,
            m.subject?.digest ?? null,
            m.annotations ? JSON.stringify(m.annotations) : null,
            now,
          );
          row = inserted.rows[0];
          if (!row) throw new Error('manifest insert returned no id');
          if (blobDigests.length) await insertBlobRefs(tx, [row.id], blobDigests);
          if (childDigests.length) await insertManifestRefs(tx, [row.id], childDigests);
        }
        // Pushed by digest, a new manifest is untagged from the start: a candidate for `gc --delete-untagged`.
        if (created && byDigest) await recordCandidate(tx, 'manifest', repoId, digest, now);
        if (!byDigest) {
          await setTag(tx, {
            repositoryId: repoId,
            name: reference,
            manifestId: row.id,
            digest,
            now,
            expiresAt,
            refusal: 'overwrite',
            ...(pg ? { rules: pg.rules, tagWritten: pg.tagWritten } : {}),
          });
        }
        // Storage quotas: counted (or refused, OCI DENIED) last, under the namespace's lock (quota/usage.ts).
        if (created && this.ctx.quota)
          await this.ctx.quota.manifestStored(tx, { repositoryId: repoId, repository, manifestId: row.id, blobDigests });
        // A new manifest's scan job commits with it (one insert that does nothing on a job already there; on
        // PostgreSQL, an image's is part of the one statement above).
        const scanQueued = pg ? pg.scanQueued : created && scanQueue ? await scanQueue.enqueueIn(tx, repository, digest) : false;
        return { digest, subject: m.subject?.digest, created, scanQueued };
      }),
    ).catch(deniedIfImmutable);
    const { scanQueued, ...put } = result;
    if (scanQueued) scanQueue?.queued();
    // After the commit: queue a manifest stored before for scanning (a job that is gone). Never lets a scanner problem
    // fail the push.
    else if ((!put.created || !scanQueue) && this.ctx.onManifestPut)
      await this.ctx.onManifestPut(repository, digest).catch(() => undefined);
    return put;
  }

  /** Finds a manifest by tag or digest; `accept` lists the media types the client takes (empty: any). */
  async get(repository: string, reference: string, accept: string[] = [], opts: { countPull?: boolean } = {}): Promise<StoredManifest> {
    requireRepositoryName(repository);
    const byDigest = looksLikeDigest(reference);
    if (byDigest) requireDigest(reference);
    else if (!isValidTag(reference)) {
      await requireRepository(this.ctx.db, repository);
      throw notFound(repository, reference);
    }
    // The hot path of every pull: one query by repository name and tag (or digest); by tag from the cache.
    const load = () => {
      let q = this.ctx.db
        .selectFrom('manifest')
        .innerJoin('repository', 'repository.id', 'manifest.repository_id')
        .select(['manifest.repository_id', 'manifest.digest', 'manifest.media_type', 'manifest.size', 'manifest.content'])
        .where('repository.name', '=', repository);
      q = byDigest
        ? q.where('manifest.digest', '=', reference)
        : q
            .innerJoin('tag', (j) =>
              j.onRef('tag.manifest_id', '=', 'manifest.id').onRef('tag.repository_id', '=', 'manifest.repository_id'),
            )
            .where('tag.name', '=', reference)
            .select('tag.expires_at');
      return q.executeTakeFirst() as Promise<{ expires_at?: number | null } & NonNullable<Awaited<ReturnType<typeof q.executeTakeFirst>>>>;
    };
    let row = !byDigest && this.ctx.cache ? await this.ctx.cache.fetch(CacheGroups.tags(repository), reference, load) : await load();
    // An expiring tag is cached with its end, so a cached entry stops answering at that moment too.
    if (row?.expires_at != null && Number(row.expires_at) <= this.ctx.now()) row = undefined;
    if (!row) {
      await requireRepository(this.ctx.db, repository);
      throw notFound(repository, reference);
    }
    const found: StoredManifest = { digest: row.digest, mediaType: row.media_type, size: row.size, content: row.content };
    const served = await this.negotiate(row.repository_id, found, accept, byDigest);
    // A pull is counted in memory or Redis, never written to the database on its own (flushed in batches).
    if (opts.countPull)
      this.ctx.pulls?.record({ repositoryId: row.repository_id, tag: byDigest ? undefined : reference, digest: row.digest });
    return served;
  }

  /**
   * Content negotiation: a client that names manifest types in Accept gets one of them.
   * A client that cannot take an index gets its linux/amd64 image (as the Docker registry does).
   */
  private async negotiate(repositoryId: number, m: StoredManifest, accept: string[], byDigest: boolean): Promise<StoredManifest> {
    const wanted = accept.filter((a) => MANIFEST_MEDIA_TYPES.includes(a));
    if (wanted.length === 0 || accept.includes('*/*') || wanted.includes(m.mediaType) || byDigest) return m;
    if (isIndexType(m.mediaType)) {
      const index = JSON.parse(Buffer.from(m.content).toString('utf8')) as { manifests?: Descriptor[] };
      const pick = (index.manifests ?? []).find(
        (d) => d.platform?.os === 'linux' && d.platform?.architecture === 'amd64' && wanted.includes(d.mediaType),
      );
      if (pick) {
        const child = await this.ctx.db
          .selectFrom('manifest')
          .select(['digest', 'media_type', 'size', 'content'])
          .where('repository_id', '=', repositoryId)
          .where('digest', '=', pick.digest)
          .executeTakeFirst();
        if (child) return { digest: child.digest, mediaType: child.media_type, size: child.size, content: child.content };
      }
    }
    throw new RegistryError(
      'MANIFEST_UNKNOWN',
      `manifest is ${m.mediaType}, which the Accept header does not list (${wanted.join(', ')})`,
      { mediaType: m.mediaType },
    );
  }

  /** Deletes a tag (by tag) or a manifest and every tag on it (by digest). */
  async delete(repository: string, reference: string): Promise<void> {
    const repo = await requireRepository(this.ctx.db, repository);
    const { db } = this.ctx;
    if (!looksLikeDigest(reference)) {
      // A name no tag can have is simply not there (as on GET).
      if (!isValidTag(reference)) throw notFound(repository, reference);
      const removed = await db
        .transaction()
        .execute((tx) => removeTag(tx, repo.id, reference, this.ctx.now()))
        .catch(deniedIfImmutable);
      if (!removed)
        throw new RegistryError('MANIFEST_UNKNOWN', `tag "${reference}" is not in repository "${repository}"`, { tag: reference });
      return;
    }
    requireDigest(reference);
    const deleted = await db.transaction().execute(async (tx) => {
      // Deleting a manifest deletes its tags: refused while one of them is immutable.
      await requireMutableManifest(tx, repo.id, reference, this.ctx.now()).catch(deniedIfImmutable);
      const counted = await this.ctx.quota?.removingManifest(tx, repo.id, repository, reference);
      await recordManifestDeleted(tx, repo.id, reference, this.ctx.now());
      const r = await tx.deleteFrom('manifest').where('repository_id', '=', repo.id).where('digest', '=', reference).executeTakeFirst();
      if (Number(r.numDeletedRows) > 0) await endTagsOfDeletedManifest(tx, repo.id, reference, this.ctx.now());
      if (Number(r.numDeletedRows) > 0) await counted?.();
      return Number(r.numDeletedRows) > 0;
    });
    if (!deleted)
      throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in repository "${repository}"`, { digest: reference });
    if (this.ctx.onManifestsRemoved) await this.ctx.onManifestsRemoved([reference]).catch(() => undefined);
  }

  /** The referrers index of a subject digest (OCI distribution 1.1). */
  async referrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<{ index: Record<string, unknown>; filtered: boolean }> {
    requireDigest(subject);
    const repo = await findRepository(this.ctx.db, repository);
    let rows: { digest: string; media_type: string; size: number; artifact_type: string | null; annotations: string | null }[] = [];
    if (repo) {
      let q = this.ctx.db
        .selectFrom('manifest')
        .select(['digest', 'media_type', 'size', 'artifact_type', 'annotations'])
        .where('repository_id', '=', repo.id)
        .where('subject_digest', '=', subject);
      if (artifactType) q = q.where('artifact_type', '=', artifactType);
      rows = await q.orderBy('id').execute();
    }
    const manifests = rows.map((r) => {
      const d: Record<string, unknown> = { mediaType: r.media_type, digest: r.digest, size: r.size };
      if (r.artifact_type) d.artifactType = r.artifact_type;
      if (r.annotations) d.annotations = JSON.parse(r.annotations);
      return d;
    });
    return { index: { schemaVersion: 2, mediaType: MT.ociIndex, manifests }, filtered: !!artifactType };
  }
}

function notFound(repository: string, reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', `manifest "${reference.slice(0, 200)}" is not in repository "${repository}"`, {
    name: repository,
    reference: reference.slice(0, 200),
  });
}
