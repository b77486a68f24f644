// A small HTTP proxy in front of an upstream registry for tests: counts requests by "METHOD path", and can
// corrupt blob bodies (one byte flipped) to play an upstream that sends wrong content, or answer every
// request with an error status of its own (401, 500, 503) to play an upstream that refuses or fails.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

export interface CountingProxy {
  host: string;
  url: string;
  /** Requests seen, as "GET /v2/…" (query dropped). */
  requests: string[];
  count(re: RegExp): number;
  corruptBlobs: boolean;
  /** When set, every request is answered with this status and a registry error body (nothing reaches the upstream). */
  failWith?: 401 | 500 | 503;
  close(): Promise<void>;
}

export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const state: CountingProxy = {
    host: '',
    url: '',
    requests: [],
    count: (re) => state.requests.filter((r) => re.test(r)).length,
    corruptBlobs: false,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    state.requests.push(`${req.method} ${path}`);
    if (state.failWith) {
      const code = state.failWith === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE';
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (state.failWith === 401) headers['www-authenticate'] = 'Basic realm="upstream"';
      req.resume();
      res
        .writeHead(state.failWith, headers)
        .end(JSON.stringify({ errors: [{ code, message: `test upstream answers ${state.failWith}` }] }));
      return;
    }
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (state.corruptBlobs && req.method === 'GET' && /\/blobs\/sha256:/.test(path) && ur.statusCode === 200) {
          let first = true;
          const flip = new Transform({
            transform(chunk: Buffer, _e, cb) {
              if (first && chunk.length) {
                first = false;
                const c = Buffer.from(chunk);
                c[0] ^= 0xff;
                return cb(null, c);
              }
              cb(null, chunk);
            },
          });
          ur.pipe(flip).pipe(res);
        } else ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  state.host = `127.0.0.1:${port}`;
  state.url = `http://${state.host}`;
  return state;
}
