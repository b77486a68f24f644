// gc beside pushes, one interleaving at a time: each test stops gc (or a push) at the exact point where the two
// used to collide, does the other side's step there, and checks nothing acknowledged loses its bytes and every
// refusal is a clean one. test/concurrency.test.ts runs the same races at random, many times over.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { errorCode, imageManifest, pushBlob, pushImage, putManifest, sha256 } from './helpers/registry-client.ts';
import { waitFor } from './helpers/wait.ts';
import { collectGarbage } from '../src/services/gc.ts';
import type { BlobStore } from '../src/storage/blobstore.ts';

const uploadsDir = (s: TestServer) => path.join(s.dataDir, 'blobs', 'uploads');
function blobFile(s: TestServer, digest: string): string {
  const hex = digest.split(':')[1];
  return path.join(s.dataDir, 'blobs', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

/** Replaces one method of the server's blob store until the returned function is called. */
function hook<K extends keyof BlobStore>(s: TestServer, name: K, fn: (orig: NonNullable<BlobStore[K]>) => BlobStore[K]): () => void {
  const store = s.berth.ctx.store as BlobStore;
  const orig = store[name];
  store[name] = fn((orig as (...a: unknown[]) => unknown).bind(store) as NonNullable<BlobStore[K]>);
  return () => {
    store[name] = orig;
  };
}

for (const dialect of await testDialects()) {
  describe(`gc racing pushes, step by step (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect);
    });
    after(() => s.stop());

    test('a single-request upload keeps its data through a gc pass with no grace period, and then completes', async () => {
      const bytes = Buffer.from(`single request ${dialect} ${'y'.repeat(5000)}`);
      const digest = sha256(bytes);
      const body = new Readable({ read() {} });
      body.push(bytes.subarray(0, 100));
      const before = new Set(readdirSync(uploadsDir(s)));
      const res = fetch(`${s.url}/v2/gc/single/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        body: Readable.toWeb(body) as ReadableStream,
        duplex: 'half',
        headers: { 'content-type': 'application/octet-stream' },
      } as RequestInit);
      // The request is writing its upload file (no session row): gc runs now, with grace 0 and with a clock past
      // the upload expiry, and must leave it alone because this process is still writing it.
      let file = '';
      await waitFor(
        () => {
          file = readdirSync(uploadsDir(s)).find((f) => !before.has(f)) ?? '';
          return file !== '';
        },
        { what: 'the upload file of the single-request upload' },
      );
      await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      await collectGarbage({ ...s.berth.ctx, now: () => Date.now() + 48 * 3600_000 }, { graceSeconds: 0 });
      assert.ok(existsSync(path.join(uploadsDir(s), file)), 'gc removed the data of an upload in flight');
      body.push(bytes.subarray(100));
      body.push(null);
      const r = await res;
      assert.equal(r.status, 201, await r.clone().text());
      const b = await fetch(`${s.url}/v2/gc/single/blobs/${digest}`);
      assert.equal(sha256(Buffer.from(await b.arrayBuffer())), digest);
      assert.ok(!existsSync(path.join(uploadsDir(s), file)), 'the upload file is gone once stored');
    });

    test('an upload file with no session and no writer goes only once idle for the upload expiry, whatever the grace period', async () => {
      const store = s.berth.ctx.store as BlobStore;
      const id = '0e6a4a52-58d0-4a7e-9f57-000000000001';
      await store.createUpload(id); // as left by a crash: no row, no request writing it
      await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      assert.notEqual(await store.uploadModifiedAt(id), null, 'a fresh upload file stays with grace 0');
      await collectGarbage({ ...s.berth.ctx, now: () => Date.now() + 25 * 3600_000 }, { graceSeconds: 3600 * 48 });
      assert.equal(await store.uploadModifiedAt(id), null, 'an upload file idle past UPLOAD_EXPIRY_SECONDS goes');
    });

    test('a stray file that a push of the same content records while gc looks at it is kept', async () => {
      const store = s.berth.ctx.store as BlobStore;
      // A tagged image whose config the new manifest shares, so that config is in use when gc looks.
      const { config } = await pushImage(s.url, 'gc/stray', 'base', `stray base ${dialect}`);
      const bytes = Buffer.from(`stray then pushed ${dialect}`);
      const digest = sha256(bytes);
      // The file is there with no row (a crash after linking, before recording).
      const id = '0e6a4a52-58d0-4a7e-9f57-000000000002';
      await store.createUpload(id);
      await store.appendUpload(id, 0, Readable.from([bytes]));
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
      await store.deleteUpload(id);
      let pushed: Response | undefined;
      // gc has listed the stray file and found no row for it; right then a client pushes the same content and a
      // manifest that uses it, and both are acknowledged before gc goes on.
      const unhook = hook(s, 'modifiedAt', (orig) => async (d: string) => {
        if (d === digest && !pushed) {
          const layer = await pushBlob(s.url, 'gc/stray', bytes);
          pushed = await putManifest(s.url, 'gc/stray', 'v1', imageManifest(config, [layer]));
        }
        return orig(d);
      });
      try {
        // Stray files are the safety-net sweep's last phase.
        await collectGarbage(s.berth.ctx, { graceSeconds: 0, sweep: true });
      } finally {
        unhook();
      }
      assert.equal(pushed?.status, 201);
      assert.ok(existsSync(blobFile(s, digest)), 'gc removed the bytes of an acknowledged blob');
      const b = await fetch(`${s.url}/v2/gc/stray/blobs/${digest}`);
      assert.equal(b.status, 200);
      assert.equal(sha256(Buffer.from(await b.arrayBuffer())), digest);
    });

    test('a stray file nobody records is still removed (under its placeholder row, which does not stay)', async () => {
      const store = s.berth.ctx.store as BlobStore;
      const bytes = Buffer.from(`stray for good ${dialect}`);
      const digest = sha256(bytes);
      const id = '0e6a4a52-58d0-4a7e-9f57-000000000003';
      await store.createUpload(id);
      await store.appendUpload(id, 0, Readable.from([bytes]));
      await store.commitUpload(id, digest);
      await store.deleteUpload(id);
      const dry = await collectGarbage(s.berth.ctx, { graceSeconds: 0, dryRun: true, sweep: true });
      assert.ok(dry.strayFilesRemoved >= 1);
      assert.ok(existsSync(blobFile(s, digest)), 'a dry run removes nothing');
      const r = await collectGarbage(s.berth.ctx, { graceSeconds: 0, sweep: true });
      assert.ok(r.strayFilesRemoved >= 1);
      assert.ok(!existsSync(blobFile(s, digest)));
      const row = await s.berth.ctx.db.selectFrom('blob').select('digest').where('digest', '=', digest).executeTakeFirst();
      assert.equal(row, undefined);
    });

    test('a chunk whose session gc expires just before it is written is refused as BLOB_UPLOAD_UNKNOWN', async () => {
      const start = await fetch(`${s.url}/v2/gc/chunked/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const loc = new URL(start.headers.get('location')!, s.url).toString();
      // Between the session check and the write, gc (a clock past the upload expiry) removes the session and its file.
      const unhook = hook(s, 'appendUpload', (orig) => async (...args: Parameters<BlobStore['appendUpload']>) => {
        await collectGarbage({ ...s.berth.ctx, now: () => Date.now() + 48 * 3600_000 }, { graceSeconds: 3600 * 96 });
        return orig(...args);
      });
      let r: Response;
      try {
        r = await fetch(loc, { method: 'PATCH', body: 'some bytes', headers: { 'content-type': 'application/octet-stream' } });
      } finally {
        unhook();
      }
      assert.equal(r.status, 404);
      assert.equal(await errorCode(r), 'BLOB_UPLOAD_UNKNOWN');
      assert.equal((await fetch(loc)).status, 404, 'the session is gone');
    });
  });
}
