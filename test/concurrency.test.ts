// Races a registry sees in real life: the same content pushed in parallel, deletes beside pushes,
// gc beside pushes. No request may fail with 500 and nothing acknowledged may lose bytes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { imageManifest, pushBlob, pushImage, putManifest, sha256 } from './helpers/registry-client.ts';
import { collectGarbage } from '../src/services/gc.ts';

async function assertWhole(url: string, repo: string, ref: string) {
  const m = await fetch(`${url}/v2/${repo}/manifests/${ref}`);
  assert.equal(m.status, 200, `${repo}:${ref}`);
  const doc = await m.json() as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const b = await fetch(`${url}/v2/${repo}/blobs/${d}`);
    assert.equal(b.status, 200, `blob ${d} of ${repo}:${ref}`);
    assert.equal(sha256(Buffer.from(await b.arrayBuffer())), d);
  }
}

for (const dialect of await testDialects()) {
  describe(`concurrency (${dialect})`, () => {
    let s: TestServer;
    before(async () => { s = await startServer(dialect); });
    after(() => s.stop());

    test('the same blob and manifest pushed by 20 clients at once', async () => {
      const u = s.url;
      const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const config = await pushBlob(u, 'race/same', '{"same":"config"}');
        const layer = await pushBlob(u, 'race/same', 'the same layer for everyone');
        return putManifest(u, 'race/same', `t${i}`, imageManifest(config, [layer]));
      }));
      assert.deepEqual(results.map((r) => r.status), Array(20).fill(201));
      assert.equal(new Set(results.map((r) => r.headers.get('docker-content-digest'))).size, 1);
      const tags = await (await fetch(`${u}/v2/race/same/tags/list`)).json() as { tags: string[] };
      assert.equal(tags.tags.length, 20);
    });

    test('deleting a manifest while clients tag it: every answer is a clean one, and the end state is consistent', async () => {
      const u = s.url;
      const img = await pushImage(u, 'race/del', 'base');
      const statuses: number[] = [];
      for (let round = 0; round < 15; round++) {
        const rs = await Promise.all([
          fetch(`${u}/v2/race/del/manifests/${img.digest}`, { method: 'DELETE' }),
          putManifest(u, 'race/del', `r${round}`, img.manifest),
          putManifest(u, 'race/del', `q${round}`, img.manifest),
        ]);
        for (const r of rs) { statuses.push(r.status); await r.text(); }
      }
      assert.ok(statuses.every((x) => [201, 202, 404].includes(x)), `statuses: ${[...new Set(statuses)]}`);
      const tags = await (await fetch(`${u}/v2/race/del/tags/list`)).json() as { tags: string[] };
      for (const t of tags.tags) await assertWhole(u, 'race/del', t);
      // Tag history agrees: exactly the tags that exist have an open lifetime.
      const open = await s.berth.ctx.db.selectFrom('tag_history').innerJoin('repository', 'repository.id', 'tag_history.repository_id')
        .select('tag_history.name').where('repository.name', '=', 'race/del').where('tag_history.end_ts', 'is', null).execute();
      assert.deepEqual(open.map((r) => r.name).sort(), [...(tags.tags ?? [])].sort());
    });

    test('gc running beside pushes frees old garbage and never what a push just acknowledged', async () => {
      const u = s.url;
      const garbage = await pushImage(u, 'race/gc', 'garbage', 'garbage');
      assert.equal((await fetch(`${u}/v2/race/gc/manifests/${garbage.digest}`, { method: 'DELETE' })).status, 202);
      await new Promise((r) => setTimeout(r, 5100));
      let stop = false;
      let freed = 0;
      const gcLoop = (async () => {
        while (!stop) {
          freed += (await collectGarbage(s.berth.ctx, { graceSeconds: 5 })).bytesFreed;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const acked: string[] = [];
      try {
        await Promise.all(Array.from({ length: 30 }, async (_, i) => {
          await pushImage(u, 'race/gc', `p${i}`, `p${i}`);
          acked.push(`p${i}`);
        }));
      } finally {
        stop = true;
        await gcLoop;
      }
      assert.ok(freed >= garbage.layer.size + garbage.config.size, 'the old garbage was freed during the pushes');
      assert.equal(acked.length, 30);
      for (const t of acked) await assertWhole(u, 'race/gc', t);
    });
  });
}
