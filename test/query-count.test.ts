// Queries per request on the read path, counted on the server's own database handle (src/db/query-counter.ts):
// a manifest GET by tag, a blob HEAD and a blob GET, by a user with a granted (not owned) role on an
// organization's repository, through the Docker token flow, on SQLite and PostgreSQL, with the default
// in-memory data-model cache and with the cache off (DATA_MODEL_CACHE_CONFIG engine none). Pull counts and audit
// entries are written in batches off the request path (one statement per flush), so their flushes are pushed past
// the measurement here.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, registryToken } from './helpers/accounts.ts';
import { imageManifest, sha256, type Pushed } from './helpers/registry-client.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const BOB: [string, string] = ['bob', 'bob-password-1'];
const REPO = 'acme/app';
const ROUNDS = 20;

/**
 * Statements per small push (POST, PUT ?digest= of a new layer, PUT of a manifest by a new tag; the scanner off):
 * 1 + 6 + 10 (docs/PERFORMANCE.md "Small pushes, third round" and "fourth round"; the blob PUT also records the new
 * link as a gc candidate, services/gc-candidates.ts; the manifest PUT checks its blobs with the two updates that touch
 * them; the push notification lookup is answered by the data-model cache once the repository is known to have none,
 * else it finds the repository in its one statement). With the cache off three more on
 * each of the three requests (the token's standing and the repository's permissions); a background statement
 * that lands in the count now and then is what BACKGROUND allows. PostgreSQL: two fewer, the blob PUT's upload-row
 * delete, blob upsert, link and gc candidate are one statement there (data-modifying WITH, services/blob-links.ts);
 * the manifest PUT's repository, id, blob check, insert, references, tag rules and tag row one more
 * (services/manifest-store-pg.ts), and a new tag's lifetime read and start one (services/tag-history.ts), and the
 * blob PUT finds its repository by name in the statement that records the blob (services/blob-links.ts): POST 1,
 * blob PUT 2, manifest PUT 2 (docs/PERFORMANCE.md "PostgreSQL small push, fifth round" and "sixth round (pgpush5)").
 */
const PUSH_BASE = { sqlite: 17, postgres: 5 } as const;
/**
 * With the scanner on (its workers off here: their statements are per batch of jobs, not per push), a new manifest's
 * scan job is written in the manifest PUT's transaction: one insert more on SQLite; none on PostgreSQL, where an
 * image's job is part of the manifest statement (services/manifest-store-pg.ts; docs/PERFORMANCE.md "PostgreSQL small
 * push, seventh round").
 */
const SCAN_JOB = { sqlite: 1, postgres: 0 } as const;

/**
 * With the cache off, the notification lookup too (with the cache, a repository known to have no enabled repo_push
 * notification asks no database: services/notifications/service.ts).
 */
const pushLimit = (dialect: keyof typeof PUSH_BASE, engine: 'inmemory' | 'none') =>
  PUSH_BASE[dialect] + (engine === 'none' ? 3 * 3 + 1 : 0);

/**
 * A background statement (PostgreSQL's replica heartbeat, a poller) that lands inside a measurement adds 1/ROUNDS
 * to the mean; one statement more per request adds 1. The limits allow the first, never the second.
 */
const BACKGROUND = 0.25;

/** Limits per request once the first request has filled the caches. */
const LIMITS = {
  inmemory: { manifestByTag: 0, blobHead: 1, blobGet: 1 },
  none: { manifestByTag: 2, blobHead: 2, blobGet: 2 },
} as const;

/**
 * Tag list pages (services/listing.ts): a first page of a given size is one statement (the repository's id in a
 * subquery); with the cache, a page after it (`last=`) or the whole list is answered from the repository's cached
 * list once one request has loaded it. With the cache off, one more (the caller's standing and role, as on a manifest GET).
 */
const TAG_LIST_LIMITS = {
  inmemory: { firstPage: 1, laterPage: 0, wholeList: 0 },
  none: { firstPage: 1 + 1, laterPage: 1 + 1, wholeList: 1 + 1 },
} as const;

