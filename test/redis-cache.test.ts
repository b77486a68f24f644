// The data-model cache and pull statistics with a real redis-server (our own, on a random port) shared by
// two Berth replicas on one PostgreSQL database: a change made through one holds on the other within one
// second; tokens issued by one are accepted (and, once revoked, refused) by the other; pulls are counted in
// Redis and reach the database only in a flush; with Redis killed, both keep serving from the database.
// Also: the in-memory engine on SQLite (the laptop start), and config errors.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig, ConfigError } from '../src/config/load.ts';
import { createPostgresDatabase, postgresAvailable } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { redisServerMissing, startRedis, type TestRedis } from './helpers/redis.ts';
import { api, basic } from './helpers/accounts.ts';
import { REPLICA_SERVICE, startReplica as startSharedReplica, type Replica } from './helpers/replicas.ts';
import { imageManifest, sha256 } from './helpers/registry-client.ts';
import { InMemoryCache } from '../src/cache/memory.ts';
import { RedisCache } from '../src/cache/redis.ts';
import { RedisConnection, RedisHealth } from '../src/cache/redis-connection.ts';

const SERVICE = REPLICA_SERVICE;
const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'password-123';
const OWNER: [string, string] = ['owner', PW];
const READER: [string, string] = ['reader', PW];

/** A replica on the shared database and Redis, pull counts in Redis flushed only by the test; its log kept. */
const startReplica = (dir: string, dbUri: string, redis: TestRedis, extra: Record<string, unknown> = {}): Promise<Replica> =>
  startSharedReplica(
    dir,
    dbUri,
    redis,
    ADMIN,
    {
      PULL_METRICS_REDIS: redis.primary,
      PULL_METRICS_FLUSH_SECONDS: 3600, // flushed by the test, so it can look at the database in between
      ...extra,
    },
    { logs: true },
  );

async function token(r: { url: string }, scope: string, creds?: [string, string]): Promise<{ status: number; token?: string }> {
  const q = new URLSearchParams({ service: SERVICE, scope });
  const res = await fetch(`${r.url}/v2/auth?${q}`, { headers: creds ? { authorization: basic(...creds) } : {} });
  const body = (await res.json()) as { token?: string };
  return { status: res.status, token: body.token };
}

const bearer = (t: string | undefined) => ({ authorization: `Bearer ${t}` });

