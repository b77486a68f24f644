// One sync of one mirrored repository: every upstream tag that matches the rule is copied (for an index or
// manifest list, every platform's manifest and all their blobs), then tags that match the rule but are gone
// upstream are deleted (into the tag history, as any delete). Blobs are streamed into the blob store through
// the upload service, which verifies their digest; what the repository already holds is skipped, so a sync
// taken over after a crash does not copy anything twice. `checkpoint` throws when the sync must stop
// (cancelled, lease lost, repository no longer a mirror).
import { RegistryError } from '../../oci/errors.js';
import { isIndexType } from '../../oci/mediatypes.js';
import { parseManifest, type Descriptor } from '../../oci/manifest.js';
import type { ServiceContext } from '../context.js';
import type { UploadService } from '../uploads.js';
import type { ManifestService } from '../manifests.js';
import type { TagService } from '../tags.js';
import { tagMatcher } from './tag-rules.js';
import type { MirrorUpstream, UpstreamManifest } from './upstream.js';
import { activeTag } from '../tag-expiry.js';

const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export interface SyncProgress {
  tags_total: number;
  tags_done: number;
  tags_unchanged: number;
  tags_removed: string[];
  manifests_copied: number;
  blobs_copied: number;
  blobs_skipped: number;
  bytes_copied: number;
  failed_tags: { tag: string; reason: string }[];
}

export interface SyncDeps {
  ctx: ServiceContext;
  uploads: UploadService;
  manifests: ManifestService;
  tags: TagService;
}

export class SyncFailed extends Error {}

export async function syncRepository(
  deps: SyncDeps,
  repository: string,
  upstream: MirrorUpstream,
  globs: string[],
  checkpoint: (p: SyncProgress) => Promise<void>,
): Promise<SyncProgress> {
  const matches = tagMatcher(globs);
  const p: SyncProgress = {
    tags_total: 0,
    tags_done: 0,
    tags_unchanged: 0,
    tags_removed: [],
    manifests_copied: 0,
    blobs_copied: 0,
    blobs_skipped: 0,
    bytes_copied: 0,
    failed_tags: [],
  };
  const upstreamTags = await upstream.listTags();
  const wanted = upstreamTags.filter(matches).sort();
  p.tags_total = wanted.length;
  await checkpoint(p);
  const copier = new Copier(deps, repository, upstream, p);
  for (const tag of wanted) {
    await checkpoint(p);
    try {
      const m = await upstream.getManifest(tag);
      if ((await copier.localTagDigest(tag)) === m.digest) p.tags_unchanged++;
      else {
        await copier.copyManifest(m, checkpoint);
        await checkpoint(p);
        await deps.manifests.put(repository, tag, m.bytes, m.mediaType);
      }
    } catch (e) {
      if (e instanceof SyncStopped) throw e;
      p.failed_tags.push({ tag, reason: reasonOf(e) });
      // An upstream that does not answer fails the whole sync at once.
      if ((e as { failure?: string }).failure === 'unreachable' || (e as { failure?: string }).failure === 'unauthorized') {
        throw new SyncFailed(`tag ${tag}: ${reasonOf(e)}`);
      }
    }
    p.tags_done++;
  }
  // Tags this mirror owns (they match the rule) that the upstream no longer has.
  const present = new Set(upstreamTags);
  const local = await deps.ctx.db
    .selectFrom('tag')
    .innerJoin('repository', 'repository.id', 'tag.repository_id')
    .select('tag.name')
    .where('repository.name', '=', repository)
    .where(activeTag(deps.ctx.now()))
    .execute();
  for (const { name } of local) {
    if (!matches(name) || present.has(name)) continue;
    await checkpoint(p);
    await deps.tags.delete(repository, name).catch((e: Error) => {
      if (!/is not in repository/.test(e.message)) throw e;
    });
    p.tags_removed.push(name);
  }
  await checkpoint(p);
  if (p.failed_tags.length) {
    const f = p.failed_tags;
    throw new SyncFailed(
      `${f.length} of ${p.tags_total} tags failed: ${f
        .slice(0, 3)
        .map((x) => `${x.tag}: ${x.reason}`)
        .join('; ')}${f.length > 3 ? '; …' : ''}`,
    );
  }
  return p;
}

