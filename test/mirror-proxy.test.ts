// A mirror's outbound proxy (external_registry_config.proxy, docs/MIRRORING.md): a real forward proxy started here
// (node:http, counting what it forwards and tunnels) in front of Debian's docker-registry, plain HTTP and behind a
// TLS front. Syncs go through the proxy (forwarded for http://, CONNECT for https://) and the images arrive; with
// the upstream in no_proxy nothing goes through it; a proxy that refuses (407) or is down fails the sync with a
// reason naming the proxy. no_proxy's forms are checked on their own.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, freePort, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { ContainerSandbox } from './helpers/exec.ts';
import type { BuiltIndex } from './helpers/images.ts';
import { ADMIN, mirrorConfig, multiArch, pushAll, tagsOf, waitForStatus } from './helpers/mirror.ts';
import { bypassesProxy } from '../src/upstream/proxy.ts';

interface ForwardProxy {
  url: string;
  forwarded: number;
  tunnelled: number;
  /** When set, every request and CONNECT is answered 407 and nothing is forwarded. */
  refuse: boolean;
  close(): Promise<void>;
}

/** A forward proxy: absolute-URL requests are forwarded, CONNECT opens a TCP tunnel; both counted. */
async function startForwardProxy(): Promise<ForwardProxy> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    if (state.refuse) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
      return;
    }
    state.forwarded++;
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request(target, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req, socket, head) => {
    if (state.refuse) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    state.tunnelled++;
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    sockets.add(up);
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const state: ForwardProxy = {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    forwarded: 0,
    tunnelled: 0,
    refuse: false,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  return state;
}

/** A TLS front (self-signed certificate) for a plain-HTTP upstream. */
async function startTlsFront(upstreamHost: string): Promise<{ host: string; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-proxy-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const [h, p] = upstreamHost.split(':');
  const server = https.createServer(
    { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
    (req, res) => {
      const up = http.request({ host: h, port: Number(p), path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
  let upstream: Distribution;
  let front: Awaited<ReturnType<typeof startTlsFront>>;
  let proxy: ForwardProxy;
  let sandbox: ContainerSandbox;
  let images: Record<string, BuiltIndex>;

  before(async () => {
    sandbox = new ContainerSandbox('berth-mirror-proxy-');
    upstream = await startDistribution();
    images = { v1: await multiArch('proxied-v1') };
    await pushAll(sandbox, upstream.host, 'library/app', images);
    front = await startTlsFront(upstream.host);
    proxy = await startForwardProxy();
    s = await startServer('sqlite', {}, { auth: true, config: mirrorConfig() });
    assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    for (const r of ['plain', 'tls', 'direct', 'refused', 'refusedtls', 'down'])
      assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: r })).status, 201);
  });
  after(async () => {
    await s?.stop();
    await proxy?.close();
    await front?.close();
    await upstream?.cleanup();
    await sandbox?.cleanup();
  });

  async function sync(repo: string, reference: string, proxySettings: Record<string, string>) {
    const c = await api(s, 'POST', `/repository/acme/${repo}/mirror`, ADMIN, {
      external_reference: reference,
      sync_interval: 3600,
      sync_start_date: '2099-01-01T00:00:00Z',
      root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v1'] },
      external_registry_config: { verify_tls: false, proxy: proxySettings },
    });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal((await api(s, 'POST', `/repository/acme/${repo}/mirror/sync-now`, ADMIN)).status, 204);
    return waitForStatus(s, `acme/${repo}`, ['SYNC_SUCCESS', 'SYNC_FAILED'], 120_000);
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
});
