// Blob uploads: monolithic, POST-then-PUT, chunked PATCH, resume, cancel, and cross-repository mount.
import { Readable } from 'node:stream';
import { contentHasher, newId, type ContentHasher, type DigestAlgorithm } from '../crypto/index.js';
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/digest.js';
import { UploadInterrupted, UploadTooLarge, type BlobStat, type BlobStore } from '../storage/blobstore.js';
import type { ServiceContext } from './context.js';
import { ensureRepository, type RepositoryCreator } from './repositories.js';
import { requireRepositoryName } from '../oci/names.js';
import { linkBlob, linkBlobByNamePg } from './blob-links.js';
import type { DB } from '../db/database.js';
import { prepared } from '../db/prepared.js';

const insertUpload = prepared(3, (db: DB, id: string, repository: string, now: number) =>
  db.insertInto('upload').values({ id, repository, size: 0, created_at: now, updated_at: now }),
);
const uploadRow = prepared(1, (db: DB, id: string) =>
  db.selectFrom('upload').select(['size', 'repository', 'created_at']).where('id', '=', id),
);
const deleteUpload = prepared(1, (db: DB, id: string) => db.deleteFrom('upload').where('id', '=', id));
const setUploadSize = prepared(3, (db: DB, id: string, size: number, now: number) =>
  db.updateTable('upload').set({ size, updated_at: now }).where('id', '=', id),
);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Largest single blob accepted (a sanity bound, not a quota). */
export const MAX_BLOB_BYTES = 1024 ** 4;

/** The running hash of an upload held in memory between chunks; rebuilt from disk when missing. */
interface LiveHash {
  algorithm: DigestAlgorithm;
  hasher: ContentHasher;
  offset: number;
}

export interface UploadSession {
  id: string;
  repository: string;
  size: number;
}
export interface CommittedBlob {
  digest: string;
  size: number;
}

/**
 * A blob's stat for a check made while the one SQLite connection is held: at once where the store can (statNow, the
 * local file system), else through `stat` (docs/PERFORMANCE.md, "Small push under load").
 */
function statHeld(store: BlobStore, digest: string): BlobStat | null | Promise<BlobStat | null> {
  return store.statNow ? store.statNow(digest) : store.stat(digest);
}

export class UploadService {
  private readonly live = new Map<string, LiveHash>();
  private readonly busy = new Set<string>();

  constructor(private readonly ctx: ServiceContext) {}

  /** Tries a cross-repository mount; returns undefined when a normal upload should start instead. */
  async mount(
    repository: string,
    digest: string,
    from: string | undefined,
    canRead: (repo: string) => boolean,
    create?: RepositoryCreator,
  ): Promise<CommittedBlob | undefined> {
    requireDigest(digest);
    const { db } = this.ctx;
    let q = db
      .selectFrom('repository_blob')
      .innerJoin('repository', 'repository.id', 'repository_blob.repository_id')
      .innerJoin('blob', 'blob.digest', 'repository_blob.digest')
      .select(['repository.name', 'blob.size'])
      .where('repository_blob.digest', '=', digest);
    if (from !== undefined) q = q.where('repository.name', '=', from);
    const sources = await q.limit(from !== undefined ? 1 : 50).execute();
    const source = sources.find((s) => canRead(s.name));
    if (!source) return undefined;
    if (!(await this.ctx.store.stat(digest))) return undefined;
    const repo = await ensureRepository(this.ctx, repository, create);
    const collected = new Error('collected');
    try {
      // Checked again under the blob row's lock: a gc that took the bytes meanwhile makes this an upload instead.
      await linkBlob(db, repo.id, digest, source.size, this.ctx.now(), undefined, async () => {
        if (!(await statHeld(this.ctx.store, digest))) throw collected;
      });
    } catch (e) {
      if (e === collected) return undefined;
      throw e;
    }
    return { digest, size: source.size };
  }

  async start(repository: string): Promise<UploadSession> {
    requireRepositoryName(repository);
    const id = newId();
    const now = this.ctx.now();
    // The row goes first: gc treats an upload file without a row as stray. A store that makes the file at the
    // first write (the filesystem) is not asked now: an open, a close and a directory fsync fewer per push.
    await insertUpload(this.ctx.db, id, repository, now);
    if (!this.ctx.store.createsUploadOnWrite) await this.ctx.store.createUpload(id);
    this.live.set(id, { algorithm: 'sha256', hasher: contentHasher('sha256'), offset: 0 });
    this.ctx.observer?.blobUploadStarted?.();
    return { id, repository, size: 0 };
  }

