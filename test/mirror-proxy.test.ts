// A mirror's outbound proxy (external_registry_config.proxy, docs/MIRRORING.md): a real forward proxy started here
// (node:http, counting what it forwards and tunnels) in front of Debian's docker-registry, plain HTTP and behind a
// TLS front. Syncs go through the proxy (forwarded for http://, CONNECT for https://) and the images arrive; with
// the upstream in no_proxy nothing goes through it; a proxy that refuses (407) or is down fails the sync with a
// reason naming the proxy; a malformed proxy setting is refused when the mirror is configured (create or change), with
// the field and the reason, and changes nothing. no_proxy's forms are checked on their own.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freePort, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import type { Distribution } from './helpers/distribution.ts';
import type { ContainerSandbox } from './helpers/exec.ts';
import type { BuiltIndex } from './helpers/images.ts';
import { ADMIN, mirrorConfig, multiArch, pushAll, tagsOf, waitForStatus } from './helpers/mirror.ts';
import { bypassesProxy } from '../src/upstream/proxy.ts';
import { BAD_PROXY_SETTINGS, startProxyRig, type ForwardProxy, type ProxyRig } from './helpers/forward-proxy.ts';

test('no_proxy: hosts, host:port, domain suffixes (".x", "*.x", "x"), IPs and "*"', () => {
  const u = (s: string) => new URL(s);
  assert.equal(bypassesProxy(u('https://registry.example.com/v2/'), 'example.com'), true);
  assert.equal(bypassesProxy(u('https://registry.example.com/v2/'), '.example.com'), true);
  assert.equal(bypassesProxy(u('https://registry.example.com/v2/'), '*.example.com'), true);
  assert.equal(bypassesProxy(u('https://example.com/v2/'), '.example.com'), true);
  assert.equal(bypassesProxy(u('https://badexample.com/v2/'), 'example.com'), false);
  assert.equal(bypassesProxy(u('https://registry.example.org/v2/'), 'localhost, example.com'), false);
  assert.equal(bypassesProxy(u('http://127.0.0.1:5000/v2/'), 'localhost,127.0.0.1'), true);
  assert.equal(bypassesProxy(u('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000'), true);
  assert.equal(bypassesProxy(u('http://127.0.0.1:5000/v2/'), '127.0.0.1:5001'), false);
  assert.equal(bypassesProxy(u('https://quay.example/v2/'), 'QUAY.EXAMPLE:443'), true);
  assert.equal(bypassesProxy(u('https://anything/v2/'), '*'), true);
  assert.equal(bypassesProxy(u('https://anything/v2/'), ''), false);
  assert.equal(bypassesProxy(u('https://anything/v2/'), null), false);
});

describe('mirroring through an outbound proxy (sqlite)', { timeout: 300_000 }, () => {
  let s: TestServer;
  let rig: ProxyRig;
  let upstream: Distribution;
  let front: ProxyRig['front'];
  let proxy: ForwardProxy;
  let sandbox: ContainerSandbox;
  let images: Record<string, BuiltIndex>;

  before(async () => {
    rig = await startProxyRig('berth-mirror-proxy-');
    ({ sandbox, upstream, front, proxy } = rig);
    images = { v1: await multiArch('proxied-v1') };
    await pushAll(sandbox, upstream.host, 'library/app', images);
    s = await startServer('sqlite', {}, { auth: true, config: mirrorConfig() });
    assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    for (const r of ['plain', 'tls', 'direct', 'refused', 'refusedtls', 'down', 'badproxy'])
      assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: r })).status, 201);
  });
  after(async () => {
    await s?.stop();
    await rig?.close();
  });

  async function sync(repo: string, reference: string, proxySettings: Record<string, string> | undefined, on = s) {
    const c = await api(on, 'POST', `/repository/acme/${repo}/mirror`, ADMIN, {
      external_reference: reference,
      sync_interval: 3600,
      sync_start_date: '2099-01-01T00:00:00Z',
      root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1'] },
      external_registry_config: { verify_tls: false, ...(proxySettings ? { proxy: proxySettings } : {}) },
    });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal((await api(on, 'POST', `/repository/acme/${repo}/mirror/sync-now`, ADMIN)).status, 204);
    return waitForStatus(on, `acme/${repo}`, ['SYNC_SUCCESS', 'SYNC_FAILED'], 120_000);
  }

  test('an http:// upstream is reached through the forward proxy and the images arrive', async () => {
    const before = proxy.forwarded;
    const v = await sync('plain', `${upstream.host}/library/app`, { http_proxy: proxy.url, https_proxy: proxy.url });
    assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
    assert.ok(proxy.forwarded - before > 0, 'requests went through the proxy');
    assert.deepEqual(await tagsOf(s, 'acme/plain'), { v1: images.v1.descriptor.digest });
  });

  test('an https:// upstream is reached through a CONNECT tunnel and the images arrive', async () => {
    const before = proxy.tunnelled;
    const v = await sync('tls', `${front.host}/library/app`, { https_proxy: proxy.url });
    assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
    assert.ok(proxy.tunnelled - before > 0, 'a tunnel was opened through the proxy');
    assert.deepEqual(await tagsOf(s, 'acme/tls'), { v1: images.v1.descriptor.digest });
  });

  test('an upstream in no_proxy is reached directly: nothing goes through the proxy', async () => {
    const [f, t] = [proxy.forwarded, proxy.tunnelled];
    const v = await sync('direct', `${upstream.host}/library/app`, {
      http_proxy: proxy.url,
      https_proxy: proxy.url,
      no_proxy: `localhost, ${upstream.host.split(':')[0]}`,
    });
    assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
    assert.equal(proxy.forwarded, f);
    assert.equal(proxy.tunnelled, t);
    assert.deepEqual(await tagsOf(s, 'acme/direct'), { v1: images.v1.descriptor.digest });
  });

  test('a proxy that refuses (407) or is down fails the sync with a reason naming the proxy', async () => {
    proxy.refuse = true;
    try {
      const v = await sync('refused', `${upstream.host}/library/app`, { http_proxy: proxy.url });
      assert.equal(v.sync_status, 'SYNC_FAILED', JSON.stringify(v));
      assert.match(String(v.last_error), new RegExp(`proxy ${proxy.url.replace(/[.]/g, '\\.')}.*407`), String(v.last_error));
      assert.deepEqual(await tagsOf(s, 'acme/refused'), {});
      const t = await sync('refusedtls', `${front.host}/library/app`, { https_proxy: proxy.url });
      assert.equal(t.sync_status, 'SYNC_FAILED', JSON.stringify(t));
      assert.match(
        String(t.last_error),
        new RegExp(`proxy ${proxy.url.replace(/[.]/g, '\\.')} refused to tunnel.*407`),
        String(t.last_error),
      );
    } finally {
      proxy.refuse = false;
    }
    const closed = `http://127.0.0.1:${await freePort()}`;
    const v = await sync('down', `${upstream.host}/library/app`, { http_proxy: closed });
    assert.equal(v.sync_status, 'SYNC_FAILED', JSON.stringify(v));
    assert.match(
      String(v.last_error),
      new RegExp(`cannot connect to the proxy ${closed.replace(/[.]/g, '\\.')}: connection refused`),
      String(v.last_error),
    );
  });

  test('a malformed proxy setting is refused when the mirror is created or changed, naming the field; nothing changes', async () => {
    const before = await api(s, 'GET', '/repository/acme/plain/mirror', ADMIN);
    assert.equal(before.status, 200);
    for (const bad of BAD_PROXY_SETTINGS) {
      const body = {
        external_reference: `${upstream.host}/library/app`,
        sync_interval: 3600,
        sync_start_date: '2099-01-01T00:00:00Z',
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1'] },
        external_registry_config: { verify_tls: false, proxy: bad.proxy },
      };
      const c = await api(s, 'POST', '/repository/acme/badproxy/mirror', ADMIN, body);
      assert.equal(c.status, 400, JSON.stringify(bad.proxy));
      const msg = String(c.json.error_message);
      assert.ok(msg.includes(`external_registry_config.proxy.${bad.key}`), msg);
      assert.match(msg, bad.says);
      assert.ok(!msg.includes('s3cret'), `the error repeats the password: ${msg}`);
      const u = await api(s, 'PUT', '/repository/acme/plain/mirror', ADMIN, { external_registry_config: { proxy: bad.proxy } });
      assert.equal(u.status, 400, JSON.stringify(bad.proxy));
      assert.ok(String(u.json.error_message).includes(`external_registry_config.proxy.${bad.key}`), String(u.json.error_message));
      assert.match(String(u.json.error_message), bad.says);
    }
    // Nothing was created or changed: no mirror on badproxy (its state is still NORMAL), plain's configuration as it was.
    assert.equal((await api(s, 'GET', '/repository/acme/badproxy/mirror', ADMIN)).status, 404);
    assert.equal((await api(s, 'GET', '/repository/acme/badproxy', ADMIN)).json.state, 'NORMAL');
    const after = await api(s, 'GET', '/repository/acme/plain/mirror', ADMIN);
    assert.deepEqual(after.json.external_registry_config, before.json.external_registry_config);
    // The good forms are taken: credentials percent-encoded, https:// proxy, IPv6, "" clears a setting.
    const ok = await api(s, 'PUT', '/repository/acme/plain/mirror', ADMIN, {
      external_registry_config: {
        proxy: { http_proxy: 'http://us%40er:p%40ss@[::1]:3128', https_proxy: 'https://proxy.example:8443/', no_proxy: '' },
      },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.deepEqual((await api(s, 'GET', '/repository/acme/plain/mirror', ADMIN)).json.external_registry_config.proxy, {
      http_proxy: 'http://us%40er:********@[::1]:3128',
      https_proxy: 'https://proxy.example:8443/',
      no_proxy: null,
    });
  });

  test("the API masks a proxy's password; the masked URL sent back (a form saved unchanged) keeps it, a new one replaces it", async () => {
    assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: 'masked' })).status, 201);
    const withCreds = proxy.url.replace('http://', 'http://mirror-user:s3cret%2Fpw@');
    const credsSince = async (seen: number, run: () => Promise<{ sync_status: string }>) => {
      const v = await run();
      assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
      return proxy.credentials.slice(seen);
    };
    let used = await credsSince(proxy.credentials.length, () => sync('masked', `${upstream.host}/library/app`, { http_proxy: withCreds }));
    assert.ok(used.length > 0 && used.every((c) => c === 'mirror-user:s3cret/pw'), used.join(', '));
    const view = (await api(s, 'GET', '/repository/acme/masked/mirror', ADMIN)).json;
    const masked = proxy.url.replace('http://', 'http://mirror-user:********@');
    assert.equal(view.external_registry_config.proxy.http_proxy, masked);
    assert.ok(!JSON.stringify(view).includes('s3cret'), 'the password is not in the view');
    const resync = async () => {
      assert.equal((await api(s, 'POST', '/repository/acme/masked/mirror/sync-now', ADMIN)).status, 204);
      return waitForStatus(s, 'acme/masked', ['SYNC_SUCCESS', 'SYNC_FAILED'], 120_000);
    };
    // Saved back as shown: the stored password is kept and still reaches the proxy.
    const same = await api(s, 'PUT', '/repository/acme/masked/mirror', ADMIN, { external_registry_config: view.external_registry_config });
    assert.equal(same.status, 201, JSON.stringify(same.json));
    used = await credsSince(proxy.credentials.length, resync);
    assert.ok(used.length > 0 && used.every((c) => c === 'mirror-user:s3cret/pw'), used.join(', '));
    // A masked value for another proxy is not the stored one: it is taken as written (a literal password).
    const other = proxy.url.replace('http://', 'http://other-user:********@');
    assert.equal(
      (await api(s, 'PUT', '/repository/acme/masked/mirror', ADMIN, { external_registry_config: { proxy: { http_proxy: other } } })).status,
      201,
    );
    used = await credsSince(proxy.credentials.length, resync);
    assert.ok(used.length > 0 && used.every((c) => c === 'other-user:********'), used.join(', '));
  });

  test('a mirror without a proxy setting syncs through HTTP_PROXY of the environment; its own setting wins', async () => {
    const s2 = await startServer(
      'sqlite',
      { HTTP_PROXY: proxy.url.replace('http://', 'http://env-user:env-pass@') },
      { auth: true, config: mirrorConfig() },
    );
    try {
      assert.equal((await api(s2, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
      for (const r of ['envproxy', 'ownproxy'])
        assert.equal((await api(s2, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: r })).status, 201);
      const [before, seen] = [proxy.forwarded, proxy.credentials.length];
      const v = await sync('envproxy', `${upstream.host}/library/app`, undefined, s2);
      assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
      assert.ok(proxy.forwarded - before > 0, 'requests went through the environment proxy');
      const used = proxy.credentials.slice(seen);
      assert.ok(used.length > 0 && used.every((c) => c === 'env-user:env-pass'), used.join(', '));
      assert.deepEqual(await tagsOf(s2, 'acme/envproxy'), { v1: images.v1.descriptor.digest });
      const closed = `http://127.0.0.1:${await freePort()}`;
      const own = await sync('ownproxy', `${upstream.host}/library/app`, { http_proxy: closed }, s2);
      assert.equal(own.sync_status, 'SYNC_FAILED', JSON.stringify(own));
      assert.match(String(own.last_error), new RegExp(`cannot connect to the proxy ${closed.replace(/[.]/g, '\\.')}: connection refused`));
    } finally {
      await s2.stop();
    }
  });
});
