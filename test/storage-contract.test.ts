// One storage contract, after distribution's registry/storage/driver/testsuites: every BlobStore driver (local disk,
// S3 against a real s3rver process) passes the same tests: put, get, stat, list, delete, ranges, large objects,
// small chunks and resumption from another instance (another replica), concurrent writers of one digest,
// missing objects, interrupted and rejected writes, cut-backs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { contentHasher } from '../src/crypto/index.ts';
import { openDatabase, type OpenedDatabase } from '../src/db/database.ts';
import { DbUploadStateStore } from '../src/db/upload-state.ts';
import { type BlobStore, UploadConflict, UploadInterrupted, UploadTooLarge } from '../src/storage/blobstore.ts';
import { FsBlobStore } from '../src/storage/fs-blobstore.ts';
import { BlobTooLarge, readSmallBlob } from '../src/storage/read-blob.ts';
import { S3BlobStore } from '../src/storage/s3-blobstore.ts';
import { startS3Server } from './helpers/s3rver.ts';
import { MOTO_SERVER, startMotoServer } from './helpers/moto.ts';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let seq = 0;
const newId = () => `0000000${++seq}-0000-4000-8000-${randomBytes(6).toString('hex')}`;

/** A body that yields `buf` in pieces of `piece` bytes. */
function body(buf: Buffer, piece = 256 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += piece) yield buf.subarray(i, i + piece);
    })(),
  );
}

/** A body that yields `buf` and then fails, like a client whose connection drops. */
function failingBody(buf: Buffer): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < buf.length; i += 512 * 1024) yield buf.subarray(i, i + 512 * 1024);
      throw new Error('connection reset by peer');
    })(),
  );
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function put(store: BlobStore, data: Buffer, chunks: number[] = [data.length], singleRequest = false): Promise<string> {
  const id = newId();
  await store.createUpload(id, { singleRequest });
  let off = 0;
  for (const n of chunks) {
    off += await store.appendUpload(id, off, body(data.subarray(off, off + n)));
  }
  assert.equal(off, data.length);
  const digest = sha256(data);
  await store.syncUpload(id);
  await store.commitUpload(id, digest);
  await store.deleteUpload(id);
  return digest;
}

interface Driver {
  name: string;
  store: () => BlobStore;
  another: () => BlobStore;
  cleanup(): Promise<void>;
  s3?: boolean;
}

const s3State: { db?: OpenedDatabase } = {};

/**
 * Two S3 stores on one bucket and prefix (two Berth processes' view of it), their upload state in one SQLite
 * database; `name` names the driver and its scratch directory.
 */
