// berth gc: frees what nothing references, keeps what is in use or too recent, and says how much it freed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { testDialects } from './helpers/databases.ts';
import { BERTH_BIN, startServer, type TestServer } from './helpers/server.ts';
import { pushBlob, pushImage, putManifest, sha256 } from './helpers/registry-client.ts';
import { collectGarbage } from '../src/services/gc.ts';

function blobFile(s: TestServer, digest: string): string {
  const hex = digest.split(':')[1];
  return path.join(s.dataDir, 'blobs', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

for (const dialect of await testDialects()) {
  describe(`garbage collection (${dialect})`, () => {
    let s: TestServer;
    // No tag-history window here: deleted tags would otherwise keep their manifests for DEFAULT_TAG_EXPIRATION
    // (that window is tested in tag-history.test.ts).
    before(async () => {
      s = await startServer(dialect, { DEFAULT_TAG_EXPIRATION: '0s' });
    });
    after(() => s.stop());

    test("a deleted manifest's own layers are freed; shared and in-use ones stay; recent uploads survive the grace period", async () => {
      const u = s.url;
      const keep = await pushImage(u, 'gc/app', 'keep', 'keep');
      const drop = await pushImage(u, 'gc/app', 'drop', 'drop');
      const shared = await pushBlob(u, 'gc/app', 'shared layer bytes');
      const withShared = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: keep.config.digest, size: keep.config.size },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: shared.digest, size: shared.size }],
        }),
      );
      assert.equal((await putManifest(u, 'gc/app', 'shared', withShared)).status, 201);
      assert.equal((await fetch(`${u}/v2/gc/app/manifests/${drop.digest}`, { method: 'DELETE' })).status, 202);
      const fresh = await pushBlob(u, 'gc/app', 'uploaded a moment ago, manifest still to come');

      // With the default grace period nothing recent goes.
      const r0 = await collectGarbage(s.berth.ctx);
      assert.equal(r0.blobsRemoved, 0);
      assert.ok(existsSync(blobFile(s, drop.layer.digest)));

      const r = await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      assert.equal(r.blobsRemoved, 3, 'drop layer + drop config + the fresh unreferenced blob');
      assert.equal(r.bytesFreed, drop.layer.size + drop.config.size + fresh.size);
      assert.ok(!existsSync(blobFile(s, drop.layer.digest)));
      assert.ok(existsSync(blobFile(s, keep.layer.digest)));
      assert.ok(existsSync(blobFile(s, shared.digest)));
      for (const tag of ['keep', 'shared']) {
        const m = await fetch(`${u}/v2/gc/app/manifests/${tag}`);
        assert.equal(m.status, 200);
        const doc = (await m.json()) as { layers: { digest: string }[] };
        const b = await fetch(`${u}/v2/gc/app/blobs/${doc.layers[0].digest}`);
        assert.equal(sha256(Buffer.from(await b.arrayBuffer())), doc.layers[0].digest);
      }
      assert.equal((await fetch(`${u}/v2/gc/app/blobs/${drop.layer.digest}`)).status, 404);
      // A second pass has nothing left to do.
      const again = await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      assert.equal(again.blobsRemoved, 0);
      assert.equal(again.bytesFreed, 0);
    });

    test('--delete-untagged keeps index children and referrers of kept manifests', async () => {
      const u = s.url;
      const child = await pushImage(u, 'gc/multi', 'child', 'child');
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: child.digest,
              size: child.manifest.length,
              platform: { os: 'linux', architecture: 'amd64' },
            },
          ],
        }),
      );
      assert.equal((await putManifest(u, 'gc/multi', 'idx', index, 'application/vnd.oci.image.index.v1+json')).status, 201);
      assert.equal((await fetch(`${u}/v2/gc/multi/manifests/child`, { method: 'DELETE' })).status, 202, 'untag the child');
      const sig = await pushBlob(u, 'gc/multi', 'signature');
      const empty = await pushBlob(u, 'gc/multi', '{}');
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.example.sig',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: 2 },
          layers: [{ mediaType: 'application/octet-stream', digest: sig.digest, size: sig.size }],
          subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length },
        }),
      );
      assert.equal((await putManifest(u, 'gc/multi', sha256(referrer), referrer)).status, 201);
      const orphan = await pushImage(u, 'gc/multi', 'orphan', 'orphan');
      assert.equal((await fetch(`${u}/v2/gc/multi/manifests/orphan`, { method: 'DELETE' })).status, 202);

      const r = await collectGarbage(s.berth.ctx, { graceSeconds: 0, deleteUntagged: true });
      assert.equal(r.manifestsRemoved, 1, 'only the orphan');
      assert.equal((await fetch(`${u}/v2/gc/multi/manifests/${orphan.digest}`)).status, 404);
      assert.equal((await fetch(`${u}/v2/gc/multi/manifests/${child.digest}`)).status, 200);
      assert.equal((await fetch(`${u}/v2/gc/multi/manifests/${sha256(referrer)}`)).status, 200);
      assert.equal((await fetch(`${u}/v2/gc/multi/blobs/${sig.digest}`)).status, 200);
      assert.equal((await fetch(`${u}/v2/gc/multi/blobs/${orphan.layer.digest}`)).status, 404);
    });

    test('berth gc on the command line says how many bytes it freed', async () => {
      const u = s.url;
      const img = await pushImage(u, 'gc/cli', 'v1', 'cli');
      assert.equal((await fetch(`${u}/v2/gc/cli/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      const env = { ...process.env, ...(s.dbUri ? { DB_URI: s.dbUri } : {}) };
      const dry = spawnSync(process.execPath, [BERTH_BIN, 'gc', '--data', s.dataDir, '--grace', '0', '--dry-run'], {
        encoding: 'utf8',
        env,
      });
      assert.equal(dry.status, 0, dry.stderr);
      const expected = img.layer.size + img.config.size;
      assert.match(dry.stdout, new RegExp(`would free ${expected} bytes`));
      assert.ok(existsSync(blobFile(s, img.layer.digest)), 'dry run changes nothing');
      const real = spawnSync(process.execPath, [BERTH_BIN, 'gc', '--data', s.dataDir, '--grace', '0'], { encoding: 'utf8', env });
      assert.equal(real.status, 0, real.stderr);
      assert.match(real.stdout, new RegExp(`freed ${expected} bytes .*2 blobs`));
      assert.ok(!existsSync(blobFile(s, img.layer.digest)));
      const bad = spawnSync(process.execPath, [BERTH_BIN, 'gc', '--data', s.dataDir, '--grace', 'soon'], { encoding: 'utf8', env });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /--grace must be a number of seconds/);
    });
  });
}
