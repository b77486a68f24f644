#!/usr/bin/env node
// The read path side by side: Berth (SQLite and/or PostgreSQL) against distribution 2.8, in one run, the
// order alternating, the load average written beside every figure.
//
//   node bench/read-path.mjs [--db sqlite|postgres|both] [--big-mib 1024] [--pull-mib 1024] [--pulls 3]
//                            [--small 500] [--conc 16] [--reqs 10000] [--tags 10000] [--rounds 1]
//                            [--berth-auth none|token] [--node-flags "max-semi-space-size=4 ..."] [--json FILE]
//                            [--only regbench,pull]
//
// For each round and each Berth database, Berth and the peer in turn (which goes first alternates):
//   regbench  the whole workload (../shared/bench/regbench.mjs), server CPU per scenario, peak RSS
//   pull      one --pull-mib blob pushed monolithically, then GET --pulls times by a client that only counts
//             bytes (no hashing: the 2 cores are shared by client and server); best and median MB/s.
// Once per run, the raw ceilings of the same machine for a file in the page cache: `cat file > /dev/null`
// and a 20-line node:http server piping fs.createReadStream to the socket.
// --node-flags: node options for Berth without their leading dashes (the argument parser takes "--x" for an option).
// PostgreSQL: a fresh database on BERTH_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/test) per server.
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  parseArgs,
  freePort,
  makeTempDir,
  removeDir,
  startBerth,
  startDistribution,
  runRegbench,
  rssSampler,
  cpuSeconds,
  ROOT,
} from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  db: 'both',
  'big-mib': 1024,
  'pull-mib': 1024,
  pulls: 3,
  small: 500,
  conc: 16,
  reqs: 10000,
  tags: 10000,
  rounds: 1,
  'berth-auth': 'none',
  'node-flags': '',
  json: '',
  only: 'regbench,pull',
  tmpdir: os.tmpdir(),
});
const PG = process.env.BERTH_BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432/test';
const only = new Set(opt.only.split(','));
const log = (s) => process.stderr.write(s + '\n');
const load = () => os.loadavg()[0].toFixed(1);
const workload = { 'big-mib': opt['big-mib'], small: opt.small, conc: opt.conc, reqs: opt.reqs, tags: opt.tags };

async function pgDatabase() {
  const { default: pg } = await import('pg');
  const name = `berth_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return {
    uri: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: PG });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

function request(method, url, { body, headers = {}, agent, discard } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        if (!discard) chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, bytes, text: discard ? '' : Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body && typeof body.pipe === 'function') body.pipe(req);
    else req.end(body);
  });
}

/** A file of `mib` MiB of random bytes (8 MiB pattern, counter-stamped), and its digest. */
function makeBlob(dir, mib) {
  const file = path.join(dir, 'pull-blob');
  const fd = openSync(file, 'w');
  const h = createHash('sha256');
  const chunk = randomBytes(8 << 20);
  for (let i = 0; i < Math.ceil(mib / 8); i++) {
    chunk.writeUInt32LE(i, 0);
    writeSync(fd, chunk);
    h.update(chunk);
  }
  closeSync(fd);
  return { file, digest: `sha256:${h.digest('hex')}`, bytes: Math.ceil(mib / 8) * (8 << 20) };
}

/** Pushes the blob (POST + one PUT with the body) to `repo`, then GETs it `n` times counting bytes only. */
async function pullBench(base, repo, blob, n, authHeader) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = authHeader ? { authorization: authHeader } : {};
  const post = await request('POST', new URL(`/v2/${repo}/blobs/uploads/`, base), { headers, agent });
  if (post.status !== 202) throw new Error(`upload start: HTTP ${post.status} ${post.text}`);
  const loc = new URL(post.headers.location, base);
  loc.searchParams.set('digest', blob.digest);
  const put = await request('PUT', loc, {
    body: createReadStream(blob.file),
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(blob.bytes) },
    agent,
  });
  if (put.status !== 201) throw new Error(`upload PUT: HTTP ${put.status} ${put.text}`);
  const runs = [];
  for (let i = 0; i < n; i++) {
    const l0 = load();
    const t0 = performance.now();
    const r = await request('GET', new URL(`/v2/${repo}/blobs/${blob.digest}`, base), { headers, agent, discard: true });
    const secs = (performance.now() - t0) / 1000;
    if (r.status !== 200 || r.bytes !== blob.bytes) throw new Error(`pull: HTTP ${r.status}, ${r.bytes} bytes`);
    runs.push({ MBps: +(blob.bytes / 1e6 / secs).toFixed(0), load: l0 });
  }
  agent.destroy();
  const sorted = runs.map((r) => r.MBps).sort((a, b) => a - b);
  return { best: sorted.at(-1), median: sorted[Math.floor(sorted.length / 2)], runs };
}

/** The machine's own ceilings for the same file, from the page cache. */
async function ceilings(blob, n) {
  const cat = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    spawnSync('sh', ['-c', `cat '${blob.file}' > /dev/null`]);
    cat.push(+(blob.bytes / 1e6 / ((performance.now() - t0) / 1000)).toFixed(0));
  }
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': blob.bytes, 'content-type': 'application/octet-stream' });
    createReadStream(blob.file).pipe(res);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const node = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await request('GET', `http://127.0.0.1:${srv.address().port}/`, { agent, discard: true });
    if (r.bytes !== blob.bytes) throw new Error('ceiling server sent short');
    node.push(+(blob.bytes / 1e6 / ((performance.now() - t0) / 1000)).toFixed(0));
  }
  agent.destroy();
  srv.close();
  return { cat: Math.max(...cat), nodeStream: Math.max(...node), load: load() };
}