async function s3PairDriver(
  name: string,
  server: { bucket: string; endpoint: string; stop(): Promise<void> },
  credentials: { accessKeyId: string; secretAccessKey: string },
  prefix: string,
): Promise<Driver> {
  const dir = mkdtempSync(path.join(tmpdir(), `berth-contract-${name}-`));
  const db = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'state.db') });
  s3State.db = db;
  const settings = {
    bucket: server.bucket,
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials,
    prefix,
    configKey: 'DISTRIBUTED_STORAGE_CONFIG.default',
  };
  const first = new S3BlobStore(settings, new DbUploadStateStore(db.db));
  const second = new S3BlobStore(settings, new DbUploadStateStore(db.db));
  return {
    name,
    s3: true,
    store: () => first,
    another: () => second,
    async cleanup() {
      first.close();
      second.close();
      await db.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function s3Driver(): Promise<Driver> {
  const server = await startS3Server();
  return s3PairDriver('s3', server, { accessKeyId: server.accessKey, secretAccessKey: server.secretKey }, `contract/${Date.now()}`);
}

async function motoDriver(): Promise<Driver> {
  const server = await startMotoServer();
  return s3PairDriver('moto', server, { accessKeyId: 'testing', secretAccessKey: 'testing' }, 'contract');
}

async function fsDriver(): Promise<Driver> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-contract-fs-'));
  const a = new FsBlobStore(dir);
  await a.init();
  const b = new FsBlobStore(dir);
  return {
    name: 'local',
    store: () => a,
    another: () => b,
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const d0 = (name: string) => (name === 'local' ? 'the local driver has no server to learn about' : false);

const drivers = [
  ['local', fsDriver, false],
  ['s3', s3Driver, false],
  [
    's3 (moto)',
    motoDriver,
    MOTO_SERVER ? false : "moto_server is not installed (pip install 'moto[server]'): the S3 driver ran against s3rver only",
  ],
] as const;

for (const [name, makeDriver, skip] of drivers) {
  // (the skip is on each test: Node 20 does not count a skipped describe)
  describe(`storage contract: ${name}`, () => {
    let d: Driver;
    let store: BlobStore;
    before(async () => {
      if (skip) return; // the tests are skipped, with the reason
      d = await makeDriver();
      store = d.store();
      await store.check?.();
    });
    after(() => d?.cleanup());

    test('put, stat, get and a small range of a small blob', { skip }, async () => {
      const data = randomBytes(3000);
      const digest = await put(store, data);
      assert.deepEqual(await store.stat(digest), { size: 3000 });
      assert.deepEqual(await readAll(store.read(digest)), data);
      assert.deepEqual(await readAll(store.read(digest, { start: 10, end: 19 })), data.subarray(10, 20));
      assert.deepEqual(await readAll(store.read(digest, { start: 2999, end: 2999 })), data.subarray(2999));
      const mtime = await store.modifiedAt?.(digest);
      assert.ok(mtime && Math.abs(mtime - Date.now()) < 120_000, `modifiedAt is recent (${mtime})`);
    });

    test('single-request uploads (POST ?digest=), small and over a part, leave no upload area behind', { skip }, async () => {
      for (const size of [70_000, 9 * MiB + 1]) {
        const data = randomBytes(size);
        const before = new Set(await store.listUploads());
        const digest = await put(store, data, [size], true);
        assert.deepEqual(await store.stat(digest), { size });
        assert.equal(sha256(await readAll(store.read(digest))), digest);
        assert.deepEqual(
          (await store.listUploads()).filter((u) => !before.has(u)),
          [],
        );
      }
    });

    test('an empty blob', { skip }, async () => {
      const digest = await put(store, Buffer.alloc(0), []);
      assert.deepEqual(await store.stat(digest), { size: 0 });
      assert.equal((await readAll(store.read(digest))).length, 0);
    });

    test('readSmallBlob: a read sized by the descriptor, whole whatever the hint says, the limit kept', { skip }, async () => {
      const data = randomBytes(5000);
      const digest = await put(store, data);
      const ranges: Array<{ start: number; end: number } | undefined> = [];
      const spied = Object.create(store) as BlobStore;
      spied.read = (dg, range) => {
        ranges.push(range);
        return store.read(dg, range);
      };
      assert.deepEqual(await readSmallBlob(spied, digest, 4 * MiB, 5000), data);
      assert.deepEqual(ranges, [{ start: 0, end: 5000 }], 'one read of the declared size and one byte more');
      ranges.length = 0;
      // A descriptor that says less than is stored: read again whole, never a truncated config.
      assert.deepEqual(await readSmallBlob(spied, digest, 4 * MiB, 4000), data);
      assert.deepEqual(ranges, [{ start: 0, end: 4000 }, undefined]);
      ranges.length = 0;
      // One that says more (past the end of the object): what is there.
      assert.deepEqual(await readSmallBlob(spied, digest, 4 * MiB, 9000), data);
      assert.deepEqual(ranges, [{ start: 0, end: 9000 }]);
      ranges.length = 0;
      // No usable hint (absent, zero, over the limit): an unsized read; the limit still holds.
      assert.deepEqual(await readSmallBlob(spied, digest, 4 * MiB), data);
      assert.deepEqual(await readSmallBlob(spied, digest, 4 * MiB, 0), data);
      assert.deepEqual(ranges, [undefined, undefined]);
      await assert.rejects(readSmallBlob(spied, digest, 4999, 5000), BlobTooLarge);
      await assert.rejects(readSmallBlob(spied, digest, 4999, 100), BlobTooLarge);
    });

    test('missing objects: stat and modifiedAt are null, read fails with ENOENT, delete is quiet', { skip }, async () => {
      const digest = sha256(randomBytes(10));
      assert.equal(await store.stat(digest), null);
      assert.equal((await store.modifiedAt?.(digest)) ?? null, null);
      await assert.rejects(readAll(store.read(digest)), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      await store.delete(digest);
      assert.equal(await store.uploadSize(newId()), null);
      assert.equal(await store.uploadModifiedAt(newId()), null);
    });

    test('list names every committed blob; delete removes one', { skip }, async () => {
      const digests = [await put(store, randomBytes(100)), await put(store, randomBytes(200)), await put(store, randomBytes(300))];
      const listed = new Set<string>();
      for await (const dg of store.list()) listed.add(dg);
      for (const dg of digests) assert.ok(listed.has(dg), `${dg} is listed`);
      await store.delete(digests[1]);
      assert.equal(await store.stat(digests[1]), null);
      const after2 = new Set<string>();
      for await (const dg of store.list()) after2.add(dg);
      assert.ok(!after2.has(digests[1]) && after2.has(digests[0]) && after2.has(digests[2]));
    });

    test('a large blob in chunks of odd sizes (1 byte to 9 MiB) crosses part boundaries; ranges anywhere', { skip }, async () => {
      const data = randomBytes(21 * MiB + 7);
      const chunks = [1, 100 * 1024, 9 * MiB, 3 * MiB, 1, 5 * MiB - 3, 4 * MiB];
      chunks.push(data.length - chunks.reduce((a, b) => a + b, 0));
      const digest = await put(store, data, chunks);
      assert.deepEqual(await store.stat(digest), { size: data.length });
      const back = await readAll(store.read(digest));
      assert.equal(sha256(back), digest);
      for (const [s, e] of [
        [0, 0],
        [8 * MiB - 5, 8 * MiB + 5],
        [16 * MiB - 1, 16 * MiB],
        [data.length - 10, data.length - 1],
      ]) {
        assert.deepEqual(await readAll(store.read(digest, { start: s, end: e })), data.subarray(s, e + 1), `range ${s}-${e}`);
      }
    });

    test('an upload continued by another instance (another replica) after small chunks; its bytes hash back the same', {
      skip,
    }, async () => {
      const data = randomBytes(10 * MiB + 333);
      const id = newId();
      await store.createUpload(id);
      let off = 0;
      const hasher = contentHasher('sha256');
      for (let i = 0; i < 20; i++) off += await store.appendUpload(id, off, body(data.subarray(off, off + 1000)), hasher);
      off += await store.appendUpload(id, off, body(data.subarray(off, off + 9 * MiB)), hasher);
      assert.equal(await store.uploadSize(id), off);
      // The other instance has no hash state: it reads the stored bytes back.
      const other = d.another();
      assert.equal(await other.uploadSize(id), off);
      const rehash = contentHasher('sha256');
      assert.equal(await other.hashUpload(id, rehash), off);
      off += await other.appendUpload(id, off, body(data.subarray(off)), rehash);
      assert.equal(off, data.length);
      const digest = sha256(data);
      assert.equal(`sha256:${rehash.hex()}`, digest);
      // And the first instance finishes it.
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
      await store.deleteUpload(id);
      assert.equal(sha256(await readAll(other.read(digest))), digest);
      assert.equal(await store.uploadSize(id), null);
    });

    test('concurrent writers of the same digest all succeed and leave one whole blob', { skip }, async () => {
      const data = randomBytes(6 * MiB + 1);
      const digests = await Promise.all([0, 1, 2, 3].map((i) => put(i % 2 ? store : d.another(), data, [3 * MiB, 3 * MiB + 1])));
      assert.equal(new Set(digests).size, 1);
      assert.deepEqual(await store.stat(digests[0]), { size: data.length });
      assert.equal(sha256(await readAll(store.read(digests[0]))), digests[0]);
    });

    test('an interrupted write keeps nothing of the failed chunk; the retry completes the blob', { skip }, async () => {
      const data = randomBytes(12 * MiB);
      const id = newId();
      await store.createUpload(id);
      let off = await store.appendUpload(id, 0, body(data.subarray(0, 2 * MiB)));
      // 9 MiB arrive (a whole part on S3), then the connection drops.
      await assert.rejects(store.appendUpload(id, off, failingBody(data.subarray(off, off + 9 * MiB))), UploadInterrupted);
      if ((await store.uploadSize(id)) !== off) await store.truncateUpload(id, off); // the service's rule: the row is the truth
      assert.equal(await store.uploadSize(id), off);
      const h = contentHasher('sha256');
      assert.equal(await store.hashUpload(id, h), off);
      off += await store.appendUpload(id, off, body(data.subarray(off)), h);
      const digest = sha256(data);
      assert.equal(`sha256:${h.hex()}`, digest);
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
      await store.deleteUpload(id);
      assert.equal(sha256(await readAll(store.read(digest))), digest);
    });

    test('a chunk over the limit is refused and not kept', { skip }, async () => {
      const id = newId();
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(randomBytes(1000)));
      await assert.rejects(store.appendUpload(id, 1000, body(randomBytes(2000)), undefined, 2500), UploadTooLarge);
      if ((await store.uploadSize(id)) !== 1000) await store.truncateUpload(id, 1000);
      assert.equal(await store.uploadSize(id), 1000);
      await store.deleteUpload(id);
      assert.equal(await store.uploadSize(id), null);
    });

    test('cut back inside the parts and inside the tail, then continue', { skip }, async () => {
      const data = randomBytes(14 * MiB);
      const id = newId();
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(data.subarray(0, 11 * MiB)));
      await store.truncateUpload(id, 10 * MiB + 5); // inside the tail (parts are 8 MiB on S3)
      assert.equal(await store.uploadSize(id), 10 * MiB + 5);
      await store.truncateUpload(id, 6 * MiB); // inside the parts
      assert.equal(await store.uploadSize(id), 6 * MiB);
      let off = 6 * MiB;
      off += await store.appendUpload(id, off, body(data.subarray(off, off + 3 * MiB)));
      off += await store.appendUpload(id, off, body(data.subarray(off)));
      const h = contentHasher('sha256');
      assert.equal(await d.another().hashUpload(id, h), data.length);
      const digest = sha256(data);
      assert.equal(`sha256:${h.hex()}`, digest);
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
      await store.deleteUpload(id);
      assert.equal(sha256(await readAll(store.read(digest))), digest);
    });

    test('upload areas are listed while they exist and gone after deleteUpload', { skip }, async () => {
      const id = newId();
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(randomBytes(9 * MiB)));
      assert.ok((await store.listUploads()).includes(id));
      const m = await store.uploadModifiedAt(id);
      assert.ok(m && Math.abs(m - Date.now()) < 120_000);
      await store.deleteUpload(id);
      assert.ok(!(await store.listUploads()).includes(id));
      assert.equal(await store.uploadSize(id), null);
    });

    test('what the server supports was learnt on first use, and the other paths were taken where it lacks them', {
      skip: skip || d0(name),
    }, async () => {
      const caps = (store as S3BlobStore).capabilities();
      // s3rver has neither (the driver streamed and relied on its state table); moto has both, like S3 and MinIO.
      assert.deepEqual(
        caps,
        name === 's3' ? { uploadPartCopy: false, listMultipartUploads: false } : { uploadPartCopy: true, listMultipartUploads: true },
      );
    });

    test('two writers of one upload at once: the second is refused before it writes (any replica)', {
      skip: skip || name === 'local' ? "the local driver relies on the one process's upload lock (UploadService)" : false,
    }, async () => {
      const id = newId();
      await store.createUpload(id);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = Readable.from(
        (async function* () {
          yield randomBytes(1000);
          await gate;
          yield randomBytes(1000);
        })(),
      );
      const first = store.appendUpload(id, 0, slow);
      // Wait until the first writer holds the upload (its lease is in the stored state).
      while (!JSON.parse((await new DbUploadStateStore(s3State.db!.db).get(id))!.state).lease) await new Promise((r) => setImmediate(r));
      await assert.rejects(d.another().appendUpload(id, 0, body(randomBytes(10))), UploadConflict);
      release();
      assert.equal(await first, 2000);
      assert.equal(await store.uploadSize(id), 2000);
      await store.deleteUpload(id);
    });
  });
}
