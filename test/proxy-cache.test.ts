// The pull-through cache (FEATURE_PROXY_CACHE): an organization configured with an upstream docker-registry
// (anonymous, and with htpasswd) serves pulls from it through skopeo, stores what it fetched, fetches a blob
// once for concurrent clients, re-checks tags after expiration_s, serves the cached copy when the upstream is
// down or answers 401/500/503, stores nothing of wrong bytes, and refuses pushes. A blob no cached manifest names is
// pulled through too (HEAD asks the upstream, GET fetches and stores), never served from another repository's copy
// unless the upstream has it; a ranged GET of a blob not cached yet has it fetched whole and stored, then answers the
// range. The API's bad inputs change nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startServer, freePort, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, registryToken } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { startCountingProxy, type CountingProxy } from './helpers/counting-proxy.ts';
import { pushBlobTo, pushImageTo, putManifestTo, type PushedImage } from './helpers/push.ts';
import { waitFor } from './helpers/wait.ts';
import { basic } from './helpers/accounts.ts';
import { ContainerSandbox } from './helpers/exec.ts';
import { sha256 } from './helpers/registry-client.ts';
import { multiArch, pushAll } from './helpers/mirror.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const BIG = Buffer.from(Buffer.alloc(3 * 1024 * 1024, 7).map((v, i) => (v + i * 31) & 0xff));

async function pullToken(s: TestServer, repo: string): Promise<string> {
  const t = await registryToken(s, [`repository:${repo}:pull`], ADMIN);
  assert.ok(t.token, `no pull token for ${repo}`);
  return `Bearer ${t.token}`;
}

