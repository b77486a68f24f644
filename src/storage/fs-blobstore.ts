// Filesystem blob store: uploads are appended to files under uploads/, fsync'd, then
// hard-linked to blobs/<algorithm>/<first two hex>/<hex>. A crash leaves no partial blob.
import { createReadStream, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ContentHasher } from '../crypto/index.js';
import { type BlobSink, type BlobStat, type BlobStore, UploadInterrupted, UploadTooLarge } from './blobstore.js';
import { sendFileRange } from './pooled-send.js';
import { DirSyncer } from './dir-sync.js';
import { bodyBytesRead } from './body-garbage.js';
import { closeFd, closeNow, fdatasyncFd, fsyncFd, ftruncateFd, linkPath, openFd, statPath, unlinkPath, writevFd } from './fd-calls.js';

/**
 * Upload bytes are gathered to this size before one writev (fewer, larger writes through the thread pool). With one
 * batch filling while the previous one is written, at most 2 × WRITE_BATCH of body buffers are alive at a time: less
 * than the body bytes between two young collections (body-garbage.ts), so a buffer lives through at most one and is
 * never promoted to the old generation, where it would wait, with its 64 KiB of malloc'd memory, for a full
 * collection (1 MiB batches with a collection every 4 MiB: push_big's high-water mark in glibc's main arena 17-19
 * MiB; 512 KiB with every 2 MiB: 10-11, docs/PERFORMANCE.md "Memory, seventh round").
 */
export const WRITE_BATCH = 512 * 1024;
/**
 * Write-back of an upload runs while the request streams: whenever this many bytes were written since the last
 * fdatasync began and none is running, another starts on the thread pool (not awaited), so the disk writes while
 * the rest of the body arrives and is hashed. The acknowledgement's own fdatasync is issued as soon as the last
 * bytes are written, beside a write-back still running (each covers what was written before it began), and both
 * must succeed. At 16 MiB an 8 MiB PATCH never started one: the disk idled while the chunk arrived and the
 * acknowledgement waited for all of it (docs/PERFORMANCE.md, "Large pulls and pushes, third round").
 */
const WRITEBACK_EVERY = 1024 * 1024;

async function writeAll(fd: number, bufs: Buffer[], position: number): Promise<void> {
  let at = position;
  let rest = bufs;
  while (rest.length) {
    const bytesWritten = await writevFd(fd, rest, at);
    at += bytesWritten;
    // A short writev: drop what was written and go on with the rest.
    let n = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) n -= b.length;
      else {
        next.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    rest = next;
  }
}

const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;
const SAFE_DIGEST = /^(sha256|sha384|sha512):([a-f0-9]{64,128})$/;

