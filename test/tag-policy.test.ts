// Tag expiration and immutable tags (docs/TAGS.md): the quay.expires-after label (OCI and Docker configs, pushed
// with skopeo) sets a tag's expiration; PUT …/tag/{tag} with `expiration` sets or clears it; a tag whose expiration
// passes is gone from every read (moving the server's clock, no sleeps), stays in history, is restorable and gc
// collects its blobs after the window. Immutability policies refuse overwrite pushes, moves, restores, deletes
// and expirations, allow re-pushing the same digest, and refuse bad patterns. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, host, registryToken } from './helpers/accounts.ts';
import { buildImage, writeDirLayout, writeOciLayout, type BuiltImage } from './helpers/images.ts';
import { run, ContainerSandbox } from './helpers/exec.ts';
import { collectGarbage } from '../src/services/gc.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { compileTagPattern, BadTagPattern } from '../src/services/tag-rules.ts';
import { parseExpiresAfter } from '../src/services/tag-expiry.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const WRITER: [string, string] = ['writer', 'writer-password-1'];
const READER: [string, string] = ['reader', 'reader-password-1'];
const HOUR = 3600_000;

async function image(format: 'oci' | 'docker', seed: string, labels: Record<string, string> = {}): Promise<BuiltImage> {
  return buildImage({ format, layers: [{ 'seed.txt': `${seed} ${Math.random()}\n` }], labels });
}

/** Pushes with skopeo (OCI layout or, for Docker images, a dir: layout); returns the result for stderr checks. */
async function skopeoPush(sb: ContainerSandbox, s: TestServer, img: BuiltImage, ref: string, creds = ADMIN) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-tagpolicy-'));
  let src: string;
  if (img.format === 'oci') {
    writeOciLayout(dir, { t: img });
    src = `oci:${dir}:t`;
  } else {
    writeDirLayout(dir, img);
    src = `dir:${dir}`;
  }
  return run(
    'skopeo',
    ['copy', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${creds[0]}:${creds[1]}`, src, `docker://${host(s)}/${ref}`],
    { env: sb.env },
  );
}

interface TagRow {
  name: string;
  manifest_digest: string;
  end_ts?: number;
  expiration?: string;
  immutable?: boolean;
}

async function activeTags(s: TestServer, repo: string): Promise<TagRow[]> {
  const r = await api(s, 'GET', `/repository/${repo}/tag/?limit=100`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.tags;
}

async function v2(s: TestServer, repo: string, method: string, p: string): Promise<Response> {
  const t = await registryToken(s, [`repository:${repo}:pull,push,delete`], ADMIN);
  return fetch(`${s.url}/v2/${repo}/${p}`, { method, headers: { authorization: `Bearer ${t.token}` } });
}

async function startWithAccounts(dialect: 'sqlite' | 'postgres'): Promise<TestServer> {
  const s = await startServer(
    dialect,
    {},
    { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 1000 } },
  );
  for (const [u, p] of [WRITER, READER]) assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: p })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
  for (const repo of ['app', 'locked'])
    assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: repo, visibility: 'private' })).status, 201);
  for (const repo of ['app', 'locked']) {
    assert.equal((await api(s, 'PUT', `/repository/acme/${repo}/permissions/user/writer`, ADMIN, { role: 'write' })).status, 200);
    assert.equal((await api(s, 'PUT', `/repository/acme/${repo}/permissions/user/reader`, ADMIN, { role: 'read' })).status, 200);
  }
  return s;
}

test('quay.expires-after values as Quay reads them; immutability patterns checked before use', () => {
  assert.equal(parseExpiresAfter('2h'), 7200);
  assert.equal(parseExpiresAfter('3d'), 3 * 86400);
  assert.equal(parseExpiresAfter('2w'), 14 * 86400);
  assert.equal(parseExpiresAfter('90s'), 90);
  assert.equal(parseExpiresAfter('5m'), 300);
  for (const bad of ['2', 'h', '2y', '-1h', '1.5h', '0h', '', 'two hours']) assert.equal(parseExpiresAfter(bad), undefined, bad);
  assert.equal(compileTagPattern('v\\d+').test('v12-rc'), true, 'anchored at the start, as re.match');
  assert.equal(compileTagPattern('v\\d+').test('xv12'), false);
  for (const bad of ['(', '[a-', 'a{2,1}', '(a+)+', '(\\w*)*x', '(a)\\1', '', 'x'.repeat(257)])
    assert.throws(() => compileTagPattern(bad), BadTagPattern, bad);
});

