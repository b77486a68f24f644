// An outbound forward proxy for tests (node:http): absolute-URL requests are forwarded, CONNECT opens a TCP tunnel,
// both counted; it can refuse everything with 407. And a TLS front (self-signed certificate) for a plain-HTTP upstream.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDistribution, type Distribution } from './distribution.ts';
import { ContainerSandbox } from './exec.ts';

export interface ForwardProxy {
  url: string;
  forwarded: number;
  tunnelled: number;
  /** The Proxy-Authorization headers received (decoded "user:password"), in order. */
  credentials: string[];
  /** When set, every request and CONNECT is answered 407 and nothing is forwarded. */
  refuse: boolean;
  close(): Promise<void>;
}

/** A forward proxy: absolute-URL requests are forwarded, CONNECT opens a TCP tunnel; both counted. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const sockets = new Set<net.Socket>();
  const noteCredentials = (h: string | undefined) => {
    if (h?.startsWith('Basic ')) state.credentials.push(Buffer.from(h.slice(6), 'base64').toString());
  };
  const server = http.createServer((req, res) => {
    if (state.refuse) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
      return;
    }
    state.forwarded++;
    noteCredentials(req.headers['proxy-authorization']);
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
    noteCredentials(req.headers['proxy-authorization']);
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
    credentials: [],
    refuse: false,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  return state;
}

/** A TLS front (self-signed certificate) for a plain-HTTP upstream. */
export async function startTlsFront(upstreamHost: string): Promise<{ host: string; close(): Promise<void> }> {
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

/**
 * Proxy settings a registry must refuse, each with the key the error names and what it says. "s3cret" is a password
 * no error may repeat.
 */
export const BAD_PROXY_SETTINGS: { proxy: Record<string, unknown>; key: string; says: RegExp }[] = [
  { proxy: { http_proxy: 'http://[::1:3128' }, key: 'http_proxy', says: /is not a valid URL/ },
  { proxy: { https_proxy: 'http://proxy.example:99999' }, key: 'https_proxy', says: /port must be 1-65535/ },
  { proxy: { https_proxy: 'socks5://proxy.example:1080' }, key: 'https_proxy', says: /scheme socks5:\/\/, which is not supported/ },
  { proxy: { http_proxy: 'proxy.example:3128' }, key: 'http_proxy', says: /must start with http:\/\/ or https:\/\// },
  { proxy: { http_proxy: 'http://user@s3cret@proxy.example:3128' }, key: 'http_proxy', says: /more than one "@".*%40/ },
  { proxy: { http_proxy: 'http://:s3cret@proxy.example:3128' }, key: 'http_proxy', says: /password but no user name/ },
  { proxy: { http_proxy: 'http://user:s3cret%zz@proxy.example:3128' }, key: 'http_proxy', says: /malformed percent-encoding/ },
  { proxy: { https_proxy: 'http://proxy.example:3128/?user=u&password=s3cret' }, key: 'https_proxy', says: /path, query or fragment/ },
  { proxy: { https_proxy: 'http://proxy.example:3128/user:s3cret' }, key: 'https_proxy', says: /path, query or fragment/ },
  { proxy: { http_proxy: 'http://user:s3 cret@proxy.example:3128' }, key: 'http_proxy', says: /must not contain spaces/ },
  { proxy: { http_proxy: 'http:///proxy.example:3128' }, key: 'http_proxy', says: /has no host/ },
  { proxy: { no_proxy: 'localhost, https://registry.example' }, key: 'no_proxy', says: /is a URL/ },
  { proxy: { no_proxy: 'registry.example/v2' }, key: 'no_proxy', says: /not a host name, IP or domain/ },
  { proxy: { ftp_proxy: 'http://proxy.example:3128' }, key: 'ftp_proxy', says: /not a proxy setting|Unrecognized key/ },
  { proxy: { http_proxy: 3128 }, key: 'http_proxy', says: /string/ },
];

/** What the outbound proxy tests start: a tool sandbox, a docker-registry upstream, a TLS front for it and a forward proxy. */
export interface ProxyRig {
  sandbox: ContainerSandbox;
  upstream: Distribution;
  front: Awaited<ReturnType<typeof startTlsFront>>;
  proxy: ForwardProxy;
  /** Stops all of them (what was started). */
  close(): Promise<void>;
}

export async function startProxyRig(sandboxPrefix: string): Promise<ProxyRig> {
  const rig: Partial<ProxyRig> = {};
  const close = async () => {
    await rig.proxy?.close();
    await rig.front?.close();
    await rig.upstream?.cleanup();
    await rig.sandbox?.cleanup();
  };
  try {
    rig.sandbox = new ContainerSandbox(sandboxPrefix);
    rig.upstream = await startDistribution();
    rig.front = await startTlsFront(rig.upstream.host);
    rig.proxy = await startForwardProxy();
  } catch (e) {
    await close();
    throw e;
  }
  return { ...(rig as Omit<ProxyRig, 'close'>), close };
}
