// S3-compatible blob store (Amazon S3, Ceph RGW, NooBaa, MinIO, s3rver) behind the BlobStore interface.
// Committed blobs live at <prefix>/blobs/<alg>/<xx>/<hex>. An upload is an S3 multipart upload under
// <prefix>/uploads/<id>/ whose state (upload id, parts, a pending tail object under the 5 MiB minimum part
// size) lives in the database (UploadStateStore), so any replica can continue it. docs/STORAGE.md has the design.
import http from 'node:http';
import https from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ContentHasher } from '../crypto/index.js';
import { type BlobStat, type BlobStore, StorageUnavailable, UploadConflict, UploadInterrupted, UploadTooLarge } from './blobstore.js';
import type { UploadStateStore } from './upload-state.js';
import { bodyBytesRead } from './body-garbage.js';

const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;
const SAFE_DIGEST = /^(sha256|sha384|sha512):([a-f0-9]{64,128})$/;
/** S3's smallest part (all but the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest single CopyObject / UploadPartCopy source range. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const COPY_RANGE_BYTES = 4 * 1024 ** 3;

export interface S3StoreSettings {
  bucket: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Key prefix (storage_path without slashes); '' for the bucket's root. */
  prefix: string;
  /** The config key named in errors (DISTRIBUTED_STORAGE_CONFIG.<name>). */
  configKey: string;
  /** Size of a multipart part before it grows (default 8 MiB, at least 5 MiB). */
  partBytes?: number;
  /** Parts uploaded at once by one request (default 3). */
  partConcurrency?: number;
}

interface Part {
  n: number;
  etag: string;
  size: number;
}
/** An upload's state as stored: bytes [0, size) are base or mpu parts, then tail. Never both base and mpu. */
interface UploadState {
  size: number;
  /** Counter that names this upload's objects (each new object gets a fresh key). */
  seq: number;
  mpu?: { key: string; uploadId: string; parts: Part[] };
  /** A complete object whose first `size` bytes are the upload's first bytes (`exact`: the object has no more). */
  base?: { key: string; size: number; exact: boolean };
  /** Bytes after the parts or base, fewer than a part: an ordinary object, rewritten by each chunk. */
  tail?: { key: string; size: number };
  /** While a request writes the upload (ms since the epoch): others are refused until then; renewed as it writes. */
  lease?: number;
}

