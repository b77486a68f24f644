// The narrow interface every blob storage driver implements: bytes by digest, nothing else.
import type { Readable } from 'node:stream';
import type { ContentHasher } from '../crypto/index.js';

export interface BlobStat {
  size: number;
}

/** Where `sendTo` writes: an HTTP response, or any writable that calls back when a chunk is flushed. */
export interface BlobSink {
  readonly destroyed: boolean;
  write(chunk: Buffer, callback: (err?: Error | null) => void): boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

export interface BlobStore {
  /** Size of a committed blob, or null when it is not stored. */
  stat(digest: string): Promise<BlobStat | null>;
  /**
   * `stat` answered at once, on the calling thread: only where that costs microseconds and never waits on a device or
   * the network (the local file system: one `stat` of a path whose inode is cached). For checks made while the one
   * SQLite connection is held (a transaction): a thread-pool round trip there keeps every other request's statements
   * waiting for it (docs/PERFORMANCE.md, "Small push under load"). Stores without it are asked with `stat`.
   */
  statNow?(digest: string): BlobStat | null;
  /** Streams a committed blob, optionally a byte range (inclusive end). */
  read(digest: string, range?: { start: number; end: number }): Readable;
  /** Like read, but resolves once the store has answered, so a failure (missing, unavailable) comes before any byte. */
  openRead?(digest: string, range?: { start: number; end: number }): Promise<Readable>;
  /** A short-lived URL the client can fetch the blob from directly (object storage: a presigned GET). */
  presignedUrl?(digest: string, expiresSeconds: number): Promise<string>;
  /** Tries the store once (start-up, `berth config validate --check-connections`); throws StorageUnavailable. */
  check?(): Promise<void>;
  /** Where the store is, for log lines and errors (never a secret). */
  readonly describe?: string;
  close?(): void;
  /**
   * Optional fast path for serving: writes a blob (or an inclusive byte range) to `dest` through a few
   * reused buffers, calling `onOpen` once the blob is open and before the first byte is written.
   * Resolves when every byte has been handed to `dest` and flushed, or when `dest` closes early.
   */
  sendTo?(digest: string, range: { start: number; end: number } | undefined, dest: BlobSink, onOpen: () => void): Promise<void>;
  /** When a committed blob was last written (ms), or null when missing. */
  modifiedAt?(digest: string): Promise<number | null>;
  /** Removes a committed blob; missing is not an error. */
  delete(digest: string): Promise<void>;

  /**
   * Creates an empty upload area for an upload session. `singleRequest`: the upload is begun and finished (or
   * deleted) within one request (POST ?digest=), so a driver may keep its state in memory.
   */
  createUpload(id: string, opts?: { singleRequest?: boolean }): Promise<void>;
  /**
   * True when a session's upload area may be made by its first write instead (`appendUpload` at offset 0 with
   * `create`): the service then does not call `createUpload` when a session starts, and an upload of a session that
   * nothing was written to yet may not exist (`uploadSize` null). Stores that keep a session's state from its
   * start (S3: the state row every replica reads) leave it unset.
   */
  readonly createsUploadOnWrite?: boolean;
  /**
   * True while this process is writing or storing a single-request upload (created with `singleRequest` and not
   * yet deleted): gc leaves it alone whatever its age.
   */
  uploadInUse?(id: string): boolean;
  /** When an upload file was last written (ms), or null when it does not exist. */
  uploadModifiedAt(id: string): Promise<number | null>;
  /** Bytes received so far by an upload, or null when it does not exist. */
  uploadSize(id: string): Promise<number | null>;
  /**
   * Appends a stream to an upload, feeding every byte to `hasher` when given.
   * On a failed or truncated stream the upload is cut back to `expectedOffset` bytes.
   * `create` (only at offset 0, only where `createsUploadOnWrite`): the upload area is made if it does not exist, and
   * one that does (a write by another replica that crashed before its row counted it) is emptied first. `durable`:
   * the new area itself must survive a power cut once this resolves (a PATCH, whose session goes on), not only the
   * bytes (a final PUT, which links them into blobs/ and syncs that directory before it is acknowledged).
   */
  appendUpload(
    id: string,
    expectedOffset: number,
    body: Readable,
    hasher?: ContentHasher,
    limit?: number,
    create?: { durable: boolean },
  ): Promise<number>;
  /** Cuts an upload back to `size` bytes (drops a rejected chunk). */
  truncateUpload(id: string, size: number): Promise<void>;
  /** Feeds the stored bytes of an upload into a hasher (to resume after a restart). */
  hashUpload(id: string, hasher: ContentHasher): Promise<number>;
  /** Makes an upload durable (fsync) before it can be committed. */
  syncUpload(id: string): Promise<void>;
  /** Moves a synced upload to its content address; an existing blob is kept. */
  commitUpload(id: string, digest: string): Promise<void>;
  deleteUpload(id: string): Promise<void>;
  /** Digests of every committed blob (for garbage collection). */
  list(): AsyncIterable<string>;
  /** Upload ids present in the upload area. */
  listUploads(): Promise<string[]>;
}

export class UploadTooLarge extends Error {}
/** The store cannot be reached or refused a request it should serve: the registry answers 503 and keeps nothing half-written. */
export class StorageUnavailable extends Error {}
/** Another request (on this or another replica) is writing the same upload. */
export class UploadConflict extends Error {}
export class UploadInterrupted extends Error {}
