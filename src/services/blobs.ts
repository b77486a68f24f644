// Reading and unlinking blobs of a repository.
import { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/digest.js';
import type { ServiceContext } from './context.js';
import type { BlobSink } from '../storage/blobstore.js';
import { requireRepository } from './repositories.js';
import { recordCandidate } from './gc-candidates.js';
import { requireRepositoryName } from '../oci/names.js';

export interface BlobHandle {
  digest: string;
  size: number;
  /** Opens the bytes; a range is inclusive. */
  open(range?: { start: number; end: number }): Readable;
  /** Opens the bytes once the store answered (object storage): failures come before the response starts. */
  openReady?(range?: { start: number; end: number }): Promise<Readable>;
  /** A short-lived URL to fetch the bytes from directly (object storage without FEATURE_PROXY_STORAGE). */
  redirectUrl?(): Promise<string>;
  /** The store's pooled-buffer fast path, when it has one (see BlobStore.sendTo). */
  sendTo?(range: { start: number; end: number } | undefined, dest: BlobSink, onOpen: () => void): Promise<void>;
}

export class BlobService {
  constructor(private readonly ctx: ServiceContext) {}

  async find(repository: string, digest: string): Promise<BlobHandle> {
    requireDigest(digest);
    requireRepositoryName(repository);
    // The hot path of every pull and of every "do you have it?" HEAD: one query.
    const linked = await this.ctx.db
      .selectFrom('repository_blob')
      .innerJoin('repository', 'repository.id', 'repository_blob.repository_id')
      .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
      .select('blob.size')
      .where('repository.name', '=', repository)
      .where('repository_blob.digest', '=', digest)
      .executeTakeFirst();
    if (linked) {
      const store = this.ctx.store;
      return {
        digest,
        size: linked.size,
        open: (range) => store.read(digest, range),
        openReady: store.openRead ? (range) => store.openRead!(digest, range) : undefined,
        redirectUrl:
          store.presignedUrl && !this.ctx.config.proxyStorage
            ? () => store.presignedUrl!(digest, this.ctx.config.storageRedirectSeconds)
            : undefined,
        sendTo: store.sendTo ? (range, dest, onOpen) => store.sendTo!(digest, range, dest, onOpen) : undefined,
      };
    }
    const repo = await requireRepository(this.ctx.db, repository);
    // Manifests are content too: a client may fetch one through the blobs endpoint.
    const m = await this.ctx.db
      .selectFrom('manifest')
      .select(['content', 'size'])
      .where('repository_id', '=', repo.id)
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (m) {
      const bytes = Buffer.from(m.content);
      return {
        digest,
        size: m.size,
        open: (range) => Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes]),
      };
    }
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository "${repository}"`, { digest });
  }

  /** Removes the blob from the repository; the bytes go when gc finds nothing else uses them. */
  async delete(repository: string, digest: string): Promise<void> {
    requireDigest(digest);
    const repo = await requireRepository(this.ctx.db, repository);
    const r = await this.ctx.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('repository_blob').where('repository_id', '=', repo.id).where('digest', '=', digest).executeTakeFirst();
      // The blob may now be unused: gc examines it.
      if (Number(r.numDeletedRows) > 0) await recordCandidate(tx, 'blob', repo.id, digest, this.ctx.now());
      return r;
    });
    if (Number(r.numDeletedRows) === 0)
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository "${repository}"`, { digest });
  }
}
