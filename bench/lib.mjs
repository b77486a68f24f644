// Shared helpers for the benchmarks: free ports, starting and stopping the two servers,
// /proc sampling (resident memory, CPU time) and the disk's fsync'd write throughput.
// Plain Node ESM, no dependencies.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// One port counter for every bench (BERTH_BENCH_PORTS), and one median.
import { freePort, median } from './lib/ab.mjs';

export { freePort, median };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REGBENCH = process.env.REGBENCH ?? '/work/shared/bench/regbench.mjs';
export const DISTRIBUTION_BIN = process.env.DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';

/** Parses --key value / --flag arguments into an object (same convention as regbench). */
export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    const val = next !== undefined && !next.startsWith('--') ? (i++, next) : 'true';
    if (!(key in defaults))
      throw new Error(
        `unknown option --${key} (known: ${Object.keys(defaults)
          .map((k) => '--' + k)
          .join(' ')})`,
      );
    out[key] = typeof defaults[key] === 'number' ? Number(val) : val;
    if (typeof defaults[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`--${key} needs a number`);
  }
  return out;
}

export function makeTempDir(base, prefix) {
  return mkdtempSync(path.join(base ?? os.tmpdir(), prefix));
}

export function removeDir(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

function getStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A server child process. `ready()` resolves once GET /v2/ answers 200.
 * `stop()` sends SIGTERM, then SIGKILL after a grace period; it never throws.
 */
class ServerProcess {
  constructor(name, cmd, args, url, opts = {}) {
    this.name = name;
    this.url = url;
    this.log = '';
    this.exited = null;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    this.pid = this.child.pid;
    const keep = (d) => {
      this.log = (this.log + d.toString()).slice(-20000);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.exitPromise = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve();
      }),
    );
    this.child.on('error', (e) => {
      this.log += `\nspawn error: ${e.message}`;
      this.exited ??= { code: -1, signal: null };
    });
    live.add(this);
  }

  async ready(timeoutMs = 60000, okStatuses = [200]) {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (this.exited) throw new Error(`${this.name} exited during start-up (${JSON.stringify(this.exited)}):\n${this.log}`);
      if (okStatuses.includes(await getStatus(this.url + '/v2/'))) return this;
      await sleep(100);
    }
    throw new Error(`${this.name} did not answer GET /v2/ with 200 within ${timeoutMs} ms:\n${this.log}`);
  }

  async stop(graceMs = 15000) {
    live.delete(this);
    if (this.exited) return;
    try {
      this.child.kill('SIGTERM');
    } catch {
      /* already gone */
    }
    const timedOut = await Promise.race([this.exitPromise.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut && !this.exited) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      await Promise.race([this.exitPromise, sleep(5000)]);
    }
  }
}