async function push(s: TestServer, auth: string, data: string): Promise<Pushed> {
  const digest = sha256(data);
  const post = await fetch(`${s.url}/v2/${REPO}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
  assert.equal(post.status, 202, await post.text());
  const loc = new URL(post.headers.get('location')!, s.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: data, headers: { authorization: auth, 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201, await put.text());
  return { digest, size: Buffer.byteLength(data), bytes: Buffer.from(data) };
}

for (const dialect of await testDialects()) {
  for (const engine of ['inmemory', 'none'] as const) {
    describe(`queries per request (${dialect}, cache ${engine})`, () => {
      let s: TestServer;
      let auth: string;
      let layer: Pushed;

      before(async () => {
        s = await startServer(
          dialect,
          {},
          {
            auth: true,
            config: {
              BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
              // Pull counts and audit entries are written in batches, off the request path: not within these requests.
              AUDIT_LOG_FLUSH_MS: 60_000,
              PULL_METRICS_FLUSH_SECONDS: 3600,
              // Background pollers (the scanner's queue, notification delivery) would land in the count too.
              FEATURE_SECURITY_SCANNER: false,
              NOTIFICATION_POLL_SECONDS: 3600,
              ...(engine === 'none' ? { DATA_MODEL_CACHE_CONFIG: { engine: 'none' } } : {}),
            },
          },
        );
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: BOB[0], password: BOB[1] })).status, 201);
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
        assert.equal(
          (await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: 'app', visibility: 'private' })).status,
          201,
        );
        assert.equal((await api(s, 'PUT', `/repository/${REPO}/permissions/user/bob`, ADMIN, { role: 'write' })).status, 200);
        const t = await registryToken(s, [`repository:${REPO}:pull,push`], BOB);
        assert.ok(t.token, `token: HTTP ${t.status}`);
        auth = `Bearer ${t.token}`;
        const config = await push(s, auth, JSON.stringify({ architecture: 'amd64', os: 'linux' }));
        layer = await push(s, auth, `layer-${'x'.repeat(1000)}`);
        const put = await fetch(`${s.url}/v2/${REPO}/manifests/v1`, {
          method: 'PUT',
          body: new Uint8Array(imageManifest(config, [layer])),
          headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        });
        assert.equal(put.status, 201, await put.text());
      });
      after(async () => {
        await s?.stop();
      });

      /** Statements per request over ROUNDS requests, after one request that may fill caches. */
      async function perRequest(method: string, path: string, expectBytes?: number): Promise<number> {
        const once = async () => {
          const r = await fetch(`${s.url}${path}`, {
            method,
            headers: { authorization: auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
          });
          assert.equal(r.status, 200, `${method} ${path}: ${r.status}`);
          const body = Buffer.from(await r.arrayBuffer());
          if (expectBytes !== undefined) assert.equal(body.length, expectBytes);
        };
        await once();
        const before = s.berth.database.queries.count;
        for (let i = 0; i < ROUNDS; i++) await once();
        return (s.berth.database.queries.count - before) / ROUNDS;
      }

      test('the counter counts: a request that must read the database moves it', async () => {
        const before = s.berth.database.queries.count;
        const r = await fetch(`${s.url}/v2/${REPO}/blobs/${layer.digest}`, { method: 'HEAD', headers: { authorization: auth } });
        assert.equal(r.status, 200);
        assert.ok(s.berth.database.queries.count > before, 'a blob HEAD reads the database at least once');
      });

      test(`manifest GET by tag: at most ${LIMITS[engine].manifestByTag} queries`, async () => {
        const n = await perRequest('GET', `/v2/${REPO}/manifests/v1`);
        assert.ok(n <= LIMITS[engine].manifestByTag + BACKGROUND, `${n} queries per manifest GET by tag`);
      });

      test(`blob HEAD: at most ${LIMITS[engine].blobHead} queries`, async () => {
        const n = await perRequest('HEAD', `/v2/${REPO}/blobs/${layer.digest}`);
        assert.ok(n <= LIMITS[engine].blobHead + BACKGROUND, `${n} queries per blob HEAD`);
      });

      test(`small push (POST, PUT ?digest=, manifest PUT): at most ${pushLimit(dialect, engine)} queries`, async () => {
        const pushOnce = async (i: number) => {
          const l = await push(s, auth, `small-layer-${engine}-${i}-${'y'.repeat(4096)}`);
          const config = { digest: layer.digest, size: layer.size, bytes: layer.bytes };
          const r = await fetch(`${s.url}/v2/${REPO}/manifests/small-${i}`, {
            method: 'PUT',
            body: new Uint8Array(imageManifest(config, [l])),
            headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          });
          assert.equal(r.status, 201, await r.text());
        };
        await pushOnce(0);
        const before = s.berth.database.queries.count;
        for (let i = 1; i <= ROUNDS; i++) await pushOnce(i);
        const n = (s.berth.database.queries.count - before) / ROUNDS;
        assert.ok(n <= pushLimit(dialect, engine) + BACKGROUND, `${n} queries per small push`);
      });

      test(`blob GET: at most ${LIMITS[engine].blobGet} queries`, async () => {
        const n = await perRequest('GET', `/v2/${REPO}/blobs/${layer.digest}`, layer.size);
        assert.ok(n <= LIMITS[engine].blobGet + BACKGROUND, `${n} queries per blob GET`);
      });

      test(`tag list: a first page at most ${TAG_LIST_LIMITS[engine].firstPage}, a later page ${TAG_LIST_LIMITS[engine].laterPage}, the whole list ${TAG_LIST_LIMITS[engine].wholeList} queries`, async () => {
        const limits = TAG_LIST_LIMITS[engine];
        const first = await perRequest('GET', `/v2/${REPO}/tags/list?n=1`);
        assert.ok(first <= limits.firstPage + BACKGROUND, `${first} queries per first page`);
        // The answers are right, not just cheap: a later page starts after last, the whole list has every tag.
        const later = await fetch(`${s.url}/v2/${REPO}/tags/list?n=1&last=small-0`, { headers: { authorization: auth } });
        assert.equal(later.status, 200);
        assert.deepEqual(((await later.json()) as { tags: string[] }).tags, ['small-1']);
        const n = await perRequest('GET', `/v2/${REPO}/tags/list?n=1&last=small-0`);
        assert.ok(n <= limits.laterPage + BACKGROUND, `${n} queries per later page`);
        const whole = await perRequest('GET', `/v2/${REPO}/tags/list`);
        assert.ok(whole <= limits.wholeList + BACKGROUND, `${whole} queries per whole list`);
      });
    });
  }
}

for (const dialect of await testDialects()) {
  describe(`queries per small push with the scanner's queue on (${dialect})`, () => {
    let s: TestServer;
    let auth: string;
    let config: Pushed;

    before(async () => {
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
            AUDIT_LOG_FLUSH_MS: 60_000,
            PULL_METRICS_FLUSH_SECONDS: 3600,
            FEATURE_SECURITY_SCANNER: true,
            SCANNER_WORKERS: 0,
            NOTIFICATION_POLL_SECONDS: 3600,
          },
        },
      );
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
      const t = await registryToken(s, [`repository:${REPO}:pull,push`], ADMIN);
      assert.ok(t.token, `token: HTTP ${t.status}`);
      auth = `Bearer ${t.token}`;
      config = await push(s, auth, JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    });
    after(async () => {
      await s?.stop();
    });

    test(`small push: at most ${PUSH_BASE[dialect] + SCAN_JOB[dialect]} queries, and each pushed manifest is queued for scanning`, async () => {
      const pushOnce = async (i: number) => {
        const l = await push(s, auth, `scanned-layer-${i}-${'z'.repeat(4096)}`);
        const r = await fetch(`${s.url}/v2/${REPO}/manifests/scan-${i}`, {
          method: 'PUT',
          body: new Uint8Array(imageManifest(config, [l])),
          headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        });
        assert.equal(r.status, 201, await r.text());
        return r.headers.get('docker-content-digest')!;
      };
      await pushOnce(0);
      const before = s.berth.database.queries.count;
      const digests: string[] = [];
      for (let i = 1; i <= ROUNDS; i++) digests.push(await pushOnce(i));
      const n = (s.berth.database.queries.count - before) / ROUNDS;
      assert.ok(n <= PUSH_BASE[dialect] + SCAN_JOB[dialect] + BACKGROUND, `${n} queries per small push`);
      const jobs = await s.berth.ctx.db.selectFrom('scan_job').select(['manifest_digest', 'repository', 'state', 'attempts']).execute();
      const byDigest = new Map(jobs.map((j) => [j.manifest_digest, j]));
      for (const d of digests) {
        const j = byDigest.get(d);
        assert.ok(j, `${d} has a scan job`);
        assert.equal(j.state, 'queued');
        assert.equal(j.repository, REPO);
        assert.equal(Number(j.attempts), 0);
      }
    });
  });
}
