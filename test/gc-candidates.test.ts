// Candidate-driven gc (migration 0021_gc_candidates): each kind of deletion leaves candidates that the next pass
// collects; blobs shared between repositories survive; the safety-net sweep finds garbage that has no candidate;
// a pass that dies leaves its candidates for the next one.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { pushBlob, pushImage, putManifest } from './helpers/registry-client.ts';
import { collectGarbage } from '../src/services/gc.ts';
import { recordRepositoriesDeleted } from '../src/services/gc-candidates.ts';

const imageOf = (config: { digest: string; size: number }, layers: { digest: string; size: number }[]) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
    }),
  );

for (const dialect of await testDialects()) {
  describe(`gc, candidate-driven (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect, { DEFAULT_TAG_EXPIRATION: '0s', GC_SWEEP_INTERVAL_SECONDS: '0' });
    });
    after(() => s.stop());
    const blobRow = (d: string) => s.berth.ctx.db.selectFrom('blob').select('digest').where('digest', '=', d).executeTakeFirst();
    const candidates = async () =>
      Number(
        (
          await s.berth.ctx.db
            .selectFrom('gc_candidate')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const later = () => ({ ...s.berth.ctx, now: () => Date.now() + 10_000 });

    test('garbage from each kind of deletion goes in the next pass; a layer shared with another repository stays', async () => {
      const u = s.url;
      const shared = await pushBlob(u, 'cand/a', 'layer shared by a and b');
      await pushBlob(u, 'cand/b', 'layer shared by a and b');
      const cfg = await pushBlob(u, 'cand/a', '{"config":"shared"}');
      await pushBlob(u, 'cand/b', '{"config":"shared"}');
      assert.equal((await putManifest(u, 'cand/b', 'keep', imageOf(cfg, [shared]))).status, 201);
      // 1. a manifest deleted by digest
      const byDigest = await pushImage(u, 'cand/a', 'x', 'deleted by digest');
      const withShared = imageOf(cfg, [shared]);
      assert.equal((await putManifest(u, 'cand/a', 'shared', withShared)).status, 201);
      // 2. a tag deleted (untagged manifest, --delete-untagged), 3. a tag moved, 4. a tag that expired
      const tagDeleted = await pushImage(u, 'cand/a', 'gone', 'tag deleted');
      const moved = await pushImage(u, 'cand/a', 'mv', 'tag moved away');
      await pushImage(u, 'cand/a', 'mv', 'tag moved here');
      const expiring = await pushImage(u, 'cand/a', 'exp', 'tag expires');
      // 5. a blob deleted from the repository, 6. an upload no manifest ever used, 7. a whole repository deleted
      const blobDeleted = await pushBlob(u, 'cand/a', 'blob deleted through the API');
      const orphan = await pushBlob(u, 'cand/a', 'uploaded, never used');
      const repoGone = await pushImage(u, 'cand/c', 'v1', 'repository deleted');
      assert.equal((await fetch(`${u}/v2/cand/a/manifests/${byDigest.digest}`, { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(`${u}/v2/cand/a/manifests/gone`, { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(`${u}/v2/cand/a/blobs/${blobDeleted.digest}`, { method: 'DELETE' })).status, 202);
      const expired = await s.berth.ctx.db
        .updateTable('tag')
        .set({ expires_at: Date.now() - 1000 })
        .where('name', '=', 'exp')
        .executeTakeFirst();
      assert.equal(Number(expired.numUpdatedRows), 1);
      await s.berth.ctx.db
        .updateTable('tag_history')
        .set({ end_ts: Date.now() - 1000 })
        .where('name', '=', 'exp')
        .where('end_ts', 'is', null)
        .execute();
      // As RepositoryService.delete does (this server runs without accounts, so without the repository API).
      await s.berth.ctx.db.transaction().execute(async (tx) => {
        const c = await tx.selectFrom('repository').select('id').where('name', '=', 'cand/c').executeTakeFirstOrThrow();
        await recordRepositoriesDeleted(tx, { repositoryId: Number(c.id) }, Date.now());
        await tx.deleteFrom('repository').where('id', '=', c.id).execute();
      });
      assert.ok((await candidates()) > 0);

      const r = await collectGarbage(later(), { graceSeconds: 0, deleteUntagged: true });
      assert.equal(r.sweptRows, 0, 'no sweep: candidates only');
      for (const d of [
        byDigest.layer.digest,
        byDigest.config.digest,
        tagDeleted.layer.digest,
        moved.layer.digest,
        expiring.layer.digest,
        blobDeleted.digest,
        orphan.digest,
        repoGone.layer.digest,
      ])
        assert.equal(await blobRow(d), undefined, `${d} should have been collected`);
      assert.ok(r.manifestsRemoved >= 3, `untagged manifests removed: ${r.manifestsRemoved}`);
      // The layer and config b still uses stay, in b and as bytes.
      for (const d of [shared.digest, cfg.digest]) {
        assert.ok(await blobRow(d));
        assert.equal((await fetch(`${u}/v2/cand/b/blobs/${d}`)).status, 200);
        assert.equal((await fetch(`${u}/v2/cand/a/blobs/${d}`)).status, 200, 'still used by cand/a:shared');
      }
      assert.equal(await candidates(), 0, 'every candidate settled');
      // Now a's manifest that shared them goes: a's links go, the blobs stay for b.
      const m = await fetch(`${u}/v2/cand/a/manifests/shared`, { method: 'HEAD' });
      assert.equal((await fetch(`${u}/v2/cand/a/manifests/${m.headers.get('docker-content-digest')}`, { method: 'DELETE' })).status, 202);
      const r2 = await collectGarbage(later(), { graceSeconds: 0 });
      assert.equal(r2.linksRemoved, 2);
      assert.equal(r2.blobsRemoved, 0);
      assert.equal((await fetch(`${u}/v2/cand/a/blobs/${shared.digest}`)).status, 404);
      assert.equal((await fetch(`${u}/v2/cand/b/blobs/${shared.digest}`)).status, 200);
    });

    test('the sweep finds garbage that has no candidate (rows written around Berth), in bounded resumable slices', async () => {
      const { db } = s.berth.ctx;
      const old = Date.now() - 86_400_000;
      const digests = Array.from({ length: 30 }, (_, i) => `sha256:${(0xabc000 + i).toString(16).padStart(64, '0')}`);
      await db
        .insertInto('blob')
        .values(digests.map((d) => ({ digest: d, size: 7, created_at: old, last_used_at: old })))
        .execute();
      // A pass with no sweep does not see them.
      const none = await collectGarbage(later(), { graceSeconds: 0 });
      assert.equal(none.blobsRemoved, 0);
      for (const d of digests) assert.ok(await blobRow(d));
      const r = await collectGarbage(later(), { graceSeconds: 0, sweep: true });
      assert.ok(r.sweptRows >= 30);
      assert.equal(r.blobsRemoved, 30);
      for (const d of digests) assert.equal(await blobRow(d), undefined);
      const state = await db.selectFrom('gc_sweep').selectAll().executeTakeFirstOrThrow();
      assert.equal(state.phase, 'done');
    });

    test('a pass that dies mid-way leaves its candidates, and the next pass collects them', async () => {
      const u = s.url;
      const img = await pushImage(u, 'cand/crash', 'v1', 'crash midway');
      assert.equal((await fetch(`${u}/v2/cand/crash/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      const ctx = later();
      const store = ctx.store;
      let calls = 0;
      const failing = Object.create(store) as typeof store;
      failing.delete = async (d: string) => {
        if (++calls === 1) throw new Error('power cut');
        return store.delete(d);
      };
      await assert.rejects(collectGarbage({ ...ctx, store: failing }, { graceSeconds: 0 }), /power cut/);
      assert.ok((await candidates()) > 0, 'the candidates are still there');
      const r = await collectGarbage(later(), { graceSeconds: 0 });
      assert.equal(r.blobsRemoved, 2);
      assert.equal(await blobRow(img.layer.digest), undefined);
      assert.equal(await blobRow(img.config.digest), undefined);
      const left = await s.berth.ctx.db.selectFrom('gc_candidate').selectAll().where('kind', '=', 'blob').execute();
      assert.deepEqual(left, []);
    });
  });
}