// Servers still running; killed synchronously if this process exits without stopping them.
const live = new Set();
process.on('exit', () => {
  for (const s of live) {
    try {
      s.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

// BERTH_ENTRY runs another entry point instead of bin/berth.js (e.g. a precompiled build), for experiments.
//
// auth 'none': AUTHENTICATION_TYPE: None (an open registry, like the peer as configured here).
// auth 'token': Berth's default Database accounts with the Docker token flow; a bootstrap superuser
// is created and SERVER_HOSTNAME points the token realm at this listener. The returned server has
// `credentials` { user, pass } for regbench.
// entry: another bin/berth.js (e.g. a checkout of an earlier commit, for before/after in one run);
// dbUri: PostgreSQL instead of the embedded SQLite (DB_URI).
/**
 * The environment and node flags of `npm start` in the checkout of `entry` (its bin/berth.js): package.json's
 * start script has the shape `[NAME=value ...] node [--flag ...] bin/berth.js serve`. An older checkout is started
 * as its own `npm start` would start it.
 */
export function startCommand(entry) {
  const pkg = JSON.parse(readFileSync(path.resolve(path.dirname(entry), '..', 'package.json'), 'utf8'));
  const m = /^((?:[A-Z_][A-Z0-9_]*=\S+ )*)node((?: --\S+)*) bin\/berth\.js serve$/.exec(pkg.scripts?.start ?? '');
  if (!m)
    throw new Error(`package.json's start script is not "[NAME=value ...] node [--flag ...] bin/berth.js serve": ${pkg.scripts?.start}`);
  const env = Object.fromEntries(
    m[1]
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { env, nodeFlags: m[2].trim().split(/\s+/).filter(Boolean) };
}

export async function startBerth({ dir, port, nodeArgs = [], auth = 'none', entry: entryArg, dbUri, env = {} }) {
  const url = `http://127.0.0.1:${port}`;
  const entry = entryArg ?? process.env.BERTH_ENTRY ?? path.join(ROOT, 'bin/berth.js');
  const cfg = path.join(dir, 'berth-config.yaml');
  let credentials;
  if (auth === 'none') {
    writeFileSync(cfg, 'AUTHENTICATION_TYPE: None\n');
  } else if (auth === 'token') {
    credentials = { user: 'bench', pass: randomBytes(12).toString('hex') };
    writeFileSync(
      cfg,
      [
        'AUTHENTICATION_TYPE: Database',
        `SERVER_HOSTNAME: 127.0.0.1:${port}`,
        'PREFERRED_URL_SCHEME: http',
        'BOOTSTRAP_ADMIN:',
        `  username: ${credentials.user}`,
        `  password: ${credentials.pass}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  } else {
    throw new Error(`unknown Berth auth mode "${auth}" (none or token)`);
  }
  // As `npm start` runs it (the entry's checkout's package.json; the images set the same): its node flags (a small
  // young generation, a slow-growing old one) and environment (MALLOC_ARENA_MAX).
  const start = startCommand(entry);
  const s = new ServerProcess(
    'berth',
    process.execPath,
    [...start.nodeFlags, ...nodeArgs, entry, 'serve', '--config', cfg, '--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data')],
    url,
    { env: { ...process.env, ...start.env, ...env, ...(dbUri ? { DB_URI: dbUri } : {}) } },
  );
  s.credentials = credentials;
  // With token auth GET /v2/ answers 401 with a challenge: that also means "ready".
  return s.ready(60000, auth === 'token' ? [200, 401] : [200]);
}

export async function startDistribution({ dir, port }) {
  const url = `http://127.0.0.1:${port}`;
  const cfg = path.join(dir, 'config.yml');
  writeFileSync(
    cfg,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  // Debian's package reads its default config from /etc; the explicit path overrides it.
  const s = new ServerProcess('distribution', DISTRIBUTION_BIN, ['serve', cfg], url);
  return s.ready();
}

/** Resident set size of a process in bytes (VmRSS), or null once it is gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const CLK_TCK = 100; // USER_HZ on Linux
/** User+system CPU seconds consumed by a process so far (all its threads). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

/** Samples VmRSS every `everyMs`; `mark(label)` switches the phase that the samples count toward. */
export function rssSampler(pid, everyMs = 100) {
  const phases = new Map();
  let phase = 'start';
  const sample = () => {
    const r = rssBytes(pid);
    if (r === null) return;
    const p = phases.get(phase) ?? { peak: 0, samples: 0, first: r, last: r };
    p.peak = Math.max(p.peak, r);
    p.samples++;
    p.last = r;
    phases.set(phase, p);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    mark(label) {
      sample();
      phase = label;
      sample();
    },
    stop() {
      clearInterval(timer);
      sample();
      return phases;
    },
    get overallPeak() {
      return Math.max(0, ...[...phases.values()].map((p) => p.peak));
    },
  };
}

/**
 * The disk's own durable sequential write throughput on the filesystem holding `dir`:
 * writes `mib` MiB in `chunkMiB` chunks with write(2), then one fsync(2), as a registry
 * that fsyncs a blob before committing it would. Returns MB/s (10^6 bytes per second).
 */
/**
 * `n` runs of diskFsyncWrite in a row; MBps is their median (`all` keeps each). One probe of a few hundred MiB can
 * fit the host's write cache and read 3× the disk's rate; the median of several is what the disk sustains.
 */
export function diskProbes(dir, mib, n, chunkMiB = 8) {
  const runs = Array.from({ length: n }, () => diskFsyncWrite(dir, mib, chunkMiB));
  const all = runs.map((r) => r.MBps);
  return { mib: runs[0].mib, MBps: median(all), all, fsyncSecs: runs.map((r) => r.fsyncSecs) };
}

export function diskFsyncWrite(dir, mib, chunkMiB = 8) {
  const file = path.join(dir, `disk-probe-${process.pid}`);
  const buf = Buffer.alloc(chunkMiB << 20);
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  const fd = openSync(file, 'w');
  const chunks = Math.ceil(mib / chunkMiB);
  try {
    const t0 = performance.now();
    for (let i = 0; i < chunks; i++) {
      buf.writeUInt32LE(i, 0);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    const tWritten = performance.now();
    fsyncSync(fd);
    const t1 = performance.now();
    const bytes = chunks * buf.length;
    return {
      mib: bytes / 2 ** 20,
      secs: +((t1 - t0) / 1000).toFixed(3),
      fsyncSecs: +((t1 - tWritten) / 1000).toFixed(3),
      MBps: +(bytes / 1e6 / ((t1 - t0) / 1000)).toFixed(1),
    };
  } finally {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      /* ignore */
    }
  }
}

/** Runs regbench against `url`; returns its per-scenario results, plus server CPU seconds per scenario. */
export function runRegbench(url, params, { serverPid, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const args = [REGBENCH, '--url', url];
    for (const [k, v] of Object.entries(params)) args.push(`--${k}`, String(v));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add({ child });
    let buf = '';
    let err = '';
    const results = {};
    let lastCpu = serverPid ? cpuSeconds(serverPid) : null;
    child.stdout.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let j;
        try {
          j = JSON.parse(line);
        } catch {
          continue;
        }
        if (j.summary) results.repo = j.repo;
        if (j.scenario) {
          const cpu = serverPid ? cpuSeconds(serverPid) : null;
          if (cpu !== null && lastCpu !== null) j.serverCpuSecs = +(cpu - lastCpu).toFixed(2);
          lastCpu = cpu;
          if (serverPid) j.serverRssMiB = +((rssBytes(serverPid) ?? 0) / 2 ** 20).toFixed(1);
          results[j.scenario] = j;
          onLine?.(j);
        }
      }
    });
    child.stderr.on('data', (d) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      for (const x of live) if (x.child === child) live.delete(x);
      if (code === 0) resolve(results);
      else reject(new Error(`regbench against ${url} failed (exit ${code}): ${err.trim()}`));
    });
  });
}

/** GET of a path (keep-alive agent given), resolving with status, headers and body text. */
export function get(url, agent, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * The Docker token flow for `repository:<repo>:<actions>` when the server challenges `GET /v2/` and `credentials`
 * are given: the Authorization header value ("Bearer …"), else undefined (an open server, or no credentials).
 */
export async function bearerToken(base, repo, actions, credentials, agent) {
  if (!credentials) return undefined;
  const probe = await get(new URL('/v2/', base), agent);
  if (probe.status !== 401) return undefined;
  const kv = Object.fromEntries([...String(probe.headers['www-authenticate']).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const u = new URL(kv.realm);
  if (kv.service) u.searchParams.set('service', kv.service);
  u.searchParams.set('scope', `repository:${repo}:${actions}`);
  const basic = `Basic ${Buffer.from(`${credentials.user}:${credentials.pass}`).toString('base64')}`;
  const t = await get(u, agent, { authorization: basic });
  if (t.status !== 200) throw new Error(`token endpoint: HTTP ${t.status}`);
  const j = JSON.parse(t.text);
  return `Bearer ${j.token ?? j.access_token}`;
}

/**
 * Walks the whole tag list of `repo` without asking for a page size (the server's own page size),
 * following Link headers; best of `tries` walks. The peer (distribution 2.8) ignores `n` and answers
 * in one page, so this is the like-for-like counterpart of regbench's n=100 walk.
 */
export async function unpagedTagWalk(base, repo, tries = 5, credentials) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let best = null;
  const headers = {};
  try {
    const bearer = await bearerToken(base, repo, 'pull', credentials, agent);
    if (bearer) headers.authorization = bearer;
    for (let t = 0; t < tries; t++) {
      const t0 = performance.now();
      let next = `/v2/${repo}/tags/list`;
      let tags = 0;
      let pages = 0;
      while (next) {
        const r = await get(new URL(next, base), agent, headers);
        if (r.status !== 200) throw new Error(`tags/list: HTTP ${r.status}`);
        tags += (JSON.parse(r.text).tags ?? []).length;
        pages++;
        const m = /<([^>]+)>/.exec(r.headers.link ?? '');
        next = m ? m[1] : null;
      }
      const ms = performance.now() - t0;
      if (!best || ms < best.ms) best = { ms: +ms.toFixed(1), tags, pages };
    }
  } finally {
    agent.destroy();
  }
  return best;
}

/**
 * Starts `n` CPU-bound busy-loop processes (a machine with other work on it); `stop()` ends them.
 * They are also killed if this process exits without stopping them.
 */
export function startLoad(n) {
  const procs = [];
  for (let i = 0; i < n; i++) {
    const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    const entry = { child };
    live.add(entry);
    procs.push(entry);
  }
  return {
    pids: procs.map((p) => p.child.pid),
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise((resolve) => {
              live.delete(p);
              if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
              p.child.once('exit', resolve);
              p.child.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/**
 * A fresh, empty PostgreSQL database for one Berth (dropped by `drop()`), created through the
 * admin URI (default the test cluster: postgresql://postgres@127.0.0.1:5432/test, env BENCH_PG).
 */
export async function createPostgresDatabase(adminUri = process.env.BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432/test') {
  const { default: pg } = await import('pg');
  const name = `berth_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUri });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(adminUri);
  u.pathname = `/${name}`;
  return {
    uri: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: adminUri });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/** A request whose answer is read whole (status, headers, text). */
export function request(method, url, { body, headers = {}, agent }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** regbench's push_big: POST, one PATCH per chunk, PUT ?digest= into `repo` (default bench/big); the blob's URL and the
 * wall ms. */
export async function pushChunked(base, chunks, digest, { repo = 'bench/big', authorization } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const auth = authorization ? { authorization } : {};
  const t0 = performance.now();
  const start = await request('POST', new URL(`/v2/${repo}/blobs/uploads/`, base), { headers: { 'content-length': '0', ...auth }, agent });
  if (start.status !== 202) throw new Error(`POST: ${start.status} ${start.text}`);
  let loc = new URL(start.headers.location, base);
  let off = 0;
  for (const c of chunks) {
    const r = await request('PATCH', loc, {
      body: c,
      agent,
      headers: {
        ...auth,
        'content-type': 'application/octet-stream',
        'content-length': String(c.length),
        'content-range': `${off}-${off + c.length - 1}`,
      },
    });
    if (r.status !== 202) throw new Error(`PATCH: ${r.status} ${r.text}`);
    off += c.length;
    loc = new URL(r.headers.location, base);
  }
  loc.searchParams.set('digest', digest);
  const put = await request('PUT', loc, { headers: { 'content-length': '0', ...auth }, agent });
  if (put.status !== 201) throw new Error(`PUT: ${put.status} ${put.text}`);
  agent.destroy();
  return { ms: performance.now() - t0, url: `${base}/v2/${repo}/blobs/${digest}` };
}

/** A node:http server (run with `node -e`, argv[1]: bytes per response) writing one 1 MiB buffer again and again with
 * backpressure: the ceiling of a pull client on this machine. Prints its port. */
export const TRIVIAL_SERVER = `
const http = require('node:http');
const bytes = Number(process.argv[1]);
const buf = require('node:crypto').randomBytes(1 << 20);
const srv = http.createServer((req, res) => {
  res.writeHead(200, { 'content-length': bytes, 'content-type': 'application/octet-stream' });
  let left = bytes / buf.length;
  const pump = () => {
    while (left > 0) {
      left--;
      if (!res.write(buf)) return res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`;

/** `mib` MiB of random bytes in 8 MiB chunks (regbench's PATCH size) and their digest. */
export function randomChunks(mib) {
  const chunks = [];
  const h = createHash('sha256');
  for (let i = 0; i < mib / 8; i++) {
    const c = randomFillSync(Buffer.allocUnsafe(8 << 20));
    h.update(c);
    chunks.push(c);
  }
  return { chunks, digest: `sha256:${h.digest('hex')}`, bytes: mib << 20 };
}

/** A pull client run with `node -e` (argv: url, mode, optional Authorization value) that reads as regbench's pull_big
 * does ('data' events; `hash`: SHA-256 per chunk) or only counts (`count`); prints status, bytes, ms, chunks, digest
 * and its own CPU seconds as JSON. */
export const PULL_CLIENT = `
const http = require('node:http');
const crypto = require('node:crypto');
const [url, mode, authorization] = process.argv.slice(1);
const agent = new http.Agent({ keepAlive: true });
const c0 = process.cpuUsage();
const t0 = performance.now();
http.get(url, { agent, headers: authorization ? { authorization } : {} }, (res) => {
  const h = mode === 'hash' ? crypto.createHash('sha256') : undefined;
  let n = 0, chunks = 0;
  res.on('data', (c) => { h?.update(c); n += c.length; chunks++; });
  res.on('end', () => {
    const ms = performance.now() - t0;
    const cu = process.cpuUsage(c0);
    process.stdout.write(JSON.stringify({ status: res.statusCode, bytes: n, ms, chunks, digest: h ? 'sha256:' + h.digest('hex') : undefined, cpu: (cu.user + cu.system) / 1e6 }));
    agent.destroy();
  });
}).on('error', (e) => { console.error(e); process.exit(1); });
`;

/** One pull of `url` by PULL_CLIENT in its own process (as regbench pulls: a client process beside the server). */
export function pullInChild(url, mode, authorization) {
  return new Promise((resolve, reject) => {
    const args = ['-e', PULL_CLIENT, url, mode, ...(authorization ? [authorization] : [])];
    const ch = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    ch.stdout.on('data', (c) => (out += c));
    ch.on('error', reject);
    ch.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`pull client exit ${code}`))));
  });
}

/**
 * regbench's pull_big repeated: pushes `mib` MiB of fresh random bytes to `repo` (token flow when the server asks and
 * `credentials` are given), then pulls it `tries` times with the hashing client, each checked against the digest.
 * Returns the median and every MB/s, and the server's CPU seconds per pull (median) when `serverPid` is given.
 * One regbench pull per server is noise (per-pull ratios 0.3–2.9× between the same two servers); this is the line to
 * read for large pulls.
 */
export async function repeatedPull(base, { mib, tries = 5, credentials, serverPid, repo = 'bench/pull' }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let authorization;
  try {
    authorization = await bearerToken(base, repo, 'pull,push', credentials, agent);
  } finally {
    agent.destroy();
  }
  const blob = randomChunks(mib);
  const { url } = await pushChunked(base, blob.chunks, blob.digest, { repo, authorization });
  blob.chunks.length = 0;
  const all = [];
  const cpu = [];
  for (let i = 0; i < tries; i++) {
    const c0 = serverPid ? cpuSeconds(serverPid) : 0;
    const r = await pullInChild(url, 'hash', authorization);
    if (serverPid) cpu.push(cpuSeconds(serverPid) - c0);
    if (r.status !== 200 || r.bytes !== blob.bytes || r.digest !== blob.digest) {
      throw new Error(`pull of ${url}: HTTP ${r.status}, ${r.bytes} bytes, ${r.digest}`);
    }
    all.push(+(r.bytes / 1e6 / (r.ms / 1000)).toFixed(1));
  }
  return { MBps: median(all), all, ...(serverPid ? { serverCpuSecs: +median(cpu).toFixed(2) } : {}) };
}