for (const dialect of await testDialects()) {
  describe(`tag expiration (${dialect})`, () => {
    let s: TestServer;
    let sb: ContainerSandbox;
    const realNow = Date.now;
    before(async () => {
      s = await startWithAccounts(dialect);
      sb = new ContainerSandbox('berth-tagpolicy-');
    });
    after(async () => {
      s.berth.ctx.now = realNow;
      await s.stop();
      await sb.cleanup();
    });

    let expiring: BuiltImage;
    test('skopeo pushes images labelled quay.expires-after (OCI and Docker configs): their tags expire that long after the push', async () => {
      expiring = await image('oci', 'pr-1', { 'quay.expires-after': '2h' });
      const docker = await image('docker', 'pr-2', { 'quay.expires-after': '3d' });
      const plain = await image('oci', 'stable');
      const t0 = Date.now();
      for (const [img, tag] of [
        [expiring, 'pr-1'],
        [docker, 'pr-2'],
        [plain, 'stable'],
      ] as const) {
        const r = await skopeoPush(sb, s, img, `acme/app:${tag}`);
        assert.equal(r.code, 0, r.stderr);
      }
      const tags = await activeTags(s, 'acme/app');
      const by = (n: string) => tags.find((t) => t.name === n)!;
      assert.ok(Math.abs(by('pr-1').end_ts! * 1000 - (t0 + 2 * HOUR)) < 60_000, JSON.stringify(by('pr-1')));
      assert.match(by('pr-1').expiration!, /GMT$/);
      assert.ok(Math.abs(by('pr-2').end_ts! * 1000 - (t0 + 72 * HOUR)) < 60_000, JSON.stringify(by('pr-2')));
      assert.equal(by('stable').end_ts, undefined);
      assert.equal(by('stable').expiration, undefined);
    });

    test('PUT …/tag/{tag} sets and clears an expiration; refuses past times, bad bodies, readers and anonymous callers', async () => {
      const at = Math.floor(Date.now() / 1000) + 5 * 3600;
      const set = await api(s, 'PUT', '/repository/acme/app/tag/stable', WRITER, { expiration: at });
      assert.equal(set.status, 201, JSON.stringify(set.json));
      assert.equal((await activeTags(s, 'acme/app')).find((t) => t.name === 'stable')!.end_ts, at);
      const cleared = await api(s, 'PUT', '/repository/acme/app/tag/stable', WRITER, { expiration: null });
      assert.equal(cleared.status, 201);
      assert.equal((await activeTags(s, 'acme/app')).find((t) => t.name === 'stable')!.end_ts, undefined);

      const before = await activeTags(s, 'acme/app');
      const past = await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, { expiration: Math.floor(Date.now() / 1000) - 10 });
      assert.equal(past.status, 400);
      assert.match(past.json.error_message, /is in the past/);
      const far = await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, {
        expiration: Math.floor(Date.now() / 1000) + 300 * 86400 * 7,
      });
      assert.equal(far.status, 400);
      const text = await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, { expiration: 'tomorrow' });
      assert.equal(text.status, 400);
      assert.match(text.json.error_message, /expiration/);
      const empty = await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, {});
      assert.equal(empty.status, 400);
      assert.match(empty.json.error_message, /manifest_digest .*expiration/);
      const reader = await api(s, 'PUT', '/repository/acme/app/tag/stable', READER, { expiration: Math.floor(Date.now() / 1000) + 3600 });
      assert.equal(reader.status, 403);
      const anon = await api(s, 'PUT', '/repository/acme/app/tag/stable', undefined, { expiration: Math.floor(Date.now() / 1000) + 3600 });
      assert.equal(anon.status, 401);
      const missing = await api(s, 'PUT', '/repository/acme/app/tag/nope', ADMIN, { expiration: Math.floor(Date.now() / 1000) + 3600 });
      assert.equal(missing.status, 404);
      assert.deepEqual(await activeTags(s, 'acme/app'), before, 'no refused call changed anything');
    });

    test('at its expiration the tag is gone from /v2 tags, manifest GET (cached or not), the API list; in history and restorable', async () => {
      // Pulled once first, so the data-model cache holds the tag.
      assert.equal((await v2(s, 'acme/app', 'GET', 'manifests/pr-1')).status, 200);
      s.berth.ctx.now = () => realNow() + 2 * HOUR + 60_000;
      const listed = (await (await v2(s, 'acme/app', 'GET', 'tags/list')).json()) as { tags: string[] };
      assert.deepEqual(listed.tags.sort(), ['pr-2', 'stable']);
      const get = await v2(s, 'acme/app', 'GET', 'manifests/pr-1');
      assert.equal(get.status, 404);
      assert.equal(((await get.json()) as { errors: { code: string }[] }).errors[0].code, 'MANIFEST_UNKNOWN');
      assert.equal((await v2(s, 'acme/app', 'GET', `manifests/${expiring.descriptor.digest}`)).status, 200, 'by digest it is still there');
      assert.deepEqual((await activeTags(s, 'acme/app')).map((t) => t.name).sort(), ['pr-2', 'stable']);
      assert.equal((await v2(s, 'acme/app', 'DELETE', 'manifests/pr-1')).status, 404, 'an expired tag cannot be deleted');
      const h = await api(s, 'GET', '/repository/acme/app/tag/?onlyActiveTags=false&specificTag=pr-1', ADMIN);
      assert.equal(h.json.tags.length, 1);
      assert.equal(h.json.tags[0].manifest_digest, expiring.descriptor.digest);
      assert.ok(h.json.tags[0].end_ts * 1000 <= s.berth.ctx.now(), 'its lifetime ended');

      const restored = await api(s, 'POST', '/repository/acme/app/tag/pr-1/restore', ADMIN, {
        manifest_digest: expiring.descriptor.digest,
      });
      assert.equal(restored.status, 200, JSON.stringify(restored.json));
      assert.equal((await v2(s, 'acme/app', 'GET', 'manifests/pr-1')).status, 200);
      const again = (await activeTags(s, 'acme/app')).find((t) => t.name === 'pr-1')!;
      assert.equal(again.end_ts, undefined, 'a restored tag does not expire');
      assert.equal((await api(s, 'DELETE', '/repository/acme/app/tag/pr-1', ADMIN)).status, 204);
    });

    test("gc keeps an expired tag's manifest within the time-machine window and collects its unique blobs after it", async () => {
      const layer = expiring.layers[0].descriptor.digest;
      const within = await collectGarbage(s.berth.ctx, { graceSeconds: 0, deleteUntagged: true });
      assert.equal(within.manifestsRemoved, 0);
      assert.equal((await v2(s, 'acme/app', 'GET', `blobs/${layer}`)).status, 200);
      s.berth.ctx.now = () => realNow() + 2 * HOUR + 15 * 86400_000; // past DEFAULT_TAG_EXPIRATION (2w); pr-2 (3d) expired too
      const r = await collectGarbage(s.berth.ctx, { graceSeconds: 0, deleteUntagged: true });
      assert.equal(r.manifestsRemoved, 1, `pr-1's manifest only (pr-2 expired at 3 d, still in the window): ${JSON.stringify(r)}`);
      assert.equal((await v2(s, 'acme/app', 'GET', `manifests/${expiring.descriptor.digest}`)).status, 404);
      assert.equal((await v2(s, 'acme/app', 'GET', `blobs/${layer}`)).status, 404);
      assert.deepEqual(
        (await activeTags(s, 'acme/app')).map((t) => t.name),
        ['stable'],
      );
      const gone = await api(s, 'POST', '/repository/acme/app/tag/pr-1/restore', ADMIN, { manifest_digest: expiring.descriptor.digest });
      assert.equal(gone.status, 404);
      s.berth.ctx.now = realNow;
    });
  });

  describe(`immutable tags (${dialect})`, () => {
    let s: TestServer;
    let sb: ContainerSandbox;
    let v1: BuiltImage;
    let v1b: BuiltImage;
    let rule: string;
    before(async () => {
      s = await startWithAccounts(dialect);
      sb = new ContainerSandbox('berth-tagpolicy-');
      v1 = await image('oci', 'v1');
      v1b = await image('oci', 'v1-other');
    });
    after(async () => {
      await s.stop();
      await sb.cleanup();
    });

    test('policies: bad patterns and bodies refused with nothing stored; only repository admins manage them', async () => {
      for (const bad of ['(', 'v[0-9', '(a+)+$']) {
        const r = await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { tagPattern: bad });
        assert.equal(r.status, 400, bad);
        assert.match(r.json.error_message, /tagPattern/);
      }
      assert.equal((await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { pattern: 'v' })).status, 400);
      assert.equal(
        (await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { tagPattern: 'v', tagPatternMatches: 'yes' })).status,
        400,
      );
      const writer = await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', WRITER, { tagPattern: 'v' });
      assert.equal(writer.status, 403);
      assert.equal((await api(s, 'GET', '/repository/acme/locked/immutabilitypolicy/', WRITER)).status, 403);
      assert.equal((await api(s, 'GET', '/repository/acme/locked/immutabilitypolicy/', undefined)).status, 401);
      assert.deepEqual((await api(s, 'GET', '/repository/acme/locked/immutabilitypolicy/', ADMIN)).json, { policies: [] });

      const created = await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { tagPattern: 'v\\d+' });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      rule = created.json.uuid;
      const dup = await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { tagPattern: 'v\\d+' });
      assert.equal(dup.status, 400);
      assert.match(dup.json.error_message, /already exists/);
      assert.deepEqual((await api(s, 'GET', `/repository/acme/locked/immutabilitypolicy/${rule}`, ADMIN)).json, {
        uuid: rule,
        tagPattern: 'v\\d+',
        tagPatternMatches: true,
      });
      assert.equal((await api(s, 'GET', '/repository/acme/locked/immutabilitypolicy/no-such-uuid', ADMIN)).status, 404);
    });

    test('a push to an immutable tag works once; the same digest again is fine; another digest is DENIED (skopeo says which rule)', async () => {
      const first = await skopeoPush(sb, s, v1, 'acme/locked:v1');
      assert.equal(first.code, 0, first.stderr);
      const same = await skopeoPush(sb, s, v1, 'acme/locked:v1');
      assert.equal(same.code, 0, same.stderr);
      const other = await skopeoPush(sb, s, v1b, 'acme/locked:v1');
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /denied/i);
      assert.ok(other.stderr.includes(rule), other.stderr);
      assert.match(other.stderr, /tag \\?"v1\\?" is immutable/);
      const ok = await skopeoPush(sb, s, v1b, 'acme/locked:latest');
      assert.equal(ok.code, 0, 'tags outside the rule move as usual');
      const tags = await activeTags(s, 'acme/locked');
      assert.deepEqual(tags.map((t) => [t.name, t.manifest_digest, t.immutable]).sort(), [
        ['latest', v1b.descriptor.digest, false],
        ['v1', v1.descriptor.digest, true],
      ]);
    });

    test('delete (by tag or by its digest, /v2 and API), move, restore and expiration of an immutable tag are refused, naming the rule', async () => {
      const del = await v2(s, 'acme/locked', 'DELETE', 'manifests/v1');
      assert.equal(del.status, 403);
      const body = (await del.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0].code, 'DENIED');
      assert.ok(body.errors[0].message.includes(rule));
      const byDigest = await v2(s, 'acme/locked', 'DELETE', `manifests/${v1.descriptor.digest}`);
      assert.equal(byDigest.status, 403);
      for (const [method, p, b] of [
        ['DELETE', '/repository/acme/locked/tag/v1', undefined],
        ['PUT', '/repository/acme/locked/tag/v1', { manifest_digest: v1b.descriptor.digest }],
        ['POST', '/repository/acme/locked/tag/v1/restore', { manifest_digest: v1b.descriptor.digest }],
        ['PUT', '/repository/acme/locked/tag/v1', { expiration: Math.floor(Date.now() / 1000) + 3600 }],
      ] as const) {
        const r = await api(s, method, p, ADMIN, b);
        assert.equal(r.status, 409, `${method} ${p}`);
        assert.equal(r.json.error_type, 'tag_immutable');
        assert.ok(r.json.error_message.includes(rule));
      }
      assert.equal(
        (await api(s, 'PUT', '/repository/acme/locked/tag/v1', ADMIN, { manifest_digest: v1.descriptor.digest })).status,
        201,
        'same digest',
      );
      const t = (await activeTags(s, 'acme/locked')).find((x) => x.name === 'v1')!;
      assert.equal(t.manifest_digest, v1.descriptor.digest);
      assert.equal(t.end_ts, undefined);
    });

    test('a labelled image pushed to an immutable tag gets no expiration; a new rule clears the expiration of tags it covers', async () => {
      const labelled = await image('oci', 'v2', { 'quay.expires-after': '2h' });
      assert.equal((await skopeoPush(sb, s, labelled, 'acme/locked:v2')).code, 0);
      assert.equal((await skopeoPush(sb, s, labelled, 'acme/locked:rc2')).code, 0);
      const tags = await activeTags(s, 'acme/locked');
      assert.equal(tags.find((x) => x.name === 'v2')!.end_ts, undefined);
      assert.ok(tags.find((x) => x.name === 'rc2')!.end_ts);
      const rc = await api(s, 'POST', '/repository/acme/locked/immutabilitypolicy/', ADMIN, { tagPattern: 'rc' });
      assert.equal(rc.status, 201);
      assert.equal(rc.json.expirations_cleared, 1);
      assert.equal((await activeTags(s, 'acme/locked')).find((x) => x.name === 'rc2')!.end_ts, undefined);
      assert.equal((await api(s, 'DELETE', `/repository/acme/locked/immutabilitypolicy/${rc.json.uuid}`, ADMIN)).status, 200);
    });

    test('tagPatternMatches false protects the tags the pattern does not match; removing a rule makes its tags mutable again', async () => {
      const upd = await api(s, 'PUT', `/repository/acme/locked/immutabilitypolicy/${rule}`, ADMIN, {
        tagPattern: 'dev-',
        tagPatternMatches: false,
      });
      assert.equal(upd.status, 204);
      assert.equal(
        (await api(s, 'PUT', '/repository/acme/locked/tag/dev-1', ADMIN, { manifest_digest: v1.descriptor.digest })).status,
        201,
      );
      assert.equal(
        (await api(s, 'PUT', '/repository/acme/locked/tag/dev-1', ADMIN, { manifest_digest: v1b.descriptor.digest })).status,
        201,
      );
      assert.equal(
        (await api(s, 'PUT', '/repository/acme/locked/tag/latest', ADMIN, { manifest_digest: v1.descriptor.digest })).status,
        409,
      );
      assert.equal((await api(s, 'DELETE', `/repository/acme/locked/immutabilitypolicy/${rule}`, WRITER)).status, 403);
      assert.equal((await api(s, 'DELETE', `/repository/acme/locked/immutabilitypolicy/${rule}`, ADMIN)).status, 200);
      assert.equal((await api(s, 'DELETE', `/repository/acme/locked/immutabilitypolicy/${rule}`, ADMIN)).status, 404);
      assert.equal(
        (await api(s, 'PUT', '/repository/acme/locked/tag/latest', ADMIN, { manifest_digest: v1.descriptor.digest })).status,
        201,
      );
      assert.equal((await v2(s, 'acme/locked', 'DELETE', 'manifests/v1')).status, 202);
    });
  });
}

