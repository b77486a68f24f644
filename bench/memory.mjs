#!/usr/bin/env node
// Memory under large blobs: start a fresh Berth, push one big blob (default 2 GiB, generated on the
// fly and streamed, never held in memory), then pull it with N concurrent clients all at once,
// sampling the server's resident memory (VmRSS from /proc/PID/status) every 100 ms throughout.
// Prints the peak RSS during each push and during the pulls. Target: under 200 MB.
//
//   node bench/memory.mjs [--gib 2] [--clients 16] [--modes put,chunked,stream] [--chunk-mib 8]
//                         [--sample-ms 100] [--limit-mb 200] [--tmpdir DIR] [--slow-mbps 0] [--json FILE]
//
// Push modes (one blob each, in order; the pulls read the first one):
//   put      POST /blobs/uploads/ then one PUT ?digest= carrying the whole blob (monolithic)
//   chunked  POST then PATCHes of --chunk-mib MiB each, then PUT ?digest= with no body
//   stream   POST then ONE PATCH carrying the whole blob (streamed upload), then PUT ?digest=
// --slow-mbps N makes each pulling client read at most N MB/s (0: as fast as it can), to check
// that a slow reader does not make the server buffer.
import crypto from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { parseArgs, freePort, makeTempDir, removeDir, startBerth, rssSampler, rssBytes, cpuSeconds } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  gib: 2,
  clients: 16,
  modes: 'put',
  'chunk-mib': 8,
  'sample-ms': 100,
  'limit-mb': 200,
  tmpdir: os.tmpdir(),
  'slow-mbps': 0,
  json: '',
  repo: 'bench/memory',
});
const log = (s) => process.stderr.write(s + '\n');
const MiB = 2 ** 20;
const total = Math.round(opt.gib * 1024) * MiB;
const BLOCK = 1 * MiB;