export class FsBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;
  /** Uploads whose file is durable as it is (appendUpload synced it, nothing changed since). */
  private readonly clean = new Set<string>();
  readonly dirSync = new DirSyncer();
  /** Single-request uploads this process is writing or storing (see uploadInUse). */
  private readonly single = new Set<string>();

  /** A session's file is made by its first write (`wx` proves it new and empty: no size check, no file at POST). */
  readonly createsUploadOnWrite = true;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.uploadsDir = path.join(root, 'uploads');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobsDir, { recursive: true });
    await fs.mkdir(this.uploadsDir, { recursive: true });
    // uploads/ lives as long as the store: its fsync at each session's start goes through one kept descriptor.
    await this.dirSync.keepOpen(this.uploadsDir);
  }

  close(): void {
    this.dirSync.close();
  }

  private blobPath(digest: string): string {
    const m = SAFE_DIGEST.exec(digest);
    if (!m) throw new Error(`not a storable digest: ${digest}`);
    return path.join(this.blobsDir, m[1], m[2].slice(0, 2), m[2]);
  }

  private uploadPath(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`not an upload id: ${id}`);
    return path.join(this.uploadsDir, id);
  }

  async stat(digest: string): Promise<BlobStat | null> {
    try {
      const s = await statPath(this.blobPath(digest));
      return { size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  statNow(digest: string): BlobStat | null {
    const s = statSync(this.blobPath(digest), { throwIfNoEntry: false });
    return s ? { size: s.size } : null;
  }

  async modifiedAt(digest: string): Promise<number | null> {
    try {
      return (await fs.stat(this.blobPath(digest))).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.blobPath(digest), { highWaterMark: 1024 * 1024, ...(range ?? {}) });
  }

  async sendTo(digest: string, range: { start: number; end: number } | undefined, dest: BlobSink, onOpen: () => void): Promise<void> {
    const fh = await fs.open(this.blobPath(digest), 'r');
    try {
      const end = range ? range.end + 1 : (await fh.stat()).size;
      onOpen();
      await sendFileRange(fh, range?.start ?? 0, end, dest);
    } finally {
      await fh.close();
    }
  }

  async delete(digest: string): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  async createUpload(id: string, opts: { singleRequest?: boolean } = {}): Promise<void> {
    if (opts.singleRequest) this.single.add(id);
    try {
      await closeFd(await openFd(this.uploadPath(id), 'wx'));
    } catch (e) {
      this.single.delete(id);
      throw e;
    }
    // A session's file must survive a power cut once the session is acknowledged (its chunks are kept there);
    // a single-request upload is linked into blobs/ (and that directory synced) before it is acknowledged.
    if (!opts.singleRequest) await this.dirSync.sync(this.uploadsDir);
  }

  uploadInUse(id: string): boolean {
    return this.single.has(id);
  }

  async uploadModifiedAt(id: string): Promise<number | null> {
    try {
      return (await fs.stat(this.uploadPath(id))).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async uploadSize(id: string): Promise<number | null> {
    try {
      return (await statPath(this.uploadPath(id))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Appends the body with few, large writes (chunks gathered to WRITE_BATCH bytes and written with one
   * writev, the next batch received while the previous one is written), keeps a write-back running while the
   * body arrives (WRITEBACK_EVERY), and resolves once the bytes are durable (fdatasync):
   * an acknowledged chunk survives a power cut, and the final PUT finds the file already on disk.
   */
  async appendUpload(
    id: string,
    expectedOffset: number,
    body: Readable,
    hasher?: ContentHasher,
    limit = Number.MAX_SAFE_INTEGER,
    create?: { durable: boolean },
  ): Promise<number> {
    const file = this.uploadPath(id);
    this.clean.delete(id);
    if (create && expectedOffset !== 0) throw new Error(`an upload is made only by its first write (offset 0, not ${expectedOffset})`);
    const fd = create ? await this.openNew(file) : await openFd(file, 'r+');
    let written = 0;
    let position = expectedOffset;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let writing: Promise<unknown> = Promise.resolve();
    let syncing: Promise<unknown> | undefined;
    let syncFailure: unknown;
    let sinceSync = 0;
    const flush = async () => {
      const bufs = batch;
      const at = position;
      position += batchBytes;
      sinceSync += batchBytes;
      batch = [];
      batchBytes = 0;
      await writing;
      writing = writeAll(fd, bufs, at);
      if (sinceSync >= WRITEBACK_EVERY && !syncing) {
        sinceSync = 0;
        // Write-back while more arrives; its failure is kept, not dropped with the promise, so the acknowledgement
        // cannot pass over it (a later fdatasync on the same descriptor need not report the same error again).
        const w = writing;
        syncing = w
          .then(() => fdatasyncFd(fd))
          .catch((e) => {
            syncFailure ??= e;
          })
          .finally(() => (syncing = undefined));
      }
    };
    try {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          written += chunk.length;
          bodyBytesRead(chunk.length);
          if (expectedOffset + written > limit) throw new UploadTooLarge(`upload exceeds ${limit} bytes`);
          hasher?.update(chunk);
          batch.push(chunk);
          batchBytes += chunk.length;
          if (batchBytes >= WRITE_BATCH) await flush();
        }
        if (batchBytes > 0) await flush();
        await writing;
        // Not after the running write-back: beside it (each fdatasync covers what was written before it began).
        // A session's new file also needs its entry in uploads/ on disk before the chunk is acknowledged (also when
        // it was there: a failed earlier attempt made it without syncing the directory).
        await Promise.all([fdatasyncFd(fd), syncing, create?.durable ? this.dirSync.sync(this.uploadsDir) : undefined]);
        if (syncFailure !== undefined) throw syncFailure;
      } catch (e) {
        await writing.catch(() => {});
        await syncing?.catch(() => {});
        await ftruncateFd(fd, expectedOffset).catch(() => {});
        if (e instanceof UploadTooLarge) throw e;
        throw new UploadInterrupted((e as Error).message);
      }
    } finally {
      // On this thread: its bytes are synced (or cut back) by now, a close starts no I/O (fd-calls.ts).
      closeNow(fd);
    }
    this.clean.add(id);
    return written;
  }

  /**
   * Opens a session's file for its first write: `wx` makes it, and proves it empty, in one call. One that exists
   * (written by a replica that crashed before its row counted the bytes, or by an earlier attempt at this chunk) is
   * emptied: the row, which says 0, is the truth.
   */
  private async openNew(file: string): Promise<number> {
    try {
      return await openFd(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const fd = await openFd(file, 'r+');
    try {
      await ftruncateFd(fd, 0);
    } catch (e) {
      closeNow(fd);
      throw e;
    }
    return fd;
  }

  async truncateUpload(id: string, size: number): Promise<void> {
    this.clean.delete(id);
    await fs.truncate(this.uploadPath(id), size);
  }

  async hashUpload(id: string, hasher: ContentHasher): Promise<number> {
    let n = 0;
    for await (const chunk of createReadStream(this.uploadPath(id), { highWaterMark: 4 * 1024 * 1024 })) {
      hasher.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    return n;
  }

  async syncUpload(id: string): Promise<void> {
    // appendUpload already made its bytes durable, and nothing changed the file since.
    if (this.clean.has(id)) return;
    const fd = await openFd(this.uploadPath(id), 'r+');
    try {
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
  }

  async commitUpload(id: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    const dir = path.dirname(target);
    for (let attempt = 0; ; attempt++) {
      // The fan-out directory is there but for the first blobs (and after gc emptied it): link first, make it on ENOENT.
      if (attempt > 0) await fs.mkdir(dir, { recursive: true });
      try {
        await linkPath(this.uploadPath(id), target);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') break;
        // gc removes emptied fan-out directories: one may go between the mkdir and the link. Make it again
        // while the upload's data is still there.
        const uploadThere = await statPath(this.uploadPath(id)).then(
          () => true,
          () => false,
        );
        if (code === 'ENOENT' && uploadThere && attempt < 6) continue;
        throw e;
      }
    }
    // Make the new directory entry durable too (shared with concurrent links into the same directory).
    await this.dirSync.sync(dir);
  }

  async deleteUpload(id: string): Promise<void> {
    this.clean.delete(id);
    // unlink, not rm: rm stats the path first (one more thread-pool round trip per push).
    await unlinkPath(this.uploadPath(id)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    this.single.delete(id);
  }

  async *list(): AsyncIterable<string> {
    for (const algo of await fs.readdir(this.blobsDir).catch(() => [] as string[])) {
      for (const prefix of await fs.readdir(path.join(this.blobsDir, algo)).catch(() => [] as string[])) {
        for (const hex of await fs.readdir(path.join(this.blobsDir, algo, prefix)).catch(() => [] as string[])) {
          const d = `${algo}:${hex}`;
          if (SAFE_DIGEST.test(d)) yield d;
        }
      }
    }
  }

  async listUploads(): Promise<string[]> {
    return (await fs.readdir(this.uploadsDir).catch(() => [] as string[])).filter((n) => SAFE_ID.test(n));
  }
}
