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
  const doc = (await m.json()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const b = await fetch(`${url}/v2/${repo}/blobs/${d}`);
    assert.equal(b.status, 200, `blob ${d} of ${repo}:${ref}`);
    assert.equal(sha256(Buffer.from(await b.arrayBuffer())), d);
  }
}

for (const dialect of await testDialects()) {
  describe(`concurrency (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect);
    });
    after(() => s.stop());

    test('the same blob and manifest pushed by 20 clients at once', async () => {
      const u = s.url;
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const config = await pushBlob(u, 'race/same', '{"same":"config"}');
          const layer = await pushBlob(u, 'race/same', 'the same layer for everyone');
          return putManifest(u, 'race/same', `t${i}`, imageManifest(config, [layer]));
        }),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(20).fill(201),
      );
      assert.equal(new Set(results.map((r) => r.headers.get('docker-content-digest'))).size, 1);
      const tags = (await (await fetch(`${u}/v2/race/same/tags/list`)).json()) as { tags: string[] };
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
        for (const r of rs) {
          statuses.push(r.status);
          await r.text();
        }
      }
      assert.ok(
        statuses.every((x) => [201, 202, 404].includes(x)),
        `statuses: ${[...new Set(statuses)]}`,
      );
      const tags = (await (await fetch(`${u}/v2/race/del/tags/list`)).json()) as { tags: string[] };
      for (const t of tags.tags) await assertWhole(u, 'race/del', t);
      // Tag history agrees: exactly the tags that exist have an open lifetime.
      const open = await s.berth.ctx.db
        .selectFrom('tag_history')
        .innerJoin('repository', 'repository.id', 'tag_history.repository_id')
        .select('tag_history.name')
        .where('repository.name', '=', 'race/del')
        .where('tag_history.end_ts', 'is', null)
        .execute();
      assert.deepEqual(open.map((r) => r.name).sort(), [...(tags.tags ?? [])].sort());
    });

    // Grace 0 collects whatever no manifest references at the moment a pass looks, so pushes are refused (cleanly)
    // and retried; what must never happen is a 500, or an acknowledged image missing a blob. test/gc-race.test.ts
    // replays the interleavings that used to do that, one at a time.
    test('gc with no grace period racing 30 pushes: nothing acknowledged is collected; a push that loses a blob is refused cleanly', async () => {
      const u = s.url;
      const garbage = await pushImage(u, 'race/gc', 'garbage', 'garbage');
      assert.equal((await fetch(`${u}/v2/race/gc/manifests/${garbage.digest}`, { method: 'DELETE' })).status, 202);
      // Grace 0: every blob no manifest references yet is fair game, including the ones a push has
      // uploaded and not yet referenced. gc must then make that push fail cleanly, never acknowledge it.
      let stop = false;
      let freed = 0;
      let passes = 0;
      let passesDuringPushes = 0;
      let pushing = 0;
      let pushEvents = 0; // push attempts started or finished
      const refusedInARow = new Map<number, number>(); // pushes still going: refusals since their first attempt
      const passWaiters: Array<() => void> = [];
      const passDone = () => new Promise<void>((r) => passWaiters.push(r));
      const gcLoop = (async () => {
        while (!stop) {
          const before = { pushing, pushEvents };
          freed += (await collectGarbage(s.berth.ctx, { graceSeconds: 0 })).bytesFreed;
          passes++;
          for (const w of passWaiters.splice(0)) w();
          // This pass overlapped the pushes: one was in flight at its start or end, or one started
          // or finished while it ran.
          if (before.pushing > 0 || pushing > 0 || pushEvents !== before.pushEvents) passesDuringPushes++;
          // A short pause between passes, as a scheduled gc has (a much longer one): passes that only examine what
          // changed take a few milliseconds, and back to back with grace 0 they would take every push's blobs
          // before its manifest could land, a livelock the retries below could never end. On a loaded machine a
          // push can need longer than 15 ms between its blobs and its manifest, so the pause doubles for every 8
          // refusals in a row of the unluckiest push still going (up to 480 ms): the race stays, the push lands.
          const streak = Math.max(0, ...refusedInARow.values());
          await new Promise((r) => setTimeout(r, 15 * Math.min(32, 2 ** Math.floor(streak / 8))));
        }
      })();
      const acked: string[] = [];
      const refusals: string[] = [];
      const refusedPerPush = new Map<string, number>();
      const release: Array<() => void> = [];
      const started = Array.from({ length: 30 }, (_, i) =>
        i === 0
          ? Promise.resolve()
          : new Promise<void>((r) => {
              release[i] = r;
            }),
      );
      try {
        await Promise.all(
          Array.from({ length: 30 }, async (_, i) => {
            // Staggered starts, each when the previous client's push began (an event, not a timer):
            // the pushes then span several gc passes instead of all landing inside the first one.
            await started[i];
            pushing++;
            pushEvents++;
            try {
              for (let attempt = 0; ; attempt++) {
                try {
                  const p = pushImage(u, 'race/gc', `p${i}`, `p${i}`);
                  p.catch(() => undefined); // handled below, after the next gc pass
                  await passDone(); // the next client waits for one more gc pass to finish
                  release[i + 1]?.();
                  await p;
                  refusedInARow.delete(i);
                  acked.push(`p${i}`);
                  return;
                } catch (e) {
                  // gc took a blob between its upload and the manifest: a clean refusal, then a retry.
                  const m = /^(?:manifest|blob) push (\d+): (.*)$/s.exec((e as Error).message);
                  assert.ok(m, `not a clean refusal: ${(e as Error).message}`);
                  // The manifest names a blob gc took (400 MANIFEST_BLOB_UNKNOWN), or gc took the data of a
                  // blob upload while it was stored (404 BLOB_UPLOAD_UNKNOWN): never a 500.
                  assert.ok(['400', '404'].includes(m[1]), (e as Error).message);
                  assert.match(m[2], /MANIFEST_BLOB_UNKNOWN|BLOB_UNKNOWN|BLOB_UPLOAD_UNKNOWN/);
                  refusals.push(`p${i}`);
                  refusedPerPush.set(`p${i}`, attempt + 1);
                  refusedInARow.set(i, attempt + 1);
                  if (attempt >= 60) throw e; // fast passes at grace 0 can take one push's blobs 20+ times in a row
                  // Retried when the pass that took its blob is over: a new pass starts at once, but the retry
                  // is not caught in the middle of one that has already listed what it will take.
                  await passDone();
                }
              }
            } finally {
              pushing--;
              pushEvents++;
            }
          }),
        );
      } finally {
        stop = true;
        await gcLoop;
      }
      assert.ok(passesDuringPushes >= 3, `gc really ran beside the pushes (${passesDuringPushes} of ${passes} passes)`);
      assert.ok(freed >= garbage.layer.size + garbage.config.size, 'the old garbage was freed during the pushes');
      assert.equal(acked.length, 30);
      for (const t of acked) await assertWhole(u, 'race/gc', t);
      // A last pass after the pushes: still nothing acknowledged goes.
      await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      for (const t of acked) await assertWhole(u, 'race/gc', t);
      console.log(
        `# gc race (${dialect}): ${passes} gc passes, ${passesDuringPushes} during the pushes, ${refusals.length} pushes refused cleanly and retried, at most ${Math.max(0, ...refusedPerPush.values())} times for one push`,
      );
    });
  });
}