async function bearerFor(base, creds, repo) {
  if (!creds) return undefined;
  const first = await request('GET', new URL('/v2/', base));
  const kv = Object.fromEntries([...String(first.headers['www-authenticate']).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const u = new URL(kv.realm);
  if (kv.service) u.searchParams.set('service', kv.service);
  u.searchParams.set('scope', `repository:${repo}:pull,push`);
  const t = await request('GET', u, {
    headers: { authorization: 'Basic ' + Buffer.from(`${creds.user}:${creds.pass}`).toString('base64') },
  });
  return `Bearer ${JSON.parse(t.text).token}`;
}

async function benchOne(kind, db, blob) {
  const dir = makeTempDir(opt.tmpdir, `berth-read-${kind}-`);
  let pgdb;
  const port = await freePort();
  let server;
  try {
    if (kind === 'berth') {
      if (db === 'postgres') {
        pgdb = await pgDatabase();
        process.env.DB_URI = pgdb.uri;
      } else delete process.env.DB_URI;
      server = await startBerth({
        dir,
        port,
        auth: opt['berth-auth'],
        nodeArgs: opt['node-flags'] ? opt['node-flags'].split(' ').map((f) => `--${f}`) : [],
      });
    } else server = await startDistribution({ dir, port });
    const out = { loadStart: load() };
    const rss = rssSampler(server.pid, 100);
    if (only.has('regbench')) {
      const creds = server.credentials ? { user: server.credentials.user, pass: server.credentials.pass } : {};
      out.regbench = await runRegbench(
        server.url,
        { ...workload, ...creds },
        {
          serverPid: server.pid,
          onLine: (j) => {
            j.load = load();
            rss.mark(j.scenario);
            log(`  ${kind}${kind === 'berth' ? `/${db}` : ''}: ${JSON.stringify(j)}`);
          },
        },
      );
    }
    out.peakRssMiB = +(rss.overallPeak / 2 ** 20).toFixed(1);
    if (only.has('pull')) {
      rss.mark('pull');
      const c0 = cpuSeconds(server.pid);
      // The Docker token flow for Berth with token auth: a push+pull token for the pull repository.
      const repo = `bench/pull${Date.now().toString(36)}`;
      out.pull = await pullBench(server.url, repo, blob, opt.pulls, await bearerFor(server.url, server.credentials, repo));
      out.pull.serverCpuSecs = +(cpuSeconds(server.pid) - c0).toFixed(2);
      out.pull.peakRssMiB = +(rss.overallPeak / 2 ** 20).toFixed(1);
      log(`  ${kind}${kind === 'berth' ? `/${db}` : ''}: pull ${JSON.stringify(out.pull)}`);
    }
    rss.stop();
    out.loadEnd = load();
    return out;
  } finally {
    await server?.stop();
    await pgdb?.drop().catch(() => undefined);
    delete process.env.DB_URI;
    removeDir(dir);
  }
}

async function main() {
  // bin/berth.js runs the TypeScript sources through tsx (about 50 MB more) when dist/ is older than them.
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs'), '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('scripts/build-server.mjs failed');
  const dbs = opt.db === 'both' ? ['sqlite', 'postgres'] : [opt.db];
  const scratch = makeTempDir(opt.tmpdir, 'berth-read-blob-');
  const all = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model}`,
    node: process.version,
    workload,
    opt,
    rounds: [],
  };
  try {
    const blob = only.has('pull') ? makeBlob(scratch, opt['pull-mib']) : undefined;
    if (blob) {
      all.ceilings = await ceilings(blob, opt.pulls);
      log(`ceilings (page cache, ${opt['pull-mib']} MiB): ${JSON.stringify(all.ceilings)}`);
    }
    let berthFirst = true;
    for (let round = 1; round <= opt.rounds; round++) {
      for (const db of dbs) {
        const res = { round, db };
        for (const kind of berthFirst ? ['berth', 'distribution'] : ['distribution', 'berth']) {
          log(`[round ${round}, ${db}] ${kind} (load ${load()})`);
          res[kind] = await benchOne(kind, db, blob);
        }
        res.order = berthFirst ? 'berth first' : 'peer first';
        berthFirst = !berthFirst;
        all.rounds.push(res);
        process.stdout.write(table(res) + '\n');
      }
    }
  } finally {
    removeDir(scratch);
  }
  if (all.ceilings)
    process.stdout.write(
      `ceilings (${opt['pull-mib']} MiB in page cache): cat ${all.ceilings.cat} MB/s, node stream ${all.ceilings.nodeStream} MB/s (load ${all.ceilings.load})\n`,
    );
  if (opt.json) writeFileSync(opt.json, JSON.stringify(all, null, 2) + '\n');
}

function table(r) {
  const b = r.berth;
  const p = r.distribution;
  const rows = [];
  const f = (x) => (x === undefined || x === null ? 'n/a' : Number(x).toFixed(1));
  const row = (name, metric, bv, pv, bl, pl, lower) =>
    rows.push(
      `| ${name} | ${metric} | ${f(bv)} (${bl ?? '?'}) | ${f(pv)} (${pl ?? '?'}) | ${bv > 0 && pv > 0 ? (lower ? pv / bv : bv / pv).toFixed(2) + '×' : 'n/a'} |`,
    );
  const s = (o, k) => o.regbench?.[k];
  for (const [k, metric, field, lower] of [
    ['push_big', 'MB/s', 'MBps'],
    ['pull_big', 'MB/s', 'MBps'],
    ['push_small', 'manifests/s', 'perSec'],
    ['get_manifest', 'req/s', 'perSec'],
    ['get_manifest', 'p99 ms', 'p99ms', true],
    ['head_blob', 'req/s', 'perSec'],
    ['head_blob', 'p99 ms', 'p99ms', true],
    ['tags_list', 'walk ms', 'walkMs', true],
  ]) {
    if (s(b, k) || s(p, k)) row(k, metric, s(b, k)?.[field], s(p, k)?.[field], s(b, k)?.load, s(p, k)?.load, lower);
  }
  for (const k of ['push_big', 'pull_big', 'push_small', 'get_manifest', 'head_blob', 'tags_list']) {
    if (s(b, k) || s(p, k)) row(`${k} server CPU`, 's', s(b, k)?.serverCpuSecs, s(p, k)?.serverCpuSecs, s(b, k)?.load, s(p, k)?.load, true);
  }
  if (b.pull) {
    row(
      `pull ${opt['pull-mib']} MiB, counting client (best of ${opt.pulls})`,
      'MB/s',
      b.pull.best,
      p.pull.best,
      b.pull.runs.at(-1).load,
      p.pull.runs.at(-1).load,
    );
    row('↳ median', 'MB/s', b.pull.median, p.pull.median, '', '');
    row('↳ server CPU for the pulls', 's', b.pull.serverCpuSecs, p.pull.serverCpuSecs, '', '', true);
  }
  row('peak RSS (regbench)', 'MiB', b.peakRssMiB, p.peakRssMiB, b.loadEnd, p.loadEnd, true);
  return [
    `### Berth (${r.db}, auth ${opt['berth-auth']}) vs distribution 2.8 — round ${r.round}, ${r.order}, ${new Date().toISOString()}`,
    '',
    '| Scenario | Metric | Berth (load) | distribution (load) | Ratio (>1 = Berth better) |',
    '|---|---|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

main().catch((e) => {
  log(`read-path: ${e.stack ?? e.message}`);
  process.exit(1);
});