  /**
   * Upload of a whole blob in one request (POST ?digest=). It needs no session row: the bytes go
   * to a private upload file that is linked into place or removed before the request ends.
   */
  async monolithic(
    repository: string,
    digest: string,
    body: Readable,
    contentLength: number | undefined,
    create?: RepositoryCreator,
  ): Promise<CommittedBlob> {
    const parsed = requireDigest(digest);
    requireRepositoryName(repository);
    const id = newId();
    const { store } = this.ctx;
    const startedAt = performance.now();
    await store.createUpload(id, { singleRequest: true });
    try {
      const hasher = contentHasher(parsed.algorithm);
      const written = await this.write(id, 0, body, hasher);
      if (contentLength !== undefined && written !== contentLength) {
        throw new RegistryError('SIZE_INVALID', `received ${written} bytes but Content-Length said ${contentLength}; nothing was kept`);
      }
      const actual = `${parsed.algorithm}:${hasher.hex()}`;
      if (actual !== parsed.digest) {
        throw new RegistryError('DIGEST_INVALID', `the uploaded content has digest ${actual}, not ${parsed.digest}; nothing was kept`, {
          expected: parsed.digest,
          actual,
        });
      }
      await this.commitFile(repository, id, parsed.digest, written, create);
      this.ctx.observer?.blobCommitted?.({ method: 'monolithic', size: written, seconds: (performance.now() - startedAt) / 1000 });
      return { digest: parsed.digest, size: written };
    } finally {
      await store.deleteUpload(id);
    }
  }

  /** Appends a body to an upload file, mapping storage failures to the protocol's errors. */
  private async write(id: string, offset: number, body: Readable, hasher: ContentHasher, create?: { durable: boolean }): Promise<number> {
    try {
      return await this.ctx.store.appendUpload(id, offset, body, hasher, MAX_BLOB_BYTES, create);
    } catch (e) {
      this.live.delete(id);
      if (e instanceof UploadTooLarge) throw new RegistryError('SIZE_INVALID', `blob is larger than ${MAX_BLOB_BYTES} bytes`, { uuid: id });
      // The upload's data vanished under the request (gc removed an expired session): whatever the write reported,
      // the upload is unknown now. Checked first: a missing file also ends the write "early". Not for a write that
      // makes the file (a failed create leaves none; gc taking it meanwhile shows at the row update or the link).
      if (!create && (await this.ctx.store.uploadModifiedAt(id).catch(() => undefined)) === null) throw this.collected(id, 'written', e);
      if (e instanceof UploadInterrupted)
        throw new RegistryError('BLOB_UPLOAD_INVALID', `the request body ended early: ${e.message}; nothing of it was kept`, { uuid: id });
      throw e;
    }
  }

  /** The refusal of an upload whose data gc removed (an expired session) while it was being `doing`. */
  private collected(id: string, doing: string, cause: unknown): RegistryError {
    return new RegistryError(
      'BLOB_UPLOAD_UNKNOWN',
      `the data of upload ${id} was removed by garbage collection while it was being ${doing} (the upload had expired); nothing was kept: push the blob again`,
      { uuid: id, cause: (cause as Error).message },
    );
  }

