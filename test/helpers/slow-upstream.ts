// An HTTP forwarder in front of a real registry for tests that must catch a sync in the middle: every response
// body is passed on at a limited rate, and every request is recorded (method and path), so a test can see what
// a sync fetched and how often. It forwards to the registry as it is; nothing is answered by the forwarder itself.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowUpstream {
  /** 127.0.0.1:<port> */
  host: string;
  /** Requests seen, in order: "GET /v2/…". */
  requests: string[];
  /** Requests whose whole response body was passed on, in order. */
  completed: string[];
  /** Bytes per second of response bodies (change at any time). */
  rate: number;
  close(): Promise<void>;
}

export async function startSlowUpstream(target: string, bytesPerSecond: number): Promise<SlowUpstream> {
  const requests: string[] = [];
  const completed: string[] = [];
  const state = { rate: bytesPerSecond };
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = http.request(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      // A fixed budget per 50 ms tick: the body trickles at `rate` bytes per second.
      let queue: Buffer[] = [];
      let ended = false;
      const tick = setInterval(() => {
        let budget = Math.max(1, Math.floor(state.rate / 20));
        while (budget > 0 && queue.length) {
          const c = queue[0];
          const n = Math.min(budget, c.length);
          res.write(c.subarray(0, n));
          budget -= n;
          if (n === c.length) queue.shift();
          else queue[0] = c.subarray(n);
        }
        if (!queue.length && ended) {
          clearInterval(tick);
          res.end(() => completed.push(`${req.method} ${req.url}`));
        }
      }, 50);
      ur.on('data', (c: Buffer) => queue.push(c));
      ur.on('end', () => {
        ended = true;
      });
      const stop = () => {
        clearInterval(tick);
        queue = [];
        ur.destroy();
      };
      res.on('close', stop);
      ur.on('error', () => {
        stop();
        res.destroy();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    completed,
    get rate() {
      return state.rate;
    },
    set rate(v: number) {
      state.rate = v;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