async function v2(s: TestServer, repo: string, p: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', await pullToken(s, repo));
  if (!headers.has('accept')) headers.set('accept', 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json');
  return fetch(`${s.url}/v2/${repo}/${p}`, { ...init, headers });
}

for (const dialect of await testDialects()) {
  describe(`proxy cache (${dialect})`, () => {
    let s: TestServer;
    let reg: Distribution;
    let proxy: CountingProxy;
    let sandbox: ContainerSandbox;
    let alpine: PushedImage;
    let host: string;
    before(async () => {
      reg = await startDistribution();
      proxy = await startCountingProxy(reg.url);
      alpine = await pushImageTo(reg.url, 'library/alpine', '3.20', { layers: ['small layer', BIG] });
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: { FEATURE_PROXY_CACHE: true, BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } },
        },
      );
      host = new URL(s.url).host;
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'cache' })).status, 201);
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'plain' })).status, 201);
      sandbox = new ContainerSandbox('berth-proxy-cache-');
    });
    /** skopeo copies `<this server>/<ref>` (ADMIN's credentials, plain HTTP) into the directory `dir`. */
    const pullThrough = (ref: string, dir: string) =>
      sandbox.skopeo(['copy', '--src-tls-verify=false', '--src-creds', ADMIN.join(':'), `docker://${host}/${ref}`, `dir:${dir}`]);

    after(async () => {
      await s?.stop();
      await proxy?.close();
      await reg?.cleanup();
      await sandbox?.cleanup();
    });

    test('bad configuration requests are refused with a reason and change nothing', async () => {
      const bad: [unknown, RegExp][] = [
        [{}, /upstream_registry is required/],
        [{ upstream_registry: 'https://x.io' }, /without a scheme/],
        [{ upstream_registry: proxy.host, expiration_s: 5 }, /expiration_s must be a whole number/],
        [{ upstream_registry: proxy.host, expiration_s: 'soon' }, /expiration_s/],
        [{ upstream_registry: proxy.host, insecure: 'yes' }, /insecure must be true or false/],
        [{ upstream_registry: proxy.host, upstream_registry_password: 'p' }, /needs upstream_registry_username/],
      ];
      for (const [body, re] of bad) {
        const r = await api(s, 'POST', '/organization/cache/proxycache', ADMIN, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.json.error_message, re);
      }
      assert.equal((await api(s, 'POST', '/organization/cache/proxycache', undefined, { upstream_registry: proxy.host })).status, 401);
      assert.equal((await api(s, 'POST', '/organization/nope/proxycache', ADMIN, { upstream_registry: proxy.host })).status, 404);
      assert.equal((await api(s, 'DELETE', '/organization/cache/proxycache', ADMIN)).status, 404);
      assert.deepEqual((await api(s, 'GET', '/organization/cache/proxycache', ADMIN)).json, {
        upstream_registry: '',
        expiration_s: '',
        insecure: '',
      });
      const closed = await api(s, 'POST', '/organization/cache/validateproxycache', ADMIN, {
        upstream_registry: `127.0.0.1:${await freePort()}`,
        insecure: true,
      });
      assert.equal(closed.status, 400);
      assert.match(closed.json.error_message, /connection refused/);
    });

    test('configure, validate, view (no password); a second configuration is refused', async () => {
      const v = await api(s, 'POST', '/organization/cache/validateproxycache', ADMIN, {
        upstream_registry: `${proxy.host}/library`,
        insecure: true,
      });
      assert.deepEqual([v.status, v.json], [202, 'Anonymous']);
      const c = await api(s, 'POST', '/organization/cache/proxycache', ADMIN, {
        upstream_registry: `${proxy.host}/library`,
        insecure: true,
        expiration_s: 600,
      });
      assert.deepEqual([c.status, c.json], [201, 'Created']);
      const g = await api(s, 'GET', '/organization/cache/proxycache', ADMIN);
      assert.deepEqual(g.json, { upstream_registry: `${proxy.host}/library`, expiration_s: 600, insecure: true });
      const again = await api(s, 'POST', '/organization/cache/proxycache', ADMIN, { upstream_registry: 'quay.io' });
      assert.equal(again.status, 400);
      assert.match(again.json.error_message, /already exists/);
      assert.equal((await api(s, 'GET', '/organization/cache/proxycache', ADMIN)).json.upstream_registry, `${proxy.host}/library`);
    });

    test('skopeo pulls through the cache; a second pull makes no upstream request', async () => {
      const before = proxy.requests.length;
      const dir1 = sandbox.mkdir('pull1');
      await pullThrough('cache/alpine:3.20', dir1);
      const files = readdirSync(dir1);
      const layer = alpine.layers[1].digest.slice(7);
      assert.ok(files.includes(layer), files.join(','));
      assert.deepEqual(readFileSync(path.join(dir1, layer)), BIG);
      assert.equal(proxy.count(/^GET \/v2\/library\/alpine\/blobs\//), 3, proxy.requests.join('\n'));
      const used = proxy.requests.length;
      assert.ok(used > before);
      const dir2 = sandbox.mkdir('pull2');
      await pullThrough('cache/alpine:3.20', dir2);
      assert.deepEqual(proxy.requests.slice(used), [], 'the second pull within expiration_s asks the upstream nothing');
      // The repository exists now, private (CREATE_PRIVATE_REPO_ON_PUSH), owned by the organization.
      const repo = await api(s, 'GET', '/repository/cache/alpine', ADMIN);
      assert.equal(repo.status, 200);
      assert.equal(repo.json.is_public, false);
    });

    test('two concurrent pulls of a blob not cached yet fetch it from the upstream once', async () => {
      const img = await pushImageTo(reg.url, 'library/busybox', '1', { layers: [Buffer.concat([BIG, Buffer.from('busybox')])] });
      const m = await v2(s, 'cache/busybox', 'manifests/1');
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('docker-content-digest'), img.digest);
      const d = img.layers[0].digest;
      const [a, b] = await Promise.all([v2(s, 'cache/busybox', `blobs/${d}`), v2(s, 'cache/busybox', `blobs/${d}`)]);
      const [ba, bb] = await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
      assert.equal(sha256(Buffer.from(ba)), d);
      assert.equal(sha256(Buffer.from(bb)), d);
      assert.equal(proxy.count(new RegExp(`^GET /v2/library/busybox/blobs/${d}$`)), 1, proxy.requests.join('\n'));
    });

    test('podman pulls a multi-arch image through the cache: it gets its architecture, the cache keeps the index', async () => {
      const idx = await multiArch('podman-pg');
      await pushAll(sandbox, new URL(reg.url).host, 'library/postgres', { '16': idx });
      const before = proxy.count(/^GET \/v2\/library\/postgres\/manifests\//);
      await sandbox.podman(['pull', '--tls-verify=false', '--creds', ADMIN.join(':'), `${host}/cache/postgres:16`]);
      assert.ok(proxy.count(/^GET \/v2\/library\/postgres\/manifests\//) > before, 'the upstream was asked for the manifest');
      const [img] = JSON.parse((await sandbox.podman(['image', 'inspect', `${host}/cache/postgres:16`])).stdout) as {
        Architecture: string;
      }[];
      assert.equal(img.Architecture, 'amd64');
      // The cache now holds the tag on the index the upstream has, and serves it without asking again.
      const tok = await registryToken(s, ['repository:cache/postgres:pull'], ADMIN);
      const m = await fetch(`${s.url}/v2/cache/postgres/manifests/16`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${tok.token}`, accept: idx.mediaType },
      });
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('docker-content-digest'), idx.descriptor.digest);
      const asked = proxy.requests.length;
      await sandbox.podman(['pull', '--tls-verify=false', '--creds', ADMIN.join(':'), `${host}/cache/postgres:16`]);
      assert.equal(proxy.requests.length, asked, 'a second pull within expiration_s makes no upstream request');
    });

    test('after expiration_s a tag is re-checked with a HEAD: same digest refreshes, a new digest is fetched', async () => {
      const realNow = s.berth.ctx.now;
      try {
        s.berth.ctx.now = () => realNow() + 601_000;
        const before = proxy.requests.length;
        const r = await v2(s, 'cache/alpine', 'manifests/3.20');
        assert.equal(r.headers.get('docker-content-digest'), alpine.digest);
        assert.deepEqual(
          proxy.requests.slice(before).filter((x) => /manifests/.test(x)),
          ['HEAD /v2/library/alpine/manifests/3.20'],
        );
        const again = proxy.requests.length;
        await (await v2(s, 'cache/alpine', 'manifests/3.20')).arrayBuffer();
        assert.equal(proxy.requests.length, again, 'refreshed: no second check');
        const moved = await pushImageTo(reg.url, 'library/alpine', '3.20', { seed: 'moved' });
        s.berth.ctx.now = () => realNow() + 1_300_000;
        const r2 = await v2(s, 'cache/alpine', 'manifests/3.20');
        assert.equal(r2.headers.get('docker-content-digest'), moved.digest);
      } finally {
        s.berth.ctx.now = realNow;
      }
    });

    test('a corrupting upstream: the client connection is cut and nothing is stored', async () => {
      const img = await pushImageTo(reg.url, 'library/corrupt', '1', { layers: ['to be corrupted'] });
      assert.equal((await v2(s, 'cache/corrupt', 'manifests/1')).status, 200);
      proxy.corruptBlobs = true;
      try {
        // Cut before or after the headers, never a complete response with wrong bytes.
        await assert.rejects(async () => {
          const r = await v2(s, 'cache/corrupt', `blobs/${img.layers[0].digest}`);
          await r.arrayBuffer();
        });
      } finally {
        proxy.corruptBlobs = false;
      }
      // Not stored: the next GET fetches it again (now right).
      const before = proxy.count(/\/v2\/library\/corrupt\/blobs\//);
      const ok = await v2(s, 'cache/corrupt', `blobs/${img.layers[0].digest}`);
      assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), img.layers[0].digest);
      assert.equal(proxy.count(/\/v2\/library\/corrupt\/blobs\//), before + 1);
    });

    test('pushes into a proxy cache organization are DENIED and say why', async () => {
      const t = await registryToken(s, ['repository:cache/alpine:pull,push'], ADMIN);
      const r = await fetch(`${s.url}/v2/cache/alpine/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(r.status, 403);
      const body = (await r.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0].code, 'DENIED');
      assert.match(body.errors[0].message, /proxy cache organization/);
      const m = await fetch(`${s.url}/v2/cache/alpine/manifests/x`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: new Uint8Array(alpine.manifest),
      });
      assert.equal(m.status, 403);
    });

    test('a blob not cached yet is pulled through by HEAD and GET; upstream 404 is BLOB_UNKNOWN, upstream down a 502', async () => {
      const errorOf = async (r: Response) => ((await r.json()) as { errors: { code: string; message: string }[] }).errors[0];
      const loose = await pushBlobTo(reg.url, 'library/loose', `a loose blob no manifest names (${dialect})`);
      const d = loose.digest;
      const stored = () => s.berth.ctx.db.selectFrom('blob').select('digest').where('digest', '=', d).executeTakeFirst();
      // HEAD: answered from the upstream (size and digest), nothing fetched or stored, no repository made.
      let asked = proxy.requests.length;
      const h = await v2(s, 'cache/loose', `blobs/${d}`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(loose.size));
      assert.equal(h.headers.get('docker-content-digest'), d);
      assert.deepEqual(proxy.requests.slice(asked), [`HEAD /v2/library/loose/blobs/${d}`]);
      assert.equal(await stored(), undefined);
      assert.equal((await api(s, 'GET', '/repository/cache/loose', ADMIN)).status, 404);
      // GET: fetched once, streamed and stored; after that HEAD and GET need no upstream request.
      asked = proxy.requests.length;
      const g = await v2(s, 'cache/loose', `blobs/${d}`);
      assert.equal(g.status, 200);
      assert.deepEqual(Buffer.from(await g.arrayBuffer()), loose.bytes);
      await waitFor(async () => (await stored()) !== undefined, { what: 'the pulled blob stored', timeout: 10_000, interval: 50 });
      const again = await v2(s, 'cache/loose', `blobs/${d}`);
      assert.deepEqual(Buffer.from(await again.arrayBuffer()), loose.bytes);
      assert.equal((await v2(s, 'cache/loose', `blobs/${d}`, { method: 'HEAD' })).status, 200);
      assert.deepEqual(proxy.requests.slice(asked), [`GET /v2/library/loose/blobs/${d}`]);

      // Upstream 404: BLOB_UNKNOWN naming the proxy cache, for HEAD (no body) and GET; nothing stored.
      const missing = sha256(Buffer.from(`never pushed anywhere ${dialect}`));
      assert.equal((await v2(s, 'cache/loose', `blobs/${missing}`, { method: 'HEAD' })).status, 404);
      const m = await v2(s, 'cache/loose', `blobs/${missing}`);
      assert.equal(m.status, 404);
      const me = await errorOf(m);
      assert.equal(me.code, 'BLOB_UNKNOWN');
      assert.match(me.message, /proxy cache: blob .* not found on/);

      // A blob stored for a repository outside the cache (plain/private) is not served through the cache unless the
      // upstream has it in the asked repository: a digest is not a key to every stored blob.
      const push = await registryToken(s, ['repository:plain/private:push,pull'], ADMIN);
      const secret = await pushBlobTo(s.url, 'plain/private', `private bytes of plain (${dialect})`, `Bearer ${push.token}`);
      const leak = await v2(s, 'cache/loose', `blobs/${secret.digest}`);
      assert.equal(leak.status, 404);
      assert.equal((await errorOf(leak)).code, 'BLOB_UNKNOWN');
      assert.equal((await v2(s, 'cache/loose', `blobs/${secret.digest}`, { method: 'HEAD' })).status, 404);
      // The same bytes upstream in library/shared: the stored copy is linked after a HEAD, not fetched again.
      await pushBlobTo(reg.url, 'library/shared', secret.bytes);
      asked = proxy.requests.length;
      const shared = await v2(s, 'cache/shared', `blobs/${secret.digest}`);
      assert.equal(shared.status, 200);
      assert.deepEqual(Buffer.from(await shared.arrayBuffer()), secret.bytes);
      assert.deepEqual(proxy.requests.slice(asked), [`HEAD /v2/library/shared/blobs/${secret.digest}`]);

      // Upstream down: a blob not cached is 502 UNAVAILABLE naming the upstream; the cached one is still served.
      const later = await pushBlobTo(reg.url, 'library/loose', `pushed upstream, never pulled (${dialect})`);
      await reg.stop();
      try {
        assert.equal((await v2(s, 'cache/loose', `blobs/${later.digest}`, { method: 'HEAD' })).status, 502);
        const down = await v2(s, 'cache/loose', `blobs/${later.digest}`);
        assert.equal(down.status, 502);
        const de = await errorOf(down);
        assert.equal(de.code, 'UNAVAILABLE');
        assert.ok(de.message.includes(proxy.host), de.message);
        const cached = await v2(s, 'cache/loose', `blobs/${d}`);
        assert.equal(cached.status, 200);
        assert.deepEqual(Buffer.from(await cached.arrayBuffer()), loose.bytes);
      } finally {
        await reg.restart();
      }
    });

    test('a ranged GET of a blob not cached yet fetches it whole from the upstream once, stores it and answers the range', async () => {
      const bytes = Buffer.from(Buffer.alloc(1024 * 1024, 3).map((v, i) => (v + i * 7) & 0xff));
      const ranged = await pushBlobTo(reg.url, 'library/ranged', Buffer.concat([bytes, Buffer.from(dialect)]));
      const d = ranged.digest;
      let asked = proxy.requests.length;
      // Two clients at once: one upstream fetch; each gets its own range (206 with Content-Range).
      const [a, b] = await Promise.all([
        v2(s, 'cache/ranged', `blobs/${d}`, { headers: { range: 'bytes=1000-1999' } }),
        v2(s, 'cache/ranged', `blobs/${d}`, { headers: { range: 'bytes=-100' } }),
      ]);
      assert.equal(a.status, 206, await a.clone().text());
      assert.equal(a.headers.get('content-range'), `bytes 1000-1999/${ranged.size}`);
      assert.deepEqual(Buffer.from(await a.arrayBuffer()), ranged.bytes.subarray(1000, 2000));
      assert.equal(b.status, 206);
      assert.equal(b.headers.get('content-range'), `bytes ${ranged.size - 100}-${ranged.size - 1}/${ranged.size}`);
      assert.deepEqual(Buffer.from(await b.arrayBuffer()), ranged.bytes.subarray(ranged.size - 100));
      assert.deepEqual(proxy.requests.slice(asked), [`GET /v2/library/ranged/blobs/${d}`]);
      // Stored whole: a resumed download and a plain GET are answered without the upstream.
      asked = proxy.requests.length;
      const rest = await v2(s, 'cache/ranged', `blobs/${d}`, { headers: { range: 'bytes=2000-' } });
      assert.equal(rest.status, 206);
      assert.deepEqual(Buffer.from(await rest.arrayBuffer()), ranged.bytes.subarray(2000));
      assert.deepEqual(Buffer.from(await (await v2(s, 'cache/ranged', `blobs/${d}`)).arrayBuffer()), ranged.bytes);
      assert.deepEqual(proxy.requests.slice(asked), []);
      // Upstream 404: BLOB_UNKNOWN as for a plain GET; upstream down: 502 UNAVAILABLE naming it.
      const missing = await v2(s, 'cache/ranged', `blobs/${sha256(Buffer.from(`never pushed, ranged ${dialect}`))}`, {
        headers: { range: 'bytes=0-9' },
      });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { errors: { code: string }[] }).errors[0].code, 'BLOB_UNKNOWN');
      const later = await pushBlobTo(reg.url, 'library/ranged', `pushed upstream, never pulled, ranged (${dialect})`);
      await reg.stop();
      try {
        const down = await v2(s, 'cache/ranged', `blobs/${later.digest}`, { headers: { range: 'bytes=0-9' } });
        assert.equal(down.status, 502);
        const e = ((await down.json()) as { errors: { code: string; message: string }[] }).errors[0];
        assert.equal(e.code, 'UNAVAILABLE');
        assert.ok(e.message.includes(proxy.host), e.message);
      } finally {
        await reg.restart();
      }
    });

    test('upstream unknown tag is MANIFEST_UNKNOWN; upstream down: cached tag served, uncached is a 502 naming the upstream', async () => {
      const missing = await v2(s, 'cache/alpine', 'manifests/nope');
      assert.equal(missing.status, 404);
      const mj = (await missing.json()) as { errors: { code: string; message: string }[] };
      assert.equal(mj.errors[0].code, 'MANIFEST_UNKNOWN');
      assert.match(mj.errors[0].message, /proxy cache/);
      await reg.stop();
      const realNow = s.berth.ctx.now;
      try {
        s.berth.ctx.now = () => realNow() + 5_000_000; // stale: the check fails, the cached copy answers
        const cached = await v2(s, 'cache/busybox', 'manifests/1');
        assert.equal(cached.status, 200);
        const un = await v2(s, 'cache/other', 'manifests/latest');
        assert.equal(un.status, 502);
        const uj = (await un.json()) as { errors: { code: string; message: string }[] };
        assert.equal(uj.errors[0].code, 'UNAVAILABLE');
        assert.match(uj.errors[0].message, new RegExp(proxy.host.replace(/\./g, '\\.')));
      } finally {
        s.berth.ctx.now = realNow;
        await reg.restart();
      }
    });

    test('an htpasswd upstream: the right credentials pull, wrong ones are DENIED with the reason', async () => {
      const secured = await startDistribution({ users: { bob: 'bob-secret' } });
      try {
        const img = await pushImageTo(secured.url, 'team/app', 'v1', { authorization: basic('bob', 'bob-secret') });
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'authcache' })).status, 201);
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'wrongcache' })).status, 201);
        const wrongV = await api(s, 'POST', '/organization/wrongcache/validateproxycache', ADMIN, {
          upstream_registry: secured.host,
          insecure: true,
          upstream_registry_username: 'bob',
          upstream_registry_password: 'nope',
        });
        assert.equal(wrongV.status, 400);
        assert.match(wrongV.json.error_message, /Failed login to remote registry/);
        for (const [org, pw] of [
          ['authcache', 'bob-secret'],
          ['wrongcache', 'nope'],
        ]) {
          const r = await api(s, 'POST', `/organization/${org}/proxycache`, ADMIN, {
            upstream_registry: secured.host,
            insecure: true,
            upstream_registry_username: 'bob',
            upstream_registry_password: pw,
          });
          assert.equal(r.status, 201);
        }
        const g = await api(s, 'GET', '/organization/authcache/proxycache', ADMIN);
        assert.equal(JSON.stringify(g.json).includes('bob-secret'), false, 'the password is never returned');
        const dir = sandbox.mkdir('auth');
        await pullThrough('authcache/team/app:v1', dir);
        assert.ok(readdirSync(dir).includes(img.layers[0].digest.slice(7)));
        const denied = await v2(s, 'wrongcache/team/app', 'manifests/v1');
        assert.equal(denied.status, 403);
        const dj = (await denied.json()) as { errors: { code: string; message: string }[] };
        assert.equal(dj.errors[0].code, 'DENIED');
        assert.match(dj.errors[0].message, /refused the cache's credentials/);
      } finally {
        await secured.cleanup();
      }
    });

    test('an index is stored with its child manifests: a child by digest needs no upstream request', async () => {
      const amd = await pushImageTo(reg.url, 'library/multi', 'amd', { seed: 'amd' });
      const arm = await pushImageTo(reg.url, 'library/multi', 'arm', { seed: 'arm' });
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: amd.digest,
              size: amd.manifest.length,
              platform: { os: 'linux', architecture: 'amd64' },
            },
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: arm.digest,
              size: arm.manifest.length,
              platform: { os: 'linux', architecture: 'arm64' },
            },
          ],
        }),
      );
      const indexDigest = await putManifestTo(reg.url, 'library/multi', 'latest', index, 'application/vnd.oci.image.index.v1+json');
      const r = await v2(s, 'cache/multi', 'manifests/latest');
      assert.equal(r.headers.get('docker-content-digest'), indexDigest);
      const before = proxy.requests.length;
      for (const d of [amd.digest, arm.digest]) {
        const c = await v2(s, 'cache/multi', `manifests/${d}`);
        assert.equal(c.status, 200);
        assert.equal(c.headers.get('docker-content-digest'), d);
      }
      assert.deepEqual(proxy.requests.slice(before), []);
      // A client that takes no index gets the linux/amd64 image from the stored children.
      const plainClient = await v2(s, 'cache/multi', 'manifests/latest', {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(plainClient.headers.get('docker-content-digest'), amd.digest);
    });

    test('a token-auth upstream (a Berth with accounts) is pulled through with the configured account', async () => {
      const upstream = await startServer(
        dialect,
        {},
        { auth: true, config: { BOOTSTRAP_ADMIN: { username: 'up', password: 'up-password-1' } } },
      );
      try {
        assert.equal((await api(upstream, 'POST', '/organization/', ['up', 'up-password-1'], { name: 'vendor' })).status, 201);
        const t = await registryToken(upstream, ['repository:vendor/tool:pull,push'], ['up', 'up-password-1']);
        const img = await pushImageTo(upstream.url, 'vendor/tool', '2.0', { authorization: `Bearer ${t.token}` });
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'tokcache' })).status, 201);
        const cfg = {
          upstream_registry: `${new URL(upstream.url).host}/vendor`,
          insecure: true,
          upstream_registry_username: 'up',
          upstream_registry_password: 'up-password-1',
        };
        const v = await api(s, 'POST', '/organization/tokcache/validateproxycache', ADMIN, cfg);
        assert.deepEqual([v.status, v.json], [202, 'Valid']);
        assert.equal((await api(s, 'POST', '/organization/tokcache/proxycache', ADMIN, cfg)).status, 201);
        const dir = sandbox.mkdir('token');
        await pullThrough('tokcache/tool:2.0', dir);
        assert.ok(readdirSync(dir).includes(img.layers[0].digest.slice(7)));
      } finally {
        await upstream.stop();
      }
    });

    test('configuration changes and cached pulls are in the audit log', async () => {
      await waitFor(
        async () => {
          const r = await api(s, 'GET', '/organization/cache/logs', ADMIN);
          const kinds = (r.json.logs ?? []).map((l: { kind: string }) => l.kind);
          return kinds.includes('create_proxy_cache_config') && kinds.includes('pull_repo');
        },
        { what: 'create_proxy_cache_config and pull_repo in the organization log', timeout: 15_000, interval: 200 },
      );
    });

    for (const status of [401, 500, 503] as const) {
      // After the audit log test: these pulls would push its entries off the log's first page.
      test(`upstream answers ${status}: the cached tag, manifest and blobs are served; nothing cached is the specific error`, async () => {
        const layerBytes = Buffer.concat([BIG, Buffer.from(`steady ${status}`)]);
        const img = await pushImageTo(reg.url, `library/steady${status}`, '1', { layers: [layerBytes] });
        await pullThrough(`cache/steady${status}:1`, sandbox.mkdir(`warm-${status}`)); // cached while the upstream answers
        proxy.failWith = status;
        const asked = proxy.requests.length;
        try {
          // Stale: the tag is re-checked with the upstream, which fails.
          await s.berth.ctx.db.updateTable('proxy_cache_tag').set({ checked_at: 0 }).execute();
          const dir = sandbox.mkdir(`failing-${status}`);
          await pullThrough(`cache/steady${status}:1`, dir);
          assert.ok(
            proxy.requests.slice(asked).includes(`HEAD /v2/library/steady${status}/manifests/1`),
            `the upstream was asked (and failed): ${proxy.requests.slice(asked).join(', ')}`,
          );
          assert.deepEqual(readFileSync(path.join(dir, img.layers[0].digest.slice(7))), layerBytes, 'the cached blob is served');
          assert.deepEqual(readFileSync(path.join(dir, 'manifest.json')), img.manifest, 'the cached manifest is served');

          const un = await v2(s, 'cache/nevercached', 'manifests/latest');
          const uj = (await un.json()) as { errors: { code: string; message: string }[] };
          if (status === 401) {
            assert.equal(un.status, 403);
            assert.equal(uj.errors[0].code, 'DENIED');
            assert.match(uj.errors[0].message, /refused the cache's credentials/);
          } else {
            assert.equal(un.status, 502);
            assert.equal(uj.errors[0].code, 'UNAVAILABLE');
            assert.match(uj.errors[0].message, /could not be used/);
          }
          assert.ok(uj.errors[0].message.includes(proxy.host), uj.errors[0].message);
        } finally {
          proxy.failWith = undefined;
        }
      });
    }

    test('an organization that is not a cache is untouched, and deleting the configuration makes it ordinary', async () => {
      const r = await v2(s, 'plain/alpine', 'manifests/3.20');
      assert.equal(r.status, 404);
      assert.deepEqual([(await api(s, 'DELETE', '/organization/cache/proxycache', ADMIN)).status], [201]);
      assert.equal((await api(s, 'GET', '/organization/cache/proxycache', ADMIN)).json.upstream_registry, '');
    });
  });
}

describe('proxy cache off (FEATURE_PROXY_CACHE false, Quay default)', () => {
  test('the endpoints answer 404', async () => {
    const s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
    try {
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'offorg' })).status, 201);
      const r = await api(s, 'POST', '/organization/offorg/proxycache', ADMIN, { upstream_registry: 'quay.io' });
      assert.equal(r.status, 404);
      assert.match(r.json.error_message, /FEATURE_PROXY_CACHE/);
    } finally {
      await s.stop();
    }
  });
});