  private async session(repository: string, id: string): Promise<{ size: number; createdAt: number }> {
    if (!UUID_RE.test(id))
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload "${id.slice(0, 100)}" is not known`, { uuid: id.slice(0, 100) });
    const row = (await uploadRow(this.ctx.db, id)).rows[0];
    if (!row || row.repository !== repository) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is not known in repository "${repository}"`, { uuid: id });
    }
    return { size: row.size, createdAt: row.created_at };
  }

  async status(repository: string, id: string): Promise<UploadSession> {
    const s = await this.session(repository, id);
    return { id, repository, size: s.size };
  }

  private lock(id: string): () => void {
    if (this.busy.has(id)) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${id} is already receiving data in another request`, { uuid: id }, 416);
    }
    this.busy.add(id);
    return () => this.busy.delete(id);
  }

  /**
   * A crash after bytes reached the file but before the row was updated leaves a longer file: the row is the truth,
   * so the file is cut back to it before a chunk is appended or the upload is committed. Asked even when the row
   * says 0 and this process holds the upload's hash: another replica may have written to the upload and crashed
   * before its row update (docs/PERFORMANCE.md, fifth round).
   */
  private async alignFile(id: string, size: number): Promise<void> {
    const onDisk = await this.ctx.store.uploadSize(id);
    if (onDisk === null) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} lost its data; start the upload again`, { uuid: id });
    if (onDisk !== size) {
      await this.ctx.store.truncateUpload(id, size);
      this.live.delete(id);
    }
  }

  /** The running hash for an upload at `offset`, rebuilt from the stored part if needed. */
  private async hashAt(id: string, offset: number, algorithm: DigestAlgorithm = 'sha256'): Promise<LiveHash> {
    const h = this.live.get(id);
    if (h && h.offset === offset && h.algorithm === algorithm) return h;
    const fresh: LiveHash = { algorithm, hasher: contentHasher(algorithm), offset: 0 };
    // Nothing stored yet: nothing to read (the file may not exist, see createsUploadOnWrite).
    if (offset > 0) fresh.offset = await this.ctx.store.hashUpload(id, fresh.hasher);
    this.live.set(id, fresh);
    return fresh;
  }

  /**
   * Appends a chunk after checking its range. `persist: false` skips recording the new size when the caller
   * commits the upload right after (the final PUT): a crash in between leaves the row at the old size, the file
   * is cut back to it, and the client's retry of the PUT appends the chunk again.
   */
  private async appendLocked(
    id: string,
    size: number,
    body: Readable,
    range: { start: number; end?: number } | undefined,
    contentLength: number | undefined,
    persist = true,
  ): Promise<number> {
    if (range && range.start !== size) {
      throw new RegistryError(
        'BLOB_UPLOAD_INVALID',
        `chunk starts at byte ${range.start} but the upload has ${size} bytes: send the chunk that starts at ${size}`,
        { uuid: id, expected: size, got: range.start },
        416,
        { Range: size > 0 ? `0-${size - 1}` : '0-0' },
      );
    }
    // Nothing written yet, on a store that makes the file at the first write: the write makes it and empties one
    // that is there (a crashed replica's bytes the row does not count), so no size check.
    const create = size === 0 && this.ctx.store.createsUploadOnWrite ? { durable: persist } : undefined;
    if (!create) await this.alignFile(id, size);
    const h = await this.hashAt(id, size);
    const written = await this.write(id, size, body, h.hasher, create);
    const expected = range?.end !== undefined ? range.end - range.start + 1 : contentLength;
    if (expected !== undefined && written !== expected) {
      this.live.delete(id);
      await this.ctx.store.truncateUpload(id, size);
      throw new RegistryError('SIZE_INVALID', `received ${written} bytes but the request declared ${expected}; the chunk was discarded`, {
        uuid: id,
      });
    }
    h.offset = size + written;
    const newSize = size + written;
    if (persist) {
      const r = await setUploadSize(this.ctx.db, id, newSize, this.ctx.now());
      if (r.numAffectedRows === 0n) {
        // gc expired the session while the chunk was written (its file was made or emptied after gc removed it):
        // nothing is acknowledged, and the file goes too.
        this.live.delete(id);
        await this.ctx.store.deleteUpload(id);
        throw this.collected(id, 'written', new Error('the upload row is gone'));
      }
    }
    return newSize;
  }

  async append(
    repository: string,
    id: string,
    body: Readable,
    range: { start: number; end?: number } | undefined,
    contentLength?: number,
  ): Promise<UploadSession> {
    const s = await this.session(repository, id);
    const unlock = this.lock(id);
    try {
      const size = await this.appendLocked(id, s.size, body, range, contentLength);
      return { id, repository, size };
    } finally {
      unlock();
    }
  }

  /** Completes an upload (PUT ?digest=), optionally with a last chunk in the body. */
  async finish(
    repository: string,
    id: string,
    digest: string,
    body: Readable | undefined,
    range?: { start: number; end?: number },
    contentLength?: number,
    create?: RepositoryCreator,
  ): Promise<CommittedBlob> {
    const parsed = requireDigest(digest);
    const s = await this.session(repository, id);
    const unlock = this.lock(id);
    try {
      let size = s.size;
      if (body && (contentLength === undefined || contentLength > 0 || range)) {
        size = await this.appendLocked(id, size, body, range, contentLength, false);
      } else if (size === 0 && this.ctx.store.createsUploadOnWrite) {
        // The empty blob, nothing written before: the file may not exist yet; an empty append makes it (empty).
        await this.appendLocked(id, 0, Readable.from([]), undefined, undefined, false);
      } else {
        // No last chunk (PATCHes, then an empty PUT): the file must hold exactly the bytes the row counts.
        await this.alignFile(id, size);
      }
      const h = await this.hashAt(id, size, parsed.algorithm);
      const actual = `${parsed.algorithm}:${h.hasher.hex()}`;
      this.live.delete(id);
      if (actual !== parsed.digest) {
        await this.discard(id);
        throw new RegistryError(
          'DIGEST_INVALID',
          `the uploaded content has digest ${actual}, not ${parsed.digest}; the upload was discarded`,
          { expected: parsed.digest, actual },
        );
      }
      await this.commit(repository, id, parsed.digest, size, create);
      this.ctx.observer?.blobCommitted?.({ method: 'chunked', size, seconds: Math.max(0, this.ctx.now() - s.createdAt) / 1000 });
      return { digest: parsed.digest, size };
    } finally {
      unlock();
    }
  }

  /** Commits a session's upload: its row goes in the same transaction that records the blob (one commit, one fsync). */
  private async commit(repository: string, id: string, digest: string, size: number, create?: RepositoryCreator): Promise<void> {
    await this.commitFile(repository, id, digest, size, create, true);
    this.live.delete(id);
    await this.ctx.store.deleteUpload(id);
  }

  /** fsync, link into the content address, record the blob; re-link if a gc raced us. */
  private async commitFile(
    repository: string,
    id: string,
    digest: string,
    size: number,
    create?: RepositoryCreator,
    session = false,
  ): Promise<void> {
    const { store, db } = this.ctx;
    // Storage quotas: a blob that alone would cross the namespace's Reject limit is refused before it is kept.
    await this.ctx.quota?.checkBlob(repository, digest, size);
    try {
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
    } catch (e) {
      // Only a session that expired loses its data in flight (gc never takes a single-request upload this process
      // is storing). Without its data the upload can still complete when the blob is stored already: checked
      // below under the blob row's lock, with the rest.
      if ((await store.uploadModifiedAt(id).catch(() => undefined)) !== null) throw e;
    }
    // A concurrent gc may have removed the blob's bytes (and row) after they were linked: checked, and put back from
    // this upload's data, under the blob row's lock before anything is committed (see linkBlob).
    // A session's row goes in the same transaction that records the blob.
    // Runs while the one SQLite connection is held: the file system answers at once (statNow), not through a
    // thread-pool round trip that would keep every other request's statements waiting.
    const stored = () => statHeld(store, digest);
    const ensureBytes = async () => {
      if (await stored()) return;
      try {
        await store.commitUpload(id, digest);
      } catch (e) {
        if (await store.stat(digest)) return; // another push of the same content put it back
        if ((await store.uploadModifiedAt(id).catch(() => undefined)) !== null) throw e;
        throw this.collected(id, 'stored', e);
      }
    };
    const now = this.ctx.now();
    const uploadId = session ? id : undefined;
    // PostgreSQL: the repository is found by name in the statement that records the blob; created first only when
    // it is not there.
    if (this.ctx.dialect === 'postgres' && (await linkBlobByNamePg(db, repository, digest, size, now, uploadId, ensureBytes))) return;
    const repo = await ensureRepository(this.ctx, repository, create);
    await linkBlob(db, repo.id, digest, size, now, uploadId, ensureBytes);
  }

  private async discard(id: string): Promise<void> {
    this.live.delete(id);
    await deleteUpload(this.ctx.db, id);
    await this.ctx.store.deleteUpload(id);
  }

  async cancel(repository: string, id: string): Promise<void> {
    await this.session(repository, id);
    await this.discard(id);
  }
}