async function pushImage(r: Replica, repo: string, tag: string, seed: string, t: string): Promise<string> {
  const blob = async (data: Buffer) => {
    const digest = sha256(data);
    const res = await fetch(`${r.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...bearer(t), 'content-type': 'application/octet-stream' },
      body: new Uint8Array(data),
    });
    assert.equal(res.status, 201, await res.text());
    return { digest, size: data.length, bytes: data };
  };
  const config = await blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed })));
  const layer = await blob(Buffer.from(`layer ${seed}`));
  const res = await fetch(`${r.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...bearer(t), 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: new Uint8Array(imageManifest(config, [layer])),
  });
  assert.equal(res.status, 201, await res.text());
  return res.headers.get('docker-content-digest')!;
}

/** Polls `probe` until it returns true; resolves with the milliseconds it took (fails after `limitMs`). */
async function within(limitMs: number, what: string, probe: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) assert.fail(`${what}: not true after ${limitMs} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

async function metric(r: Replica, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const skipReplicas = redisServerMissing() ?? ((await postgresAvailable()) ? undefined : 'PostgreSQL is not reachable at 127.0.0.1:5432');

describe('two replicas with one Redis and one PostgreSQL', () => {
  let redis: TestRedis;
  let db: { uri: string; drop(): Promise<void> };
  let dir: string;
  let a: Replica;
  let b: Replica;
  let ownerToken: string;
  let robot: { name: string; token: string };

  before(async () => {
    if (skipReplicas) return; // the tests are skipped, with the reason
    dir = mkdtempSync(path.join(tmpdir(), 'berth-redis-cache-'));
    redis = await startRedis();
    db = await createPostgresDatabase();
    a = await startReplica(dir, db.uri, redis);
    b = await startReplica(dir, db.uri, redis);
    for (const u of ['owner', 'reader']) assert.equal((await api(a, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
    assert.equal((await api(a, 'POST', '/organization/', OWNER, { name: 'acme' })).status, 201);
    assert.equal((await api(a, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'app', visibility: 'private' })).status, 201);
    assert.equal((await api(a, 'PUT', '/repository/acme/app/permissions/user/reader', OWNER, { role: 'read' })).status, 200);
    const r = await api(a, 'PUT', '/organization/acme/robots/ci', OWNER);
    assert.equal(r.status, 201);
    robot = { name: r.json.name, token: r.json.token };
    assert.equal((await api(a, 'PUT', '/repository/acme/app/permissions/user/acme+ci', OWNER, { role: 'write' })).status, 200);
    ownerToken = (await token(a, 'repository:acme/app:pull,push,delete', OWNER)).token!;
  });

  after(async () => {
    await a?.berth.close();
    await b?.berth.close();
    await redis?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const manifestDigest = async (r: Replica, ref: string, t = ownerToken) => {
    const res = await fetch(`${r.url}/v2/acme/app/manifests/${ref}`, {
      headers: { ...bearer(t), accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    await res.arrayBuffer();
    return res.status === 200 ? res.headers.get('docker-content-digest') : res.status;
  };

  test('a tag pushed, moved or deleted through one replica is what the other serves within one second', {
    skip: skipReplicas,
  }, async () => {
    const d1 = await pushImage(a, 'acme/app', 'v1', 'one', ownerToken);
    assert.equal(await manifestDigest(b, 'v1'), d1); // now cached on b (and in Redis)
    assert.equal(await manifestDigest(b, 'v1'), d1);
    // The lookup really went through the shared cache: the tag's entry is in Redis.
    const keys = await b.berth.redis.connections[0].client.keys('berth:cache:v:tags:acme/app:*');
    assert.equal(keys.length, 1);
    assert.ok(await b.berth.redis.connections[0].client.hexists(keys[0], 'v1'));
    const d2 = await pushImage(a, 'acme/app', 'v1', 'two', ownerToken);
    assert.notEqual(d1, d2);
    await within(1000, 'b serves the pushed tag', async () => (await manifestDigest(b, 'v1')) === d2);
    assert.equal((await api(a, 'PUT', '/repository/acme/app/tag/v1', OWNER, { manifest_digest: d1 })).status, 201);
    await within(1000, 'b serves the moved tag', async () => (await manifestDigest(b, 'v1')) === d1);
    assert.equal((await api(b, 'DELETE', '/repository/acme/app/tag/v1', OWNER)).status, 204);
    await within(1000, 'a no longer serves the deleted tag', async () => (await manifestDigest(a, 'v1')) === 404);
    await pushImage(b, 'acme/app', 'v1', 'one', ownerToken);
    await within(1000, 'a serves the tag pushed again through b', async () => (await manifestDigest(a, 'v1')) === d1);
  });

  test('a tag list kept whole on one replica (and in Redis) follows tag writes through the other within one second', {
    skip: skipReplicas,
  }, async () => {
    const listed = async (r: Replica, first = '/v2/acme/app/tags/list?n=1') => {
      const names: string[] = [];
      for (let next: string | null = first; next; ) {
        const res: Response = await fetch(`${r.url}${next}`, { headers: bearer(ownerToken) });
        assert.equal(res.status, 200);
        names.push(...((await res.json()) as { tags: string[] }).tags);
        next = res.headers.get('link')?.match(/^<([^>]+)>/)?.[1] ?? null;
      }
      return names.join(',');
    };
    await pushImage(a, 'acme/app', 'list-a', 'list-a', ownerToken);
    await pushImage(a, 'acme/app', 'list-b', 'list-b', ownerToken);
    const before = await listed(b);
    assert.ok(before.includes('list-a,list-b'), before);
    // The walk past the first page stored the whole list: in Redis, where a (whose memory does not have it) reads it.
    const redisClient = b.berth.redis.connections[0].client;
    const gen = Number((await redisClient.hget('berth:cache:gen', 'tags:acme/app')) ?? 0);
    assert.ok(await redisClient.hexists(`berth:cache:v:tags:acme/app:${gen}`, ':list'));
    assert.equal(typeof (await manifestDigest(a, 'list-b')), 'string'); // the token and role now in a's memory too
    const statements = a.berth.database.queries.count;
    assert.equal(await listed(a, '/v2/acme/app/tags/list'), before);
    assert.equal(a.berth.database.queries.count, statements, 'a read the list from Redis, not from the database');
    await pushImage(a, 'acme/app', 'list-c', 'list-c', ownerToken);
    await within(1000, 'b lists the tag pushed through a', async () => (await listed(b)).includes('list-b,list-c'));
    const del = await fetch(`${b.url}/v2/acme/app/manifests/list-a`, { method: 'DELETE', headers: bearer(ownerToken) });
    assert.equal(del.status, 202);
    await within(1000, 'a no longer lists the tag deleted through b', async () => !(await listed(a)).includes('list-a'));
    assert.equal(await listed(a), await listed(b));
  });

  test('a token issued by one replica is accepted by the other; a revoked permission refuses it there within one second', {
    skip: skipReplicas,
  }, async () => {
    const t = await token(a, 'repository:acme/app:pull', READER);
    assert.equal(t.status, 200);
    assert.equal(await manifestDigest(b, 'v1', t.token), await manifestDigest(a, 'v1'));
    assert.equal((await api(a, 'DELETE', '/repository/acme/app/permissions/user/reader', OWNER)).status, 204);
    await within(1000, 'b refuses the revoked reader', async () => (await manifestDigest(b, 'v1', t.token)) === 403);
    const again = await fetch(`${b.url}/v2/acme/app/manifests/v1`, { headers: bearer(t.token) });
    assert.equal(again.status, 403);
    assert.match(await again.text(), /DENIED.*no longer has read permission/s);
    // A new token asked of either replica grants nothing now.
    const fresh = await token(b, 'repository:acme/app:pull', READER);
    assert.equal(await manifestDigest(b, 'v1', fresh.token), 403);
    // Granted again through b: a honours it within one second.
    assert.equal((await api(b, 'PUT', '/repository/acme/app/permissions/user/reader', OWNER, { role: 'read' })).status, 200);
    const t2 = await token(b, 'repository:acme/app:pull', READER);
    await within(1000, 'a accepts the reader again', async () => typeof (await manifestDigest(a, 'v1', t2.token)) === 'string');
  });

  test('a robot token regenerated on one replica is refused by the other within one second, and so are registry tokens issued for it', {
    skip: skipReplicas,
  }, async () => {
    const before = await token(b, 'repository:acme/app:pull,push', [robot.name, robot.token]);
    assert.equal(before.status, 200);
    assert.equal(typeof (await manifestDigest(a, 'v1', before.token)), 'string');
    const regen = await api(a, 'POST', '/organization/acme/robots/ci/regenerate', OWNER);
    assert.equal(regen.status, 200);
    await within(
      1000,
      'b refuses the registry token of the old robot token',
      async () => (await manifestDigest(b, 'v1', before.token)) === 401,
    );
    assert.equal((await token(b, 'repository:acme/app:pull', [robot.name, robot.token])).status, 401);
    const after = await token(b, 'repository:acme/app:pull', [robot.name, regen.json.token]);
    assert.equal(after.status, 200);
    assert.equal(typeof (await manifestDigest(a, 'v1', after.token)), 'string');
    robot.token = regen.json.token;
  });

  test('a visibility change on one replica holds on the other within one second', { skip: skipReplicas }, async () => {
    const anon = () => token(b, 'repository:acme/app:pull');
    assert.equal(await manifestDigest(b, 'v1', (await anon()).token), 403);
    assert.equal((await api(a, 'POST', '/repository/acme/app/changevisibility', OWNER, { visibility: 'public' })).status, 200);
    await within(
      1000,
      'b serves the now public repository anonymously',
      async () => typeof (await manifestDigest(b, 'v1', (await anon()).token)) === 'string',
    );
    assert.equal((await api(a, 'POST', '/repository/acme/app/changevisibility', OWNER, { visibility: 'private' })).status, 200);
    await within(1000, 'b refuses anonymous pulls again', async () => (await manifestDigest(b, 'v1', (await anon()).token)) === 403);
  });

  test('pulls are counted in Redis, reach PostgreSQL only in a flush, and add up over both replicas', { skip: skipReplicas }, async () => {
    await a.berth.ctx.pulls!.flush();
    await a.berth.ctx.db.deleteFrom('tag_pull_stats').execute();
    await a.berth.ctx.db.deleteFrom('manifest_pull_stats').execute();
    const digest = (await manifestDigest(a, 'v1')) as string; // one pull through a
    for (let i = 0; i < 2; i++) assert.equal(await manifestDigest(a, 'v1'), digest);
    for (let i = 0; i < 2; i++) assert.equal(await manifestDigest(b, 'v1'), digest);
    assert.equal(await manifestDigest(b, digest), digest); // by digest: the manifest's count only
    const head = await fetch(`${b.url}/v2/acme/app/manifests/v1`, { method: 'HEAD', headers: bearer(ownerToken) });
    assert.equal(head.status, 200); // a HEAD is not a pull
    assert.equal((await a.berth.ctx.db.selectFrom('tag_pull_stats').selectAll().execute()).length, 0, 'nothing written before a flush');
    const stats = await within(
      2000,
      'counted in Redis',
      async () => Number(await a.berth.redis.pullMetrics!.client.hlen('berth:pulls:count')) > 0,
    );
    assert.ok(stats >= 0);
    assert.equal(await b.berth.ctx.pulls!.flush(), 6);
    assert.equal(await a.berth.ctx.pulls!.flush(), 0, 'a second flush finds nothing left');
    const t = await api(a, 'GET', '/repository/acme/app/tag/v1/pull_statistics', READER);
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.tag_name, 'v1');
    assert.equal(t.json.tag_pull_count, 5);
    assert.equal(t.json.current_manifest_digest, digest);
    assert.equal(t.json.manifest_pull_count, 6);
    assert.match(t.json.last_tag_pull_date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const m = await api(b, 'GET', `/repository/acme/app/manifest/${digest}/pull_statistics`, READER);
    assert.deepEqual(Object.keys(m.json).sort(), ['last_manifest_pull_date', 'manifest_digest', 'manifest_pull_count']);
    assert.equal(m.json.manifest_pull_count, 6);
    // Bad paths: unknown tag, a digest that is not one, no read permission.
    assert.equal((await api(a, 'GET', '/repository/acme/app/tag/nope/pull_statistics', READER)).status, 404);
    assert.equal((await api(a, 'GET', '/repository/acme/app/manifest/latest/pull_statistics', READER)).status, 400);
    assert.equal((await api(a, 'GET', '/repository/acme/app/tag/v1/pull_statistics')).status, 401);
  });

  test('deleting an organization drops the manifests by tag of its repositories on every replica', { skip: skipReplicas }, async () => {
    assert.equal((await api(a, 'POST', '/organization/', OWNER, { name: 'gone' })).status, 201);
    const t1 = (await token(a, 'repository:gone/x:pull,push', OWNER)).token!;
    await pushImage(a, 'gone/x', 'v1', 'gone', t1);
    const get = async (r: Replica, t: string) => (await fetch(`${r.url}/v2/gone/x/manifests/v1`, { headers: bearer(t) })).status;
    assert.equal(await get(b, t1), 200); // cached on b
    assert.equal((await api(a, 'DELETE', '/organization/gone', OWNER)).status, 204);
    assert.equal((await api(b, 'POST', '/organization/', OWNER, { name: 'gone' })).status, 201);
    assert.equal((await api(b, 'POST', '/repository', OWNER, { namespace: 'gone', repository: 'x', visibility: 'private' })).status, 201);
    const t2 = (await token(b, 'repository:gone/x:pull', OWNER)).token!;
    await within(1000, "b no longer serves the deleted repository's tag", async () => (await get(b, t2)) === 404);
  });

  test('a repo_push notification created on one replica is queued by a push through the other within one second', {
    skip: skipReplicas,
  }, async () => {
    // b learns (and caches) that acme/app has no push notification, then a creates one.
    await pushImage(b, 'acme/app', 'notif-0', 'notif-0', ownerToken);
    const created = await api(a, 'POST', '/repository/acme/app/notification/', OWNER, {
      event: 'repo_push',
      method: 'webhook',
      config: { url: 'http://127.0.0.1:9/never' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const queued = async () => {
      const n = await a.berth.ctx.db
        .selectFrom('notification_delivery')
        .innerJoin('repo_notification', 'repo_notification.id', 'notification_delivery.notification_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('repo_notification.uuid', '=', created.json.uuid)
        .executeTakeFirstOrThrow();
      return Number(n.n);
    };
    let i = 0;
    await within(1000, 'a push through b queues the new notification', async () => {
      await pushImage(b, 'acme/app', `notif-${++i}`, `notif-${i}`, ownerToken);
      return (await queued()) > 0;
    });
    assert.equal((await api(a, 'DELETE', `/repository/acme/app/notification/${created.json.uuid}`, OWNER)).status, 204);
  });

  test('Redis killed: both replicas serve from the database, log it once, export berth_redis_up 0; back: 1', {
    skip: skipReplicas,
  }, async () => {
    assert.equal(await metric(a, 'berth_redis_up'), 1);
    await redis.kill();
    await within(5000, 'a notices', async () => (await metric(a, 'berth_redis_up')) === 0);
    await within(5000, 'b notices', async () => (await metric(b, 'berth_redis_up')) === 0);
    // Changes still hold across replicas: both read the database.
    const d3 = await pushImage(a, 'acme/app', 'v1', 'three', ownerToken);
    assert.equal(await manifestDigest(b, 'v1'), d3);
    assert.equal((await api(b, 'DELETE', '/repository/acme/app/permissions/user/reader', OWNER)).status, 204);
    const t = await token(b, 'repository:acme/app:pull', READER);
    assert.equal(await manifestDigest(a, 'v1', t.token), 403);
    // Pulls are counted in memory meanwhile and flushed to the database.
    assert.equal(await manifestDigest(b, 'v1'), d3);
    assert.equal(await b.berth.ctx.pulls!.flush(), 2, 'both pulls through b since Redis went down');
    const down = a.logs.filter((l) => l.includes('"event":"redis_down"'));
    assert.equal(down.length, 1, `logged once, not per connection or retry:\n${down.join('')}`);
    await redis.restart();
    await within(8000, 'a reconnects', async () => (await metric(a, 'berth_redis_up')) === 1);
    await within(8000, 'b reconnects', async () => (await metric(b, 'berth_redis_up')) === 1);
    assert.equal(a.logs.filter((l) => l.includes('"event":"redis_up"')).length, 1);
    // The cache is in use again, and invalidations flow again.
    const d4 = await pushImage(a, 'acme/app', 'v1', 'four', ownerToken);
    await within(1000, 'b serves the tag pushed after Redis came back', async () => (await manifestDigest(b, 'v1')) === d4);
    assert.equal(await manifestDigest(b, 'v1'), d4);
  });
});

describe('without Redis (the laptop start)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('sqlite', {}, { config: { PULL_METRICS_FLUSH_SECONDS: 3600 } });
  });
  after(async () => {
    await s?.stop();
  });

  test('the in-memory engine serves tag moves at once, pulls are counted in memory and flushed in batches, no berth_redis_up', async () => {
    assert.equal(s.berth.ctx.cache?.engine, 'inmemory');
    const push = async (seed: string) => {
      const blob = async (data: Buffer) => {
        const digest = sha256(data);
        assert.equal(
          (await fetch(`${s.url}/v2/lap/top/blobs/uploads/?digest=${digest}`, { method: 'POST', body: new Uint8Array(data) })).status,
          201,
        );
        return { digest, size: data.length, bytes: data };
      };
      const m = imageManifest(await blob(Buffer.from(`{"seed":"${seed}"}`)), [await blob(Buffer.from(seed))]);
      const r = await fetch(`${s.url}/v2/lap/top/manifests/latest`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: new Uint8Array(m),
      });
      assert.equal(r.status, 201);
      return r.headers.get('docker-content-digest');
    };
    const get = async () => (await fetch(`${s.url}/v2/lap/top/manifests/latest`)).headers.get('docker-content-digest');
    const d1 = await push('a');
    assert.equal(await get(), d1);
    const d2 = await push('b');
    assert.equal(await get(), d2);
    assert.equal((await s.berth.ctx.db.selectFrom('manifest_pull_stats').selectAll().execute()).length, 0);
    assert.equal(await s.berth.ctx.pulls!.flush(), 2);
    const rows = await s.berth.ctx.db.selectFrom('tag_pull_stats').selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].tag_pull_count, 2);
    assert.equal(rows[0].current_manifest_digest, d2);
    assert.doesNotMatch(await (await fetch(`${s.url}/metrics`)).text(), /berth_redis_up/);
  });

  test('a lookup that raced a write is returned but never kept (in memory and in Redis)', { skip: redisServerMissing() }, async () => {
    const redis = await startRedis();
    try {
      const engines = [new InMemoryCache(60)];
      const conn = new RedisConnection({ host: '127.0.0.1', port: redis.port, ssl: false }, 'test', new RedisHealth());
      const sub = new RedisConnection({ host: '127.0.0.1', port: redis.port, ssl: false }, 'test-sub', new RedisHealth(), {
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
      });
      const rc = new RedisCache(conn, sub, 60, `berth:test:${process.pid}:`);
      await conn.ready(5000);
      await within(5000, 'subscribed', async () => rc.usable);
      engines.push(rc as unknown as InMemoryCache);
      for (const cache of engines) {
        let db = 'old';
        let loads = 0;
        let release!: () => void;
        let started!: () => void;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        const loading = new Promise<void>((r) => {
          started = r;
        });
        const slow = cache.fetch('g', 'k', async () => {
          loads++;
          const v = db;
          started();
          await gate;
          return v;
        });
        // The write commits and invalidates while the slow lookup still holds the old value.
        await loading;
        db = 'new';
        await cache.invalidate('g');
        release();
        assert.equal(await slow, 'old');
        assert.equal(
          await cache.fetch('g', 'k', async () => {
            loads++;
            return db;
          }),
          'new',
          cache.engine,
        );
        assert.equal(
          await cache.fetch('g', 'k', async () => {
            loads++;
            return db;
          }),
          'new',
        );
        assert.equal(loads, 2, `${cache.engine}: the second lookup loaded, the third was a hit`);
      }
      await rc.close();
    } finally {
      await redis.stop();
    }
  });

  test('config: engine redis needs redis_config.primary; bad engines and ports are named', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-redis-config-'));
    try {
      const load = (doc: unknown) => {
        const file = path.join(dir, 'c.yaml');
        writeFileSync(file, stringifyYaml(doc));
        try {
          loadConfig({ file, data: dir, env: {} });
          return '';
        } catch (e) {
          assert.ok(e instanceof ConfigError);
          return e.message;
        }
      };
      assert.match(
        load({ DATA_MODEL_CACHE_CONFIG: { engine: 'redis' } }),
        /DATA_MODEL_CACHE_CONFIG\.redis_config\.primary: required when engine is redis/,
      );
      assert.match(
        load({ DATA_MODEL_CACHE_CONFIG: { engine: 'memcached' } }),
        /DATA_MODEL_CACHE_CONFIG\.engine: unsupported engine "memcached" \(supported: inmemory, redis, none\)/,
      );
      assert.match(load({ PULL_METRICS_REDIS: { host: 'r', port: 70000 } }), /PULL_METRICS_REDIS\.port/);
      assert.match(load({ PULL_METRICS_REDIS: { port: 6379 } }), /PULL_METRICS_REDIS\.host: required/);
      assert.equal(
        load({
          DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: { host: 'r', port: 6380, password: 'p', ssl: true } } },
        }),
        '',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
