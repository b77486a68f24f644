// The filesystem store makes an upload session's file at its first write, not when the session starts
// (BlobStore.createsUploadOnWrite): what that saves (a POST touches no file), what it must still keep (a PATCH's
// file survives a power cut, an empty blob and a session another replica continues still complete).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { sha256 } from './helpers/registry-client.ts';
import { FsBlobStore } from '../src/storage/fs-blobstore.ts';
import { UploadService } from '../src/services/uploads.ts';

const uploadsDir = (s: TestServer) => path.join(s.dataDir, 'blobs', 'uploads');
const octets = { 'content-type': 'application/octet-stream' };

for (const dialect of await testDialects()) {
  describe(`upload session files made at the first write (${dialect})`, () => {
    let s: TestServer;
    let store: FsBlobStore;
    before(async () => {
      s = await startServer(dialect);
      store = s.berth.ctx.store as FsBlobStore;
      assert.ok(store instanceof FsBlobStore);
    });
    after(() => s.stop());

    const post = async (repo: string): Promise<string> => {
      const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      assert.equal(r.status, 202);
      return new URL(r.headers.get('location')!, s.url).toString();
    };
    const idOf = (loc: string) => new URL(loc).pathname.split('/').pop()!;

    test('a POST makes no file and syncs no directory; a PUT with the whole blob stores it and leaves no file', async () => {
      const syncs = store.dirSync.syncs;
      const loc = await post('lazy/put');
      assert.equal(existsSync(path.join(uploadsDir(s), idOf(loc))), false, 'no file at POST');
      assert.equal(store.dirSync.syncs, syncs, 'no uploads/ fsync at POST');
      const blob = Buffer.from('a small layer');
      const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, {
        method: 'PUT',
        body: blob,
        headers: octets,
      });
      assert.equal(put.status, 201, await put.text());
      const got = await fetch(`${s.url}/v2/lazy/put/blobs/${sha256(blob)}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);
      assert.equal(existsSync(path.join(uploadsDir(s), idOf(loc))), false, 'the upload file is gone after the PUT');
    });

    test("a session's first PATCH makes its file and syncs uploads/ before it is acknowledged", async () => {
      const loc = await post('lazy/patch');
      const syncs = store.dirSync.syncs;
      const chunk = Buffer.from('first chunk');
      const r = await fetch(loc, { method: 'PATCH', body: chunk, headers: { ...octets, 'content-range': `0-${chunk.length - 1}` } });
      assert.equal(r.status, 202, await r.text());
      assert.ok(existsSync(path.join(uploadsDir(s), idOf(loc))), 'the file exists after the PATCH');
      // A PATCH links nothing: the only directory it can sync is uploads/, where its new file's entry is.
      assert.ok(store.dirSync.syncs > syncs, "uploads/ was fsync'd for the new file");
      const rest = Buffer.from(', then the rest');
      const whole = Buffer.concat([chunk, rest]);
      const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(whole)}`, {
        method: 'PUT',
        body: rest,
        headers: { ...octets, 'content-range': `${chunk.length}-${whole.length - 1}` },
      });
      assert.equal(put.status, 201, await put.text());
      const got = await fetch(`${s.url}/v2/lazy/patch/blobs/${sha256(whole)}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), whole);
    });

    test('the empty blob: a POST, then a PUT without a body, with no file made before', async () => {
      const loc = await post('lazy/empty');
      const empty = sha256(Buffer.alloc(0));
      const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${empty}`, { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
      const got = await fetch(`${s.url}/v2/lazy/empty/blobs/${empty}`);
      assert.equal(got.status, 200);
      assert.equal((await got.arrayBuffer()).byteLength, 0);
    });

    test('a chunk refused for its length leaves the session usable, and the retry stores exactly the blob', async () => {
      const loc = await post('lazy/retry');
      const blob = Buffer.from('the blob of the retry');
      // Declares more than it sends: SIZE_INVALID, the chunk is discarded (the file, made by this write, stays empty).
      const bad = await fetch(loc, { method: 'PATCH', body: blob, headers: { ...octets, 'content-range': `0-${blob.length + 9}` } });
      assert.equal(bad.status, 400);
      const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, {
        method: 'PUT',
        body: blob,
        headers: octets,
      });
      assert.equal(put.status, 201, await put.text());
      const got = await fetch(`${s.url}/v2/lazy/retry/blobs/${sha256(blob)}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);
    });

    test('a session started by one replica and written first by another (no hash in memory, no file yet) completes', async () => {
      const loc = await post('lazy/replica');
      // Another replica: same database and store, its own UploadService (no running hash of this upload).
      const other = new UploadService(s.berth.ctx);
      const blob = Buffer.from('bytes sent to the other replica');
      const done = await other.finish('lazy/replica', idOf(loc), sha256(blob), Readable.from([blob]), undefined, blob.length);
      assert.equal(done.digest, sha256(blob));
      const got = await fetch(`${s.url}/v2/lazy/replica/blobs/${sha256(blob)}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);
      assert.deepEqual(
        readdirSync(uploadsDir(s)).filter((n) => n === idOf(loc)),
        [],
      );
    });
  });
}
