// A proxy cache organization's outbound proxy (its `proxy` setting, the mirror's shape; docs/PROXY-CACHE.md): a real
// forward proxy (test/helpers/forward-proxy.ts) in front of Debian's docker-registry, plain HTTP and behind a TLS
// front. Validation and pulls (skopeo, and plain /v2 requests) go through the proxy: forwarded for http://, CONNECT for
// https://, with the proxy's credentials; an upstream in no_proxy is reached directly; a proxy that refuses (407) or is
// down makes an uncached pull a 502 naming the proxy. Malformed settings are refused and change nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, freePort, type TestServer } from './helpers/server.ts';
import { api, registryToken } from './helpers/accounts.ts';
import type { Distribution } from './helpers/distribution.ts';
import { pushImageTo, type PushedImage } from './helpers/push.ts';
import type { ContainerSandbox } from './helpers/exec.ts';
import { BAD_PROXY_SETTINGS, startProxyRig, type ForwardProxy, type ProxyRig } from './helpers/forward-proxy.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];

const CACHE_CONFIG = { FEATURE_PROXY_CACHE: true, BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } };

async function v2(s: TestServer, repo: string, p: string, method = 'GET'): Promise<Response> {
  const t = await registryToken(s, [`repository:${repo}:pull`], ADMIN);
  return fetch(`${s.url}/v2/${repo}/${p}`, {
    method,
    headers: { authorization: `Bearer ${t.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
}

describe('proxy cache through an outbound proxy (sqlite)', { timeout: 300_000 }, () => {
  let s: TestServer;
  let rig: ProxyRig;
  let upstream: Distribution;
  let front: ProxyRig['front'];
  let proxy: ForwardProxy;
  let sandbox: ContainerSandbox;
  let app: PushedImage;
  let host: string;

  before(async () => {
    rig = await startProxyRig('berth-cache-proxy-');
    ({ sandbox, upstream, front, proxy } = rig);
    app = await pushImageTo(upstream.url, 'library/app', 'v1', { layers: ['app layer through a proxy'] });
    s = await startServer('sqlite', {}, { auth: true, config: CACHE_CONFIG });
    host = new URL(s.url).host;
    for (const o of ['viaproxy', 'viatunnel', 'direct', 'refused', 'down', 'badproxy'])
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: o })).status, 201);
  });
  after(async () => {
    await s?.stop();
    await rig?.close();
  });

  async function configure(org: string, upstreamRegistry: string, proxySettings: Record<string, string> | undefined, on = s) {
    const body = { upstream_registry: `${upstreamRegistry}/library`, insecure: true, ...(proxySettings ? { proxy: proxySettings } : {}) };
    const c = await api(on, 'POST', `/organization/${org}/proxycache`, ADMIN, body);
    assert.equal(c.status, 201, JSON.stringify(c.json));
  }

  test('malformed proxy settings are refused on create and validate, naming the field; nothing is stored', async () => {
    for (const bad of BAD_PROXY_SETTINGS) {
      for (const endpoint of ['proxycache', 'validateproxycache']) {
        const r = await api(s, 'POST', `/organization/badproxy/${endpoint}`, ADMIN, {
          upstream_registry: upstream.host,
          insecure: true,
          proxy: bad.proxy,
        });
        assert.equal(r.status, 400, `${endpoint} ${JSON.stringify(bad.proxy)}`);
        const msg = String(r.json.error_message);
        assert.ok(msg.includes(`proxy.${bad.key}`), msg);
        assert.match(msg, bad.says);
        assert.ok(!msg.includes('s3cret'), `the error repeats the password: ${msg}`);
      }
    }
    const notObject = await api(s, 'POST', '/organization/badproxy/proxycache', ADMIN, {
      upstream_registry: upstream.host,
      proxy: 'http://p:1',
    });
    assert.equal(notObject.status, 400);
    assert.match(notObject.json.error_message, /proxy must be an object with http_proxy, https_proxy and no_proxy/);
    assert.deepEqual((await api(s, 'GET', '/organization/badproxy/proxycache', ADMIN)).json, {
      upstream_registry: '',
      expiration_s: '',
      insecure: '',
    });
  });

  test('an http:// upstream: validate and a skopeo pull go through the forward proxy with its credentials', async () => {
    const proxied = proxy.url.replace('http://', 'http://cache-user:pr%40xy-pass@');
    const before = proxy.forwarded;
    const v = await api(s, 'POST', '/organization/viaproxy/validateproxycache', ADMIN, {
      upstream_registry: upstream.host,
      insecure: true,
      proxy: { http_proxy: proxied },
    });
    assert.deepEqual([v.status, v.json], [202, 'Anonymous']);
    assert.ok(proxy.forwarded > before, 'validation went through the proxy');
    await configure('viaproxy', upstream.host, { http_proxy: proxied });
    const view = await api(s, 'GET', '/organization/viaproxy/proxycache', ADMIN);
    assert.deepEqual(view.json.proxy, {
      http_proxy: proxy.url.replace('http://', 'http://cache-user:********@'),
      https_proxy: null,
      no_proxy: null,
    });
    const forwarded = proxy.forwarded;
    const dir = sandbox.mkdir('viaproxy');
    await sandbox.skopeo([
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      ADMIN.join(':'),
      `docker://${host}/viaproxy/app:v1`,
      `dir:${dir}`,
    ]);
    assert.deepEqual(readFileSync(path.join(dir, 'manifest.json')), app.manifest);
    assert.deepEqual(readFileSync(path.join(dir, app.layers[0].digest.slice(7))), app.layers[0].bytes);
    assert.ok(proxy.forwarded - forwarded >= 3, `manifest and blobs went through the proxy (${proxy.forwarded - forwarded} requests)`);
    assert.ok(proxy.credentials.length > 0 && proxy.credentials.every((c) => c === 'cache-user:pr@xy-pass'), proxy.credentials.join(', '));
  });

  test('an https:// upstream is reached through a CONNECT tunnel', async () => {
    const before = proxy.tunnelled;
    await configure('viatunnel', front.host, { https_proxy: proxy.url });
    const m = await v2(s, 'viatunnel/app', 'manifests/v1');
    assert.equal(m.status, 200, await m.clone().text());
    assert.deepEqual(Buffer.from(await m.arrayBuffer()), app.manifest);
    const b = await v2(s, 'viatunnel/app', `blobs/${app.layers[0].digest}`);
    assert.equal(b.status, 200);
    assert.deepEqual(Buffer.from(await b.arrayBuffer()), app.layers[0].bytes);
    assert.ok(proxy.tunnelled > before, 'a tunnel was opened through the proxy');
  });

  test('an upstream in no_proxy is reached directly: nothing goes through the proxy', async () => {
    const [f, t] = [proxy.forwarded, proxy.tunnelled];
    await configure('direct', upstream.host, { http_proxy: proxy.url, https_proxy: proxy.url, no_proxy: 'localhost, 127.0.0.1' });
    const m = await v2(s, 'direct/app', 'manifests/v1');
    assert.equal(m.status, 200);
    assert.deepEqual(Buffer.from(await m.arrayBuffer()), app.manifest);
    assert.deepEqual([proxy.forwarded, proxy.tunnelled], [f, t]);
  });

  test('a proxy that refuses (407) or is down: an uncached pull is a 502 naming the proxy', async () => {
    await configure('refused', upstream.host, { http_proxy: proxy.url });
    proxy.refuse = true;
    try {
      const r = await v2(s, 'refused/app', 'manifests/v1');
      assert.equal(r.status, 502);
      const j = (await r.json()) as { errors: { code: string; message: string }[] };
      assert.equal(j.errors[0].code, 'UNAVAILABLE');
      assert.match(j.errors[0].message, new RegExp(`proxy ${proxy.url.replace(/[.]/g, '\\.')}.*407`), j.errors[0].message);
    } finally {
      proxy.refuse = false;
    }
    const closed = `http://127.0.0.1:${await freePort()}`;
    await configure('down', upstream.host, { http_proxy: closed });
    const r = await v2(s, 'down/app', 'manifests/v1');
    assert.equal(r.status, 502);
    const j = (await r.json()) as { errors: { code: string; message: string }[] };
    assert.match(j.errors[0].message, new RegExp(`cannot connect to the proxy ${closed.replace(/[.]/g, '\\.')}: connection refused`));
  });

  test('an organization without a proxy setting uses HTTP_PROXY of the environment (validate and pulls); its own setting wins', async () => {
    const s2 = await startServer(
      'sqlite',
      { HTTP_PROXY: proxy.url.replace('http://', 'http://env-user:env-pass@') },
      { auth: true, config: CACHE_CONFIG },
    );
    try {
      for (const o of ['envproxy', 'ownproxy']) assert.equal((await api(s2, 'POST', '/organization/', ADMIN, { name: o })).status, 201);
      const [before, seen] = [proxy.forwarded, proxy.credentials.length];
      const v = await api(s2, 'POST', '/organization/envproxy/validateproxycache', ADMIN, {
        upstream_registry: upstream.host,
        insecure: true,
      });
      assert.deepEqual([v.status, v.json], [202, 'Anonymous']);
      assert.ok(proxy.forwarded > before, 'validation went through the environment proxy');
      await configure('envproxy', upstream.host, undefined, s2);
      const m = await v2(s2, 'envproxy/app', 'manifests/v1');
      assert.equal(m.status, 200, await m.clone().text());
      assert.deepEqual(Buffer.from(await m.arrayBuffer()), app.manifest);
      const b = await v2(s2, 'envproxy/app', `blobs/${app.layers[0].digest}`);
      assert.equal(b.status, 200);
      assert.deepEqual(Buffer.from(await b.arrayBuffer()), app.layers[0].bytes);
      assert.ok(proxy.forwarded - before >= 3, `validation, manifest and blob went through the proxy (${proxy.forwarded - before})`);
      const used = proxy.credentials.slice(seen);
      assert.ok(used.length > 0 && used.every((c) => c === 'env-user:env-pass'), used.join(', '));
      // The organization's own proxy wins over the environment's: here one that is down, named in the error.
      const closed = `http://127.0.0.1:${await freePort()}`;
      await configure('ownproxy', upstream.host, { http_proxy: closed }, s2);
      const r = await v2(s2, 'ownproxy/app', 'manifests/v1');
      assert.equal(r.status, 502);
      const j = (await r.json()) as { errors: { code: string; message: string }[] };
      assert.match(j.errors[0].message, new RegExp(`cannot connect to the proxy ${closed.replace(/[.]/g, '\\.')}: connection refused`));
    } finally {
      await s2.stop();
    }
  });

  test('an upstream in NO_PROXY of the environment is reached directly: nothing goes through the proxy', async () => {
    const s2 = await startServer(
      'sqlite',
      { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' },
      { auth: true, config: CACHE_CONFIG },
    );
    try {
      assert.equal((await api(s2, 'POST', '/organization/', ADMIN, { name: 'envdirect' })).status, 201);
      const [f, t] = [proxy.forwarded, proxy.tunnelled];
      await configure('envdirect', upstream.host, undefined, s2);
      const m = await v2(s2, 'envdirect/app', 'manifests/v1');
      assert.equal(m.status, 200, await m.clone().text());
      assert.deepEqual(Buffer.from(await m.arrayBuffer()), app.manifest);
      assert.deepEqual([proxy.forwarded, proxy.tunnelled], [f, t]);
    } finally {
      await s2.stop();
    }
  });
});