const LEASE_MS = 30_000;
/** Key prefix of a tail held only in memory (single-request uploads). */
const MEM = 'mem:';
const suffix = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 6).toString(36)}`;

type S3Error = Error & { name: string; code?: string; $metadata?: { httpStatusCode?: number }; Code?: string };

function isNotFound(e: unknown): boolean {
  const err = e as S3Error;
  return (
    err?.name === 'NotFound' ||
    err?.name === 'NoSuchKey' ||
    (err?.$metadata?.httpStatusCode === 404 && err?.name !== 'NoSuchBucket' && err?.name !== 'NoSuchUpload')
  );
}

function isNotImplemented(e: unknown): boolean {
  const err = e as S3Error;
  return (
    err?.name === 'NotImplemented' ||
    err?.name === 'MethodNotAllowed' ||
    err?.$metadata?.httpStatusCode === 501 ||
    err?.$metadata?.httpStatusCode === 405
  );
}

/** The first `n` bytes of a stream. */
function capped(src: Readable, n: number): Readable {
  return Readable.from(
    (async function* () {
      let left = n;
      try {
        for await (const c of src) {
          const b = c as Buffer;
          if (b.length >= left) {
            yield b.subarray(0, left);
            return;
          }
          left -= b.length;
          yield b;
        }
      } finally {
        src.destroy();
      }
    })(),
    { objectMode: false },
  );
}

// The SDK version Berth ships supports Node 20 (Berth's floor); its notice about later SDK versions is not the user's concern.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly prefix: string;
  private readonly partBytes: number;
  readonly concurrency: number;
  /** Tail bytes this replica wrote last, so the next chunk here need not read them back. */
  private readonly tails = new Map<string, { key: string; buf: Buffer }>();
  /** Whether the server does UploadPartCopy (s3rver does not): learnt on first use. */
  private copyParts: boolean | undefined;
  /** Whether the server does ListMultipartUploads (s3rver does not). */
  private listsUploads: boolean | undefined;
  /** Single-request uploads (POST ?digest=): state in memory only. */
  private readonly single = new Map<string, { st: UploadState; rev: number; updatedAt: number }>();
  readonly describe: string;

  constructor(
    readonly settings: S3StoreSettings,
    private readonly states: UploadStateStore,
    private readonly now: () => number = Date.now,
  ) {
    this.prefix = settings.prefix ? `${settings.prefix}/` : '';
    this.partBytes = Math.max(MIN_PART_BYTES, settings.partBytes ?? 8 * 1024 * 1024);
    this.concurrency = Math.max(1, settings.partConcurrency ?? 3);
    const agentOpts = { keepAlive: true, maxSockets: 128 };
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.credentials,
      // No checksums the protocol does not require: S3-compatible servers differ in what they accept (aws-chunked
      // trailers), and the SDK's defaults must never fall back to MD5 (FIPS mode). Integrity: TLS, and the
      // registry's own digest check of every upload.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: 5000,
        requestTimeout: 120_000,
        httpAgent: new http.Agent(agentOpts),
        httpsAgent: new https.Agent(agentOpts),
      },
    });
    this.describe = `bucket "${settings.bucket}"${settings.endpoint ? ` at ${settings.endpoint}` : ` in ${settings.region}`}`;
  }

  // ---- keys and errors --------------------------------------------------------------------------

  private blobKey(digest: string): string {
    const m = SAFE_DIGEST.exec(digest);
    if (!m) throw new Error(`not a storable digest: ${digest}`);
    return `${this.prefix}blobs/${m[1]}/${m[2].slice(0, 2)}/${m[2]}`;
  }

  private uploadPrefix(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error(`not an upload id: ${id}`);
    return `${this.prefix}uploads/${id}/`;
  }

  /** Maps an SDK failure to StorageUnavailable (naming the store, never a secret); not-found passes through. */
  private unavailable(e: unknown, what: string): Error {
    if (e instanceof StorageUnavailable || e instanceof UploadConflict) return e;
    const err = e as S3Error;
    const code = err?.code ?? (err?.name && err.name !== 'Error' ? err.name : undefined);
    const status = err?.$metadata?.httpStatusCode;
    const reason = [code, status ? `HTTP ${status}` : undefined, err?.message && err.message !== code ? err.message : undefined]
      .filter(Boolean)
      .join(': ')
      .slice(0, 300);
    return new StorageUnavailable(`${this.settings.configKey} (${this.describe}): ${what} failed: ${reason || 'unknown error'}`);
  }

  private async s3<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.unavailable(e, what);
    }
  }

  // ---- the bucket -------------------------------------------------------------------------------

  /** Tries the bucket once: it exists, the credentials may list, write and delete under the prefix. */
  async check(): Promise<void> {
    const Bucket = this.settings.bucket;
    await this.s3('HeadBucket', () => this.client.send(new HeadBucketCommand({ Bucket })));
    const Key = `${this.prefix}.berth-check-${process.pid}-${this.now()}`;
    await this.s3('PutObject (write check)', () =>
      this.client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('berth'), ContentLength: 5 })),
    );
    await this.s3('DeleteObject (write check)', () => this.client.send(new DeleteObjectCommand({ Bucket, Key })));
  }

  close(): void {
    this.client.destroy();
  }

  /** What the server turned out to support (undefined: not needed yet). */
  capabilities(): { uploadPartCopy?: boolean; listMultipartUploads?: boolean } {
    return { uploadPartCopy: this.copyParts, listMultipartUploads: this.listsUploads };
  }

  // ---- committed blobs --------------------------------------------------------------------------

  private async head(key: string): Promise<{ size: number; modified: number } | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return { size: Number(r.ContentLength ?? 0), modified: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw this.unavailable(e, `HeadObject ${key}`);
    }
  }

  async stat(digest: string): Promise<BlobStat | null> {
    const h = await this.head(this.blobKey(digest));
    return h && { size: h.size };
  }

  async modifiedAt(digest: string): Promise<number | null> {
    return (await this.head(this.blobKey(digest)))?.modified ?? null;
  }

  /** Opens an object (or an inclusive byte range of it) once the store has answered: failures come before any byte. */
  private async getObject(key: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }),
      );
      const want = range && range.end - range.start + 1;
      // s3rver answers "bytes=0-0" with the whole object: never hand on more than was asked for.
      if (want !== undefined && r.ContentLength !== undefined && r.ContentLength > want) return capped(r.Body as Readable, want);
      return r.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw Object.assign(new Error(`${key}: no such object in ${this.describe}`), { code: 'ENOENT' });
      throw this.unavailable(e, `GetObject ${key}`);
    }
  }

  async openRead(digest: string, range?: { start: number; end: number }): Promise<Readable> {
    return this.getObject(this.blobKey(digest), range);
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    this.openRead(digest, range).then(
      (body) => pipeline(body, out).catch((e: Error) => out.destroy(this.unavailable(e, `reading ${digest}`))),
      (e: Error) => out.destroy(e),
    );
    return out;
  }

  async presignedUrl(digest: string, expiresSeconds: number): Promise<string> {
    return this.s3('presign', () =>
      getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.blobKey(digest) }), {
        expiresIn: expiresSeconds,
      }),
    );
  }

  async delete(digest: string): Promise<void> {
    await this.s3('DeleteObject', () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.blobKey(digest) })),
    );
  }

  private async *listKeys(prefix: string, delimiter?: string): AsyncIterable<{ key?: string; prefix?: string; modified?: number }> {
    let token: string | undefined;
    do {
      const r = await this.s3('ListObjectsV2', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: prefix,
            Delimiter: delimiter,
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        ),
      );
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) yield { prefix: p.Prefix };
      for (const o of r.Contents ?? []) if (o.Key) yield { key: o.Key, modified: o.LastModified?.getTime() };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async *list(): AsyncIterable<string> {
    const base = `${this.prefix}blobs/`;
    for await (const o of this.listKeys(base)) {
      const m = /^([a-z0-9]+)\/[a-f0-9]{2}\/([a-f0-9]+)$/.exec(o.key!.slice(base.length));
      if (!m) continue;
      const d = `${m[1]}:${m[2]}`;
      if (SAFE_DIGEST.test(d)) yield d;
    }
  }

  // ---- upload state -----------------------------------------------------------------------------

  private async load(id: string): Promise<{ st: UploadState; rev: number; updatedAt: number } | null> {
    const mem = this.single.get(id);
    if (mem) return { st: structuredClone(mem.st), rev: mem.rev, updatedAt: mem.updatedAt };
    const row = await this.states.get(id);
    return row && { st: JSON.parse(row.state) as UploadState, rev: row.rev, updatedAt: row.updatedAt };
  }

  private async mustLoad(id: string): Promise<{ st: UploadState; rev: number }> {
    const s = await this.load(id);
    if (!s) throw new UploadInterrupted(`upload ${id} has no stored state`);
    return s;
  }

  private async save(id: string, rev: number, st: UploadState): Promise<number> {
    const mem = this.single.get(id);
    if (mem) {
      Object.assign(mem, { st: structuredClone(st), rev: rev + 1, updatedAt: this.now() });
      return rev + 1;
    }
    const next = await this.states.swap(id, rev, JSON.stringify({ ...st, lease: undefined }), this.now());
    if (next === null) throw new UploadConflict(`upload ${id} was changed by another request`);
    return next;
  }

  /**
   * Claims the upload for one writer with a lease in the stored state: a second writer (on any replica) is refused
   * before it writes anything while the lease lasts; a writer that died leaves a lease that runs out.
   */
  private async claim(id: string): Promise<{ st: UploadState; rev: number; renew: () => Promise<void>; release: () => Promise<void> }> {
    const { st, rev } = await this.mustLoad(id);
    // A single-request upload has one writer by construction.
    if (this.single.has(id)) return { st, rev, renew: async () => undefined, release: async () => undefined };
    if (st.lease !== undefined && st.lease > this.now()) throw new UploadConflict(`upload ${id} is receiving data in another request`);
    const stored = structuredClone(st);
    let current = rev;
    let renewAt = 0;
    const take = async () => {
      const next = await this.states.swap(id, current, JSON.stringify({ ...stored, lease: this.now() + LEASE_MS }), this.now());
      if (next === null) throw new UploadConflict(`upload ${id} is receiving data in another request`);
      current = next;
      renewAt = this.now() + LEASE_MS / 3;
    };
    await take();
    const claimed = {
      st,
      rev: current,
      renew: async () => {
        if (this.now() < renewAt) return;
        await take();
        claimed.rev = current;
      },
      /** After a failure: the stored state as it was, without the lease (unless someone else holds it by now). */
      release: async () => {
        await this.states.swap(id, current, JSON.stringify({ ...stored, lease: undefined }), this.now()).catch(() => null);
      },
    };
    return claimed;
  }

  /** Runs `fn` holding the upload's lease; on failure the lease is given back and the stored state is unchanged. */
  private async claimed<T>(id: string, fn: (c: Awaited<ReturnType<S3BlobStore['claim']>>) => Promise<T>): Promise<T> {
    const c = await this.claim(id);
    try {
      return await fn(c);
    } catch (e) {
      await c.release();
      throw e;
    }
  }

  async createUpload(id: string, opts: { singleRequest?: boolean } = {}): Promise<void> {
    this.uploadPrefix(id);
    const st: UploadState = { size: 0, seq: 0 };
    if (opts.singleRequest) {
      // Begun and finished (or dropped) by one request: its state stays in memory, its tail is never stored.
      this.single.set(id, { st, rev: 0, updatedAt: this.now() });
      return;
    }
    if (!(await this.states.create(id, JSON.stringify(st), this.now()))) throw new Error(`upload ${id} exists`);
  }

  async uploadSize(id: string): Promise<number | null> {
    return (await this.load(id))?.st.size ?? null;
  }

  uploadInUse(id: string): boolean {
    return this.single.has(id);
  }

  async uploadModifiedAt(id: string): Promise<number | null> {
    const s = await this.load(id);
    if (s) return s.updatedAt;
    // Objects or multipart uploads left without state (a crash between creating them and saving it).
    let newest: number | null = null;
    for await (const o of this.listKeys(this.uploadPrefix(id))) newest = Math.max(newest ?? 0, o.modified ?? 0);
    for (const u of await this.multipartUploads(this.uploadPrefix(id))) newest = Math.max(newest ?? 0, u.initiated);
    return newest;
  }

  /** Open multipart uploads under a prefix; [] where the server cannot list them (s3rver). */
  private async multipartUploads(prefix: string): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const out: { key: string; uploadId: string; initiated: number }[] = [];
    if (this.listsUploads === false) return out;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
        );
        for (const u of r.Uploads ?? [])
          if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated?.getTime() ?? 0 });
        keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
        idMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
      } while (keyMarker);
      this.listsUploads = true;
    } catch (e) {
      if (isNotImplemented(e)) {
        this.listsUploads = false;
        return out;
      }
      throw this.unavailable(e, 'ListMultipartUploads');
    }
    return out;
  }

  async listUploads(): Promise<string[]> {
    const ids = new Set((await this.states.list()).map((r) => r.id));
    const base = `${this.prefix}uploads/`;
    for await (const o of this.listKeys(base, '/')) {
      const id = o.prefix?.slice(base.length, -1);
      if (id && SAFE_ID.test(id)) ids.add(id);
    }
    for (const u of await this.multipartUploads(base)) {
      const id = u.key.slice(base.length).split('/')[0];
      if (SAFE_ID.test(id)) ids.add(id);
    }
    return [...ids];
  }

  async deleteUpload(id: string): Promise<void> {
    const prefix = this.uploadPrefix(id);
    const s = await this.load(id);
    this.tails.delete(id);
    const mem = this.single.get(id);
    if (mem) {
      // Only what this request made: no listing needed.
      if (mem.st.mpu) await this.abort(mem.st.mpu.key, mem.st.mpu.uploadId);
      await this.deleteQuietly([mem.st.base?.key, mem.st.tail?.key].filter((k): k is string => !!k));
      this.single.delete(id);
      return;
    }
    const aborts = new Map<string, string>();
    if (s?.st.mpu) aborts.set(s.st.mpu.uploadId, s.st.mpu.key);
    for (const u of await this.multipartUploads(prefix)) aborts.set(u.uploadId, u.key);
    for (const [uploadId, key] of aborts) await this.abort(key, uploadId);
    for await (const o of this.listKeys(prefix)) {
      await this.s3('DeleteObject', () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: o.key! })));
    }
    await this.states.delete(id);
  }

  /** Aborts a multipart upload; gone already is fine, and a server without AbortMultipartUpload (s3rver) keeps its parts. */
  private async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      const name = (e as S3Error).name;
      if (name === 'NoSuchUpload' || isNotFound(e) || isNotImplemented(e)) return;
      throw this.unavailable(e, 'AbortMultipartUpload');
    }
  }

  private async deleteQuietly(keys: string[]): Promise<void> {
    for (const Key of keys)
      if (!Key.startsWith(MEM))
        await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key })).catch(() => undefined);
  }

  /** The bytes of a tail object: from this replica's memory when it wrote them, else from the store. */
  private async tailBytes(id: string, tail: { key: string; size: number }, length = tail.size): Promise<Buffer> {
    const cached = this.tails.get(id);
    if (cached?.key === tail.key) return cached.buf.subarray(0, length);
    if (tail.key.startsWith(MEM)) throw new UploadInterrupted(`upload ${id} lost its in-memory bytes`);
    if (length === 0) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of await this.getObject(tail.key, { start: 0, end: length - 1 })) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  // ---- writing ----------------------------------------------------------------------------------

  async appendUpload(
    id: string,
    expectedOffset: number,
    body: Readable,
    hasher?: ContentHasher,
    limit = Number.MAX_SAFE_INTEGER,
  ): Promise<number> {
    return this.claimed(id, (claim) => this.appendClaimed(id, claim, expectedOffset, body, hasher, limit));
  }

  private async appendClaimed(
    id: string,
    claim: Awaited<ReturnType<S3BlobStore['claim']>>,
    expectedOffset: number,
    body: Readable,
    hasher: ContentHasher | undefined,
    limit: number,
  ): Promise<number> {
    const { st } = claim;
    if (st.size !== expectedOffset) throw new UploadConflict(`upload ${id} holds ${st.size} bytes, not ${expectedOffset}`);
    const w = new PartWriter(this, id, st, claim.renew);
    let written = 0;
    try {
      if (st.tail) await w.push(await this.tailBytes(id, st.tail));
      try {
        for await (const chunk of body) {
          const b = chunk as Buffer;
          written += b.length;
          bodyBytesRead(b.length);
          if (expectedOffset + written > limit) throw new UploadTooLarge(`upload exceeds ${limit} bytes`);
          hasher?.update(b);
          await w.push(b);
          await claim.renew();
        }
      } catch (e) {
        if (e instanceof UploadTooLarge || e instanceof StorageUnavailable) throw e;
        throw new UploadInterrupted((e as Error).message);
      }
      await w.endWithTail();
      w.st.size = expectedOffset + written;
      await this.save(id, claim.rev, w.st);
    } catch (e) {
      await w.undo();
      throw e;
    }
    w.committed();
    await this.deleteQuietly(w.obsolete);
    return written;
  }

  async truncateUpload(id: string, size: number): Promise<void> {
    return this.claimed(id, ({ st, rev }) => this.truncateClaimed(id, st, rev, size));
  }

  private async truncateClaimed(id: string, st: UploadState, rev: number, size: number): Promise<void> {
    if (size === st.size) {
      await this.save(id, rev, st);
      return;
    }
    if (size > st.size) throw new Error(`upload ${id} has ${st.size} bytes, cannot grow to ${size}`);
    const obsolete: string[] = [];
    if (size === 0) {
      if (st.mpu) await this.abort(st.mpu.key, st.mpu.uploadId);
      obsolete.push(...[st.base?.key, st.tail?.key].filter((k): k is string => !!k));
      await this.save(id, rev, { size: 0, seq: st.seq });
      await this.deleteQuietly(obsolete);
      return;
    }
    const partsEnd = st.mpu ? st.mpu.parts.reduce((n, p) => n + p.size, 0) : (st.base?.size ?? 0);
    if (size >= partsEnd) {
      const keep = size - partsEnd;
      if (st.tail) obsolete.push(st.tail.key);
      if (keep > 0) {
        const buf = await this.tailBytes(id, st.tail!, keep);
        st.tail = await this.putTail(id, st, buf);
      } else st.tail = undefined;
    } else {
      if (st.mpu) await this.completeMpu(st);
      if (st.tail) obsolete.push(st.tail.key);
      st.tail = undefined;
      st.base = { ...st.base!, size, exact: false };
    }
    st.size = size;
    await this.save(id, rev, st);
    await this.deleteQuietly(obsolete);
  }

  /** Writes `buf` as the upload's new tail object (a fresh key, so a crash never leaves the stored state wrong). */
  async putTail(id: string, st: UploadState, buf: Buffer): Promise<{ key: string; size: number }> {
    if (this.single.has(id)) {
      const key = `${MEM}${id}.${++st.seq}`;
      this.tails.set(id, { key, buf: Buffer.from(buf) });
      return { key, size: buf.length };
    }
    const key = `${this.uploadPrefix(id)}t.${++st.seq}.${suffix()}`;
    await this.s3('PutObject (upload tail)', () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: key,
          Body: buf,
          ContentLength: buf.length,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
    this.tails.set(id, { key, buf });
    return { key, size: buf.length };
  }

  /** Completes the multipart upload into its object, which becomes the base (exact). */
  private async completeMpu(st: UploadState): Promise<void> {
    const mpu = st.mpu!;
    const size = mpu.parts.reduce((n, p) => n + p.size, 0);
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.settings.bucket,
          Key: mpu.key,
          UploadId: mpu.uploadId,
          MultipartUpload: { Parts: mpu.parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
      );
    } catch (e) {
      // Completed already by a request that crashed before saving the state: the object is there.
      const h = (e as S3Error).name === 'NoSuchUpload' ? await this.head(mpu.key) : null;
      if (!h || h.size !== size) throw this.unavailable(e, 'CompleteMultipartUpload');
    }
    st.mpu = undefined;
    st.base = { key: mpu.key, size, exact: true };
  }

  async createMpu(id: string, st: UploadState): Promise<void> {
    const key = `${this.uploadPrefix(id)}m.${++st.seq}.${suffix()}`;
    const r = await this.s3('CreateMultipartUpload', () =>
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.settings.bucket,
          Key: key,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
    st.mpu = { key, uploadId: r.UploadId!, parts: [] };
  }

  async uploadPart(mpu: NonNullable<UploadState['mpu']>, n: number, buf: Buffer): Promise<Part> {
    const r = await this.s3(`UploadPart ${n}`, () =>
      this.client.send(
        new UploadPartCommand({
          Bucket: this.settings.bucket,
          Key: mpu.key,
          UploadId: mpu.uploadId,
          PartNumber: n,
          Body: buf,
          ContentLength: buf.length,
        }),
      ),
    );
    return { n, etag: r.ETag!, size: buf.length };
  }

  /** Server-side copy of [start, end] of an object as part n; false when the server has no UploadPartCopy. */
  async copyPart(mpu: NonNullable<UploadState['mpu']>, n: number, srcKey: string, start: number, end: number): Promise<Part | false> {
    if (this.copyParts === false) return false;
    try {
      const r = await this.client.send(
        new UploadPartCopyCommand({
          Bucket: this.settings.bucket,
          Key: mpu.key,
          UploadId: mpu.uploadId,
          PartNumber: n,
          CopySource: `${this.settings.bucket}/${encodeURIComponent(srcKey).replace(/%2F/g, '/')}`,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      this.copyParts = true;
      return { n, etag: r.CopyPartResult!.ETag!, size: end - start + 1 };
    } catch (e) {
      if (isNotImplemented(e)) {
        this.copyParts = false;
        return false;
      }
      throw this.unavailable(e, 'UploadPartCopy');
    }
  }

  partSize(n: number): number {
    // Parts grow so 10,000 of them hold a large blob: 1,000 parts at each size, doubling (8 MiB parts: 8 TB in all).
    return this.partBytes * 2 ** Math.min(9, Math.floor((n - 1) / 1000));
  }

  baseStream(base: NonNullable<UploadState['base']>, id = ''): Promise<Readable> {
    if (base.key.startsWith(MEM)) return this.tailBytes(id, { key: base.key, size: base.size }).then((b) => Readable.from([b]));
    return this.getObject(base.key, { start: 0, end: base.size - 1 });
  }

  async hashUpload(id: string, hasher: ContentHasher): Promise<number> {
    // Parts of an unfinished multipart upload cannot be read: complete it first (the next chunk starts a new one).
    let { st } = await this.mustLoad(id);
    if (st.mpu) {
      st = await this.claimed(id, async (c) => {
        await this.completeMpu(c.st);
        await this.save(id, c.rev, c.st);
        return c.st;
      });
    }
    let n = 0;
    if (st.base && st.base.size > 0) {
      for await (const c of await this.baseStream(st.base, id)) {
        hasher.update(c as Buffer);
        n += (c as Buffer).length;
      }
    }
    if (st.tail) {
      const buf = await this.tailBytes(id, st.tail);
      hasher.update(buf);
      n += buf.length;
    }
    if (n !== st.size) throw new UploadInterrupted(`upload ${id}: read ${n} bytes back, state says ${st.size}`);
    return n;
  }

  /** Makes the upload one exact object (complete the multipart upload with the tail as its last part). */
  async syncUpload(id: string): Promise<void> {
    const now = await this.mustLoad(id);
    if (now.st.base?.exact && !now.st.tail && !now.st.mpu) return;
    return this.claimed(id, ({ st, rev }) => this.syncClaimed(id, st, rev));
  }

  private async syncClaimed(id: string, st: UploadState, rev: number): Promise<void> {
    if (st.base?.exact && !st.tail && !st.mpu) {
      await this.save(id, rev, st);
      return;
    }
    const obsolete: string[] = [];
    if (!st.mpu && !st.base) {
      // Small: the tail is the whole upload (or nothing was sent).
      st.base = st.tail
        ? { key: st.tail.key, size: st.tail.size, exact: true }
        : { key: (await this.putTail(id, st, Buffer.alloc(0))).key, size: 0, exact: true };
      st.tail = undefined;
    } else {
      const w = new PartWriter(this, id, st);
      try {
        if (st.tail) await w.push(await this.tailBytes(id, st.tail));
        if (st.base && !st.base.exact && !st.tail) await w.ensureMpu(); // a cut-back base: copy its prefix
        await w.endWithLastPart();
      } catch (e) {
        await w.undo();
        throw e;
      }
      if (st.tail) obsolete.push(st.tail.key);
      obsolete.push(...w.obsolete);
      st.tail = undefined;
      await this.completeMpu(st);
    }
    await this.save(id, rev, st);
    await this.deleteQuietly(obsolete);
  }

  /** Copies the synced upload to its content address; an existing blob is kept. */
  async commitUpload(id: string, digest: string): Promise<void> {
    const target = this.blobKey(digest);
    if (await this.head(target)) return;
    let { st } = await this.mustLoad(id);
    if (!st.base?.exact || st.tail || st.mpu) {
      await this.syncUpload(id);
      ({ st } = await this.mustLoad(id));
    }
    if (st.base!.key.startsWith(MEM)) {
      // A small single-request upload: its bytes were never stored under uploads/, they go straight to the address.
      const buf = await this.tailBytes(id, { key: st.base!.key, size: st.base!.size });
      await this.s3('PutObject', () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.settings.bucket,
            Key: target,
            Body: buf,
            ContentLength: buf.length,
            ContentType: 'application/octet-stream',
          }),
        ),
      );
      return;
    }
    try {
      await this.copyObject(st.base!.key, st.base!.size, target);
    } catch (e) {
      // A concurrent writer of the same digest got there first (some servers fail one of two copies to one key).
      if ((await this.head(target).catch(() => null))?.size === st.base!.size) return;
      throw e;
    }
  }

  private async copyObject(srcKey: string, size: number, dstKey: string): Promise<void> {
    const Bucket = this.settings.bucket;
    const CopySource = `${Bucket}/${encodeURIComponent(srcKey).replace(/%2F/g, '/')}`;
    if (size <= MAX_COPY_BYTES) {
      await this.s3('CopyObject', () =>
        this.client.send(
          new CopyObjectCommand({ Bucket, Key: dstKey, CopySource, ContentType: 'application/octet-stream', MetadataDirective: 'REPLACE' }),
        ),
      );
      return;
    }
    // Larger than one copy: a multipart upload of server-side copied ranges, or of streamed bytes.
    const r = await this.s3('CreateMultipartUpload', () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket, Key: dstKey, ContentType: 'application/octet-stream' })),
    );
    const mpu = { key: dstKey, uploadId: r.UploadId!, parts: [] as Part[] };
    try {
      let n = 0;
      for (let start = 0; start < size; start += COPY_RANGE_BYTES) {
        let end = Math.min(size, start + COPY_RANGE_BYTES) - 1;
        if (size - end - 1 < MIN_PART_BYTES) end = size - 1;
        const part = await this.copyPart(mpu, ++n, srcKey, start, end);
        if (!part) {
          mpu.parts = [];
          const w = new PartWriter(this, '', { size: 0, seq: 0, mpu });
          for await (const c of await this.getObject(srcKey)) await w.push(c as Buffer);
          await w.endWithLastPart();
          break;
        }
        mpu.parts.push(part);
        if (end === size - 1) break;
        start = end + 1 - COPY_RANGE_BYTES;
      }
      await this.s3('CompleteMultipartUpload', () =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: dstKey,
            UploadId: mpu.uploadId,
            MultipartUpload: { Parts: mpu.parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
          }),
        ),
      );
    } catch (e) {
      await this.abort(dstKey, mpu.uploadId).catch(() => undefined);
      throw e;
    }
  }
}

/**
 * Turns a byte stream into parts of a multipart upload: whole parts are uploaded (a few at once), the rest
 * becomes the tail object or the last part. A base object in the state is moved into the new multipart upload
 * first (server-side copy where the server can, else streamed), so its bytes stay in front.
 */
class PartWriter {
  private chunks: Buffer[] = [];
  private pending = 0;
  private inflight = new Set<Promise<void>>();
  private failure: unknown;
  private nextPart: number;
  /** A multipart upload this writer created (aborted on undo). */
  private createdMpu?: { key: string; uploadId: string };
  private newTail?: string;
  /** Objects the saved state no longer needs. */
  readonly obsolete: string[] = [];

  constructor(
    private readonly s: S3BlobStore,
    private readonly id: string,
    readonly st: UploadState,
    private readonly renew: () => Promise<void> = async () => undefined,
  ) {
    this.nextPart = (st.mpu?.parts.at(-1)?.n ?? 0) + 1;
  }

  async push(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.pending += b.length;
    while (this.pending >= this.s.partSize(this.nextPart)) await this.flush();
  }

  async ensureMpu(): Promise<void> {
    if (this.st.mpu) return;
    await this.s.createMpu(this.id, this.st);
    this.createdMpu = { key: this.st.mpu!.key, uploadId: this.st.mpu!.uploadId };
    const base = this.st.base;
    if (!base) return;
    this.st.base = undefined;
    this.obsolete.push(base.key);
    if (base.size === 0) return;
    if (base.size >= MIN_PART_BYTES) {
      const copied: Part[] = [];
      let ok = true;
      for (let start = 0; start < base.size; ) {
        let end = Math.min(base.size, start + COPY_RANGE_BYTES) - 1;
        if (base.size - end - 1 < MIN_PART_BYTES) end = base.size - 1;
        const part = await this.s.copyPart(this.st.mpu!, this.nextPart, base.key, start, end);
        if (!part) {
          ok = false;
          break;
        }
        copied.push(part);
        this.nextPart++;
        start = end + 1;
      }
      if (ok) {
        this.st.mpu!.parts.push(...copied);
        return;
      }
      this.nextPart = 1;
    }
    // Stream the base's bytes in front of what is buffered.
    const saved = this.chunks;
    const savedLen = this.pending;
    this.chunks = [];
    this.pending = 0;
    for await (const c of await this.s.baseStream(base, this.id)) await this.push(c as Buffer);
    this.chunks.push(...saved);
    this.pending += savedLen;
  }

  private take(): Buffer {
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.pending);
    this.chunks = [];
    this.pending = 0;
    return buf;
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.ensureMpu();
    if (this.pending < this.s.partSize(this.nextPart)) return; // the base's remainder went in front; keep buffering
    await this.renew(); // still ours: a writer whose lease was taken over stops before it touches a part
    const mpu = this.st.mpu!;
    const n = this.nextPart++;
    const buf = this.take();
    const p: Promise<void> = this.s
      .uploadPart(mpu, n, buf)
      .then(
        (part) => {
          mpu.parts.push(part);
          mpu.parts.sort((a, b) => a.n - b.n);
        },
        (e) => {
          this.failure ??= e;
        },
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
    while (this.inflight.size >= this.s.concurrency) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
  }

  private async drain(): Promise<void> {
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
  }

  /** Ends a chunk: what is buffered becomes the new tail object. */
  async endWithTail(): Promise<void> {
    await this.drain();
    const old = this.st.tail;
    if (old) this.obsolete.push(old.key);
    if (this.pending > 0) {
      this.st.tail = await this.s.putTail(this.id, this.st, this.take());
      this.newTail = this.st.tail.key;
    } else this.st.tail = undefined;
  }

  /** Ends the upload: what is buffered becomes the last part (any size). */
  async endWithLastPart(): Promise<void> {
    await this.drain();
    if (this.pending > 0) {
      await this.ensureMpu();
      const mpu = this.st.mpu!;
      if (this.pending > 0) mpu.parts.push(await this.s.uploadPart(mpu, this.nextPart++, this.take()));
    }
    await this.drain();
  }

  /** After a failure: what this writer created is dropped, the stored state is untouched. */
  async undo(): Promise<void> {
    await Promise.allSettled(this.inflight);
    if (this.createdMpu) {
      await this.s.client
        .send(
          new AbortMultipartUploadCommand({ Bucket: this.s.settings.bucket, Key: this.createdMpu.key, UploadId: this.createdMpu.uploadId }),
        )
        .catch(() => undefined);
    }
    if (this.newTail && !this.newTail.startsWith(MEM))
      await this.s.client.send(new DeleteObjectCommand({ Bucket: this.s.settings.bucket, Key: this.newTail })).catch(() => undefined);
  }

  committed(): void {
    this.createdMpu = undefined;
    this.newTail = undefined;
  }
}
