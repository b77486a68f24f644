// A small push on SQLite and the local file system, as seen from the scheduler of a busy machine (docs/PERFORMANCE.md,
// "Small push under load"): every thread-pool round trip is a wake-up of a pool thread and of the event loop, each a
// wait for a time slice. Two rules hold here:
// - no file call goes to the thread pool while the one SQLite connection is held (a transaction): every other
//   request's statements would wait for that round trip;
// - a blob PUT makes only the thread-pool calls it needs (the directory's open and close, and the upload file's close,
//   are made on the event loop: no I/O), so a change that adds one is seen.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { startServer, type TestServer } from './helpers/server.ts';
import { sha256 } from './helpers/registry-client.ts';
import { FsBlobStore } from '../src/storage/fs-blobstore.ts';

const octets = { 'content-type': 'application/octet-stream' };

async function pushBlob(s: TestServer, repo: string, blob: Buffer): Promise<void> {
  const start = await fetch(`${s.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = new URL(start.headers.get('location')!, s.url).toString();
  const put = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${sha256(blob)}`, {
    method: 'PUT',
    body: new Uint8Array(blob),
    headers: octets,
  });
  assert.equal(put.status, 201, await put.text());
}

describe('the small push path on SQLite and the file system', () => {
  let s: TestServer;
  let store: FsBlobStore;
  before(async () => {
    s = await startServer('sqlite');
    store = s.berth.ctx.store as FsBlobStore;
    assert.ok(store instanceof FsBlobStore);
  });
  after(() => s.stop());

  test('no store call waits for the thread pool while the SQLite connection is held', async () => {
    const { db } = s.berth.ctx;
    const held: string[] = [];
    const wrapped: [string, unknown][] = [];
    // Every asynchronous store method asks, when it is called, whether a statement could run now: while a
    // transaction holds the connection, a query issued here waits for it (Kysely runs one at a time on SQLite).
    for (const name of ['stat', 'commitUpload', 'uploadModifiedAt', 'uploadSize', 'syncUpload', 'deleteUpload', 'modifiedAt'] as const) {
      const original = store[name];
      wrapped.push([name, original]);
      (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
        const probe = sql`select 1`.execute(db).then(() => 'free' as const);
        // Not awaited when held: the transaction waits for this very call.
        if ((await Promise.race([probe, sleep(200).then(() => 'held' as const)])) === 'held') held.push(name);
        return (original as (...a: unknown[]) => unknown).apply(store, args);
      };
    }
    try {
      const blob = Buffer.from(`a layer ${Date.now()}`);
      await pushBlob(s, 'hops/tx', blob);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(blob), size: blob.length },
          layers: [],
        }),
      );
      const m = await fetch(`${s.url}/v2/hops/tx/manifests/v1`, {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(m.status, 201, await m.text());
    } finally {
      for (const [name, original] of wrapped) (store as unknown as Record<string, unknown>)[name] = original;
    }
    assert.deepEqual(held, [], `store calls made while a transaction held the connection: ${held.join(', ')}`);
  });

  test("a session's blob PUT makes only these thread-pool file calls", async () => {
    const names = ['open', 'close', 'writev', 'fdatasync', 'fsync', 'link', 'unlink', 'stat', 'ftruncate', 'mkdir'] as const;
    const calls: string[] = [];
    const originals = new Map<string, unknown>();
    const target = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const name of names) {
      const original = target[name];
      originals.set(name, original);
      target[name] = (...args: unknown[]) => {
        // The data directory's calls only (the WAL's group sync has its own descriptor and import).
        if (typeof args[0] !== 'string' || args[0].startsWith(s.dataDir)) calls.push(name);
        return original.apply(fs, args);
      };
    }
    const blob = Buffer.from(`the measured layer ${Date.now()}`);
    // Into a fan-out directory that exists (a new one adds a failed link, a stat, a mkdir and the link again).
    fs.mkdirSync(path.join(store.root, 'blobs', 'sha256', sha256(blob).slice(7, 9)), { recursive: true });
    try {
      await pushBlob(s, 'hops/calls', blob);
    } finally {
      for (const [name, original] of originals) target[name] = original as (...a: unknown[]) => unknown;
    }
    // open (wx: makes the file), writev, fdatasync, link into blobs/, fsync of its directory, unlink of the upload.
    assert.deepEqual(
      calls,
      ['open', 'writev', 'fdatasync', 'link', 'fsync', 'unlink'],
      `thread-pool file calls of one blob PUT: ${calls.join(', ')}`,
    );
  });
});