/** Thrown by a checkpoint: the sync stops without a verdict (cancelled, or another replica has it). */
export class SyncStopped extends Error {}

function reasonOf(e: unknown): string {
  if (e instanceof RegistryError) return `${e.code}: ${e.message}`;
  return (e as Error)?.message ?? String(e);
}

class Copier {
  constructor(
    private readonly deps: SyncDeps,
    private readonly repository: string,
    private readonly upstream: MirrorUpstream,
    private readonly p: SyncProgress,
  ) {}

  async localTagDigest(tag: string): Promise<string | undefined> {
    const r = await this.deps.ctx.db
      .selectFrom('tag')
      .innerJoin('repository', 'repository.id', 'tag.repository_id')
      .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
      .select('manifest.digest')
      .where('repository.name', '=', this.repository)
      .where('tag.name', '=', tag)
      .where(activeTag(this.deps.ctx.now()))
      .executeTakeFirst();
    return r?.digest;
  }

  private async hasManifest(digest: string): Promise<boolean> {
    const r = await this.deps.ctx.db
      .selectFrom('manifest')
      .innerJoin('repository', 'repository.id', 'manifest.repository_id')
      .select('manifest.id')
      .where('repository.name', '=', this.repository)
      .where('manifest.digest', '=', digest)
      .executeTakeFirst();
    return !!r;
  }

  /** Copies what a manifest needs (children and blobs), not the manifest itself when it is the tagged one. */
  async copyManifest(m: UpstreamManifest, checkpoint: (p: SyncProgress) => Promise<void>): Promise<void> {
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.isIndex || isIndexType(m.mediaType)) {
      for (const child of parsed.manifests) {
        await checkpoint(this.p);
        if (await this.hasManifest(child.digest)) continue;
        const cm = await this.upstream.getManifest(child.digest);
        if (cm.digest !== child.digest) throw new Error(`the upstream sent manifest ${cm.digest} for ${child.digest} listed in the index`);
        await this.copyManifest(cm, checkpoint);
        await this.deps.manifests.put(this.repository, child.digest, cm.bytes, cm.mediaType);
        this.p.manifests_copied++;
      }
      return;
    }
    const blobs: Descriptor[] = [parsed.config!, ...parsed.layers].filter((d) => d && !FOREIGN_LAYER_TYPES.has(d.mediaType));
    for (const d of blobs) {
      await checkpoint(this.p);
      await this.ensureBlob(d);
    }
    this.p.manifests_copied++;
  }

  /** The blob in this repository: already there, or streamed from upstream (digest verified by the upload service). */
  private async ensureBlob(d: Descriptor): Promise<void> {
    const { db, store } = this.deps.ctx;
    const here = await db
      .selectFrom('repository_blob')
      .innerJoin('repository', 'repository.id', 'repository_blob.repository_id')
      .select('repository_blob.digest')
      .where('repository.name', '=', this.repository)
      .where('repository_blob.digest', '=', d.digest)
      .executeTakeFirst();
    if (here && (await store.stat(d.digest))) {
      this.p.blobs_skipped++;
      return;
    }
    // Never linked from another repository's copy without the bytes: an upstream could otherwise name the digest
    // of a private blob it never had and read it back through the mirror. The store keeps one copy anyway.
    const blob = await this.upstream.getBlob(d.digest);
    if (blob.size !== undefined && blob.size !== d.size) {
      blob.stream.destroy();
      throw new Error(`the upstream sent ${blob.size} bytes for blob ${d.digest}, which its manifest says has ${d.size}`);
    }
    const got = await this.deps.uploads.monolithic(this.repository, d.digest, blob.stream, blob.size);
    this.p.blobs_copied++;
    this.p.bytes_copied += got.size;
  }
}