describe('an expired tag is not served from the Redis data-model cache', () => {
  let redis: TestRedis;
  let s: TestServer;
  before(async () => {
    redis = await startRedis();
    s = await startServer(
      'sqlite',
      {},
      { config: { DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: redis.primary } } } },
    );
  });
  after(async () => {
    s.berth.ctx.now = Date.now;
    await s.stop();
    await redis.stop();
  });

  test('pulled (and cached in Redis) before its expiration, 404 after it', async () => {
    assert.equal(s.berth.ctx.cache?.engine, 'redis');
    const img = await image('oci', 'cached', { 'quay.expires-after': '1h' });
    for (const [d, b] of img.blobs)
      assert.equal(
        (await fetch(`${s.url}/v2/open/app/blobs/uploads/?digest=${d}`, { method: 'POST', body: new Uint8Array(b) })).status,
        201,
      );
    const put = await fetch(`${s.url}/v2/open/app/manifests/tmp`, {
      method: 'PUT',
      headers: { 'content-type': img.mediaType },
      body: new Uint8Array(img.manifest),
    });
    assert.equal(put.status, 201);
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${s.url}/v2/open/app/manifests/tmp`)).status, 200);
    s.berth.ctx.now = () => Date.now() + HOUR + 1000;
    assert.equal((await fetch(`${s.url}/v2/open/app/manifests/tmp`)).status, 404);
    s.berth.ctx.now = Date.now;
    assert.equal((await fetch(`${s.url}/v2/open/app/manifests/tmp`)).status, 200, 'the same cache entry before the expiration');
  });
});