/** Deterministic content: a random 1 MiB block per seed, each copy stamped with its index. */
function content(seed) {
  const block = crypto.createHash('sha512').update(`seed-${seed}`).digest();
  const buf = Buffer.alloc(BLOCK);
  // Expand the seed into 1 MiB of incompressible-looking bytes (AES-CTR keystream).
  const cipher = crypto.createCipheriv('aes-256-ctr', block.subarray(0, 32), block.subarray(32, 48));
  cipher.update(buf).copy(buf);
  return {
    /** A Readable of `bytes` bytes, in `chunkBytes` pieces starting at `start`, with backpressure. */
    stream(start = 0, bytes = total) {
      let off = start;
      const end = start + bytes;
      return new Readable({
        highWaterMark: BLOCK,
        read() {
          if (off >= end) return this.push(null);
          const idx = Math.floor(off / BLOCK);
          const inBlock = off % BLOCK;
          const piece = Buffer.from(buf);
          piece.writeUInt32LE(idx, 0);
          const n = Math.min(BLOCK - inBlock, end - off);
          off += n;
          this.push(piece.subarray(inBlock, inBlock + n));
        },
      });
    },
    async digest() {
      const h = crypto.createHash('sha256');
      for await (const c of this.stream()) h.update(c);
      return 'sha256:' + h.digest('hex');
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function request(base, method, path, { headers = {}, body, onData } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, agent, headers }, (res) => {
      let n = 0;
      const chunks = [];
      res.on('data', (c) => {
        n += c.length;
        if (onData) onData(c, res);
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: n, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && typeof body.pipe === 'function') body.pipe(req);
    else req.end(body);
  });
}
function expect(res, code, what) {
  if (res.status !== code) throw new Error(`${what}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}
const loc = (res, base) => {
  const u = new URL(res.headers.location, base);
  return u.pathname + u.search;
};
const withQuery = (l, q) => l + (l.includes('?') ? '&' : '?') + q;

async function push(base, mode, seed) {
  const c = content(seed);
  const t0 = performance.now();
  let digest;
  const start = expect(
    await request(base, 'POST', `/v2/${opt.repo}/blobs/uploads/`, { headers: { 'content-length': '0' } }),
    202,
    'start upload',
  );
  let l = loc(start, base);
  if (mode === 'put') {
    digest = await c.digest(); // needed up front in the URL; costs one extra pass of generation on the client
    expect(
      await request(base, 'PUT', withQuery(l, `digest=${digest}`), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) },
        body: c.stream(),
      }),
      201,
      'monolithic PUT',
    );
  } else {
    const h = crypto.createHash('sha256');
    const chunk = mode === 'chunked' ? opt['chunk-mib'] * MiB : total;
    for (let off = 0; off < total; off += chunk) {
      const n = Math.min(chunk, total - off);
      const body = c.stream(off, n);
      body.on('data', (d) => h.update(d));
      const r = expect(
        await request(base, 'PATCH', l, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(n), 'content-range': `${off}-${off + n - 1}` },
          body,
        }),
        202,
        'PATCH',
      );
      l = loc(r, base);
    }
    digest = 'sha256:' + h.digest('hex');
    expect(await request(base, 'PUT', withQuery(l, `digest=${digest}`), { headers: { 'content-length': '0' } }), 201, 'finish upload');
  }
  const secs = (performance.now() - t0) / 1000;
  return { mode, digest, secs: +secs.toFixed(2), MBps: +(total / 1e6 / secs).toFixed(1) };
}

async function pullAll(base, digest, clients) {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const h = i === 0 ? crypto.createHash('sha256') : null; // one client verifies the bytes
      const slow = opt['slow-mbps'] > 0;
      let got = 0;
      const tStart = performance.now();
      const r = await request(base, 'GET', `/v2/${opt.repo}/blobs/${digest}`, {
        onData: (c, res) => {
          h?.update(c);
          got += c.length;
          if (slow) {
            const due = tStart + (got / 1e6 / opt['slow-mbps']) * 1000;
            const wait = due - performance.now();
            if (wait > 5) {
              res.pause();
              setTimeout(() => res.resume(), wait);
            }
          }
        },
      });
      if (r.status !== 200) throw new Error(`pull ${i}: HTTP ${r.status}`);
      if (r.bytes !== total) throw new Error(`pull ${i}: got ${r.bytes} bytes, expected ${total}`);
      if (h && 'sha256:' + h.digest('hex') !== digest) throw new Error('pulled bytes do not match the digest');
      return (performance.now() - tStart) / 1000;
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return {
    clients,
    secs: +secs.toFixed(2),
    aggregateMBps: +((clients * total) / 1e6 / secs).toFixed(1),
    slowestClientSecs: +Math.max(...results).toFixed(2),
  };
}

const mb = (b) => `${(b / 1e6).toFixed(1)} MB (${(b / MiB).toFixed(1)} MiB)`;

async function main() {
  const modes = opt.modes
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of modes) if (!['put', 'chunked', 'stream'].includes(m)) throw new Error(`unknown mode ${m}`);
  const dir = makeTempDir(opt.tmpdir, 'berth-memory-');
  tempDir = dir;
  let server;
  try {
    const port = await freePort();
    server = await startBerth({ dir, port, auth: 'none' });
    const base = server.url;
    log(
      `berth pid ${server.pid} on ${base}; blob ${opt.gib} GiB; modes ${modes.join(',')}; ${opt.clients} pulling clients; sampling every ${opt['sample-ms']} ms`,
    );
    await new Promise((r) => setTimeout(r, 500));
    const rss = rssSampler(server.pid, opt['sample-ms']);
    rss.mark('idle');
    await new Promise((r) => setTimeout(r, 1000));
    const pushes = [];
    for (const [i, mode] of modes.entries()) {
      rss.mark(`push:${mode}`);
      const cpu0 = cpuSeconds(server.pid);
      const p = await push(base, mode, i + 1);
      p.serverCpuSecs = +(cpuSeconds(server.pid) - cpu0).toFixed(2);
      pushes.push(p);
      log(`push ${mode}: ${JSON.stringify(p)}`);
    }
    rss.mark('between');
    await new Promise((r) => setTimeout(r, 1000));
    rss.mark('pull');
    const cpu0 = cpuSeconds(server.pid);
    const pull = await pullAll(base, pushes[0].digest, opt.clients);
    pull.serverCpuSecs = +(cpuSeconds(server.pid) - cpu0).toFixed(2);
    log(`pull: ${JSON.stringify(pull)}`);
    rss.mark('after');
    await new Promise((r) => setTimeout(r, 1000));
    const phases = rss.stop();
    const limit = opt['limit-mb'] * 1e6;
    const lines = [];
    lines.push(`Berth memory, ${new Date().toISOString()}, blob ${opt.gib} GiB, VmRSS sampled every ${opt['sample-ms']} ms`);
    lines.push('');
    lines.push('| Phase | Samples | RSS at start | Peak RSS | Throughput | Under target? |');
    lines.push('|---|---:|---:|---:|---:|---|');
    for (const [name, p] of phases) {
      if (name === 'start') continue;
      let thr = '';
      const pm = /^push:(.*)$/.exec(name);
      if (pm) thr = `${pushes.find((x) => x.mode === pm[1]).MBps} MB/s`;
      if (name === 'pull')
        thr = `${pull.aggregateMBps} MB/s aggregate (${opt.clients} clients${opt['slow-mbps'] ? `, each ≤ ${opt['slow-mbps']} MB/s` : ''})`;
      const judged = name.startsWith('push') || name === 'pull';
      lines.push(
        `| ${name} | ${p.samples} | ${mb(p.first)} | ${mb(p.peak)} | ${thr} | ${judged ? (p.peak < limit ? 'yes' : `**no** (target < ${opt['limit-mb']} MB)`) : ''} |`,
      );
    }
    process.stdout.write(lines.join('\n') + '\n');
    if (opt.json)
      writeFileSync(
        opt.json,
        JSON.stringify({ date: new Date().toISOString(), gib: opt.gib, pushes, pull, phases: Object.fromEntries(phases) }, null, 2) + '\n',
      );
    const worst = Math.max(...[...phases].filter(([n]) => n.startsWith('push') || n === 'pull').map(([, p]) => p.peak));
    process.exitCode = worst < limit ? 0 : 2;
  } finally {
    agent.destroy();
    if (server) {
      log(`server RSS at stop: ${mb(rssBytes(server.pid) ?? 0)}`);
      await server.stop();
    }
    removeDir(dir);
  }
}

let tempDir;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    removeDir(tempDir);
    process.exit(130);
  }); // lib.mjs kills the server on exit
}
main().catch((e) => {
  log(`memory: ${e.stack ?? e.message}`);
  process.exitCode = 1;
});
