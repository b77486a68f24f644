// PostgreSQL: the row locks a manifest PUT takes on the blobs it names (services/manifest-store-pg.ts). Shared
// (FOR KEY SHARE): pushes of images that share a blob (the same config, a base layer) must not wait for each other's
// commits, which made 16 concurrent small pushes take turns on the config's row (docs/PERFORMANCE.md "PostgreSQL
// small push, fifth round"). Still strong enough for gc: a removal (FOR UPDATE, then DELETE, gc.ts removeOne) that
// holds a link makes the push wait, and the push is refused when the link went, accepted when it stayed. Each test
// holds the other side's transaction open on its own connection to the server's database.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresAvailable } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { errorCode, imageManifest, pushBlob, putManifest } from './helpers/registry-client.ts';

const REPO = 'locks/app';

/** Resolves with the PUT's response, or 'waiting' if it has not answered within `ms`. */
async function answerWithin(p: Promise<Response>, ms: number): Promise<Response | 'waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'waiting'>((r) => {
    timer = setTimeout(() => r('waiting'), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

// The skip is on each test: Node 20 does not count a skipped describe.
const pgSkip = !(await postgresAvailable()) && 'PostgreSQL is not reachable';

describe('manifest PUT row locks (postgres)', () => {
  let s: TestServer;
  let other: pg.Client;
  before(async () => {
    if (pgSkip) return; // the tests are skipped, with the reason
    s = await startServer('postgres');
    other = new pg.Client({ connectionString: s.dbUri });
    await other.connect();
  });
  after(async () => {
    await other?.end();
    await s?.stop();
  });

  test('a push does not wait for another transaction that is writing its config blob and link rows', { skip: pgSkip }, async () => {
    const config = await pushBlob(s.url, REPO, JSON.stringify({ architecture: 'amd64', os: 'linux', seed: 'shared' }));
    const layer = await pushBlob(s.url, REPO, 'layer-a');
    await other.query('begin');
    try {
      // What a push of the same blob (its upsert), or another manifest PUT that wrote them, holds until its commit.
      await other.query('update blob set last_used_at = last_used_at where digest = $1', [config.digest]);
      await other.query('update repository_blob set created_at = created_at where digest = $1', [config.digest]);
      const put = putManifest(s.url, REPO, 'a', imageManifest(config, [layer]));
      const r = await answerWithin(put, 5000);
      assert.notEqual(r, 'waiting', 'the manifest PUT waited for the other transaction');
      assert.equal((r as Response).status, 201, await (r as Response).text());
    } finally {
      await other.query('rollback');
    }
  });

  for (const removed of [true, false]) {
    test(`a push waits for a gc removal holding its layer's link, then is ${removed ? 'refused (the link went)' : 'accepted (it stayed)'}`, {
      skip: pgSkip,
    }, async () => {
      const config = await pushBlob(s.url, REPO, JSON.stringify({ architecture: 'amd64', os: 'linux', seed: `gc-${removed}` }));
      const layer = await pushBlob(s.url, REPO, `layer-gc-${removed}`);
      await other.query('begin');
      let ended = false;
      try {
        // gc.ts removeOne: the link is locked FOR UPDATE first, then deleted if still unreferenced.
        await other.query(
          'select digest from repository_blob where digest = $1 and repository_id = (select id from repository where name = $2) for update',
          [layer.digest, REPO],
        );
        if (removed)
          await other.query(
            'delete from repository_blob where digest = $1 and repository_id = (select id from repository where name = $2)',
            [layer.digest, REPO],
          );
        const put = putManifest(s.url, REPO, `gc-${removed}`, imageManifest(config, [layer]));
        assert.equal(await answerWithin(put, 500), 'waiting', 'the manifest PUT did not wait for the removal');
        await other.query('commit');
        ended = true;
        const r = await put;
        if (removed) {
          assert.equal(r.status, 400);
          assert.equal(await errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
          const m = await fetch(`${s.url}/v2/${REPO}/manifests/gc-${removed}`);
          assert.equal(m.status, 404, 'nothing of the refused manifest was kept');
        } else {
          assert.equal(r.status, 201, await r.text());
        }
      } finally {
        if (!ended) await other.query('rollback');
      }
    });
  }
});
