#!/usr/bin/env node
// Large pushes and pulls, with the machine's own ceilings measured in the same run.
//
//   node bench/big-io.mjs [--mib 512] [--rounds 3] [--pulls 3] [--baseline BERTH_JS] [--peer yes|no] [--tmpdir DIR]
//                         [--json FILE]
//
// Ceilings (once per round, a 512 MiB file in the page cache):
//   cat       `cat file > /dev/null`
//   trivial   a node:http server that writes one 1 MiB buffer again and again (with backpressure), received by
//             curl -o /dev/null, by a client that hashes every byte with SHA-256 the way regbench's pull_big does
//             ('data' events, hash.update), and by one that only counts bytes.
// Then each server in turn (Berth, the --baseline Berth if given, distribution 2.8 unless --peer no; the order
// rotates every round), on a fresh data dir:
//   disk      write --mib MiB + fsync on the same filesystem, just before (bench/lib.mjs diskFsyncWrite)
//   push      POST, --mib/8 PATCHes of 8 MiB, PUT ?digest= (regbench's push_big), MB/s and its share of `disk`
//   pull      GET of that blob --pulls times with each client (curl, hash, count): best MB/s
// Server CPU seconds (/proc) for the push and for each client's pulls, and the 1-minute load beside every figure.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  cpuSeconds,
  diskFsyncWrite,
  freePort,
  makeTempDir,
  parseArgs,
  pushChunked,
  randomChunks,
  removeDir,
  TRIVIAL_SERVER,
  startBerth,
  startDistribution,
} from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { mib: 512, rounds: 3, pulls: 3, baseline: '', peer: 'yes', tmpdir: os.tmpdir(), json: '' });
const MIB = Number(opt.mib);
const log = (s) => process.stderr.write(`${s}\n`);
const load = () => +os.loadavg()[0].toFixed(1);
const mbps = (bytes, ms) => +(bytes / 1e6 / (ms / 1000)).toFixed(0);

/** GET with node:http; `hash`: SHA-256 every byte as regbench's pull_big does, else only count. */
function nodeGet(url, agent, hash) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const h = hash ? createHash('sha256') : undefined;
        let n = 0;
        res.on('data', (c) => {
          h?.update(c);
          n += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode, bytes: n, digest: h ? `sha256:${h.digest('hex')}` : undefined }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** curl -o /dev/null in a child (asynchronously: the trivial server answers from this process). */
function curlGet(url) {
  return new Promise((resolve, reject) => {
    const ch = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', url]);
    let out = '';
    ch.stdout.on('data', (c) => (out += c));
    ch.on('error', reject);
    ch.on('close', () => {
      const [status, bytes] = out.trim().split(' ').map(Number);
      resolve({ status, bytes });
    });
  });
}

/** Best MB/s (and its load) and server CPU seconds over `n` pulls with one client. */
async function pulls(url, expectBytes, client, n, pid, expectDigest) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const c0 = pid ? cpuSeconds(pid) : 0;
  let best = 0;
  let bestLoad = 0;
  for (let i = 0; i < n; i++) {
    const l = load();
    const t0 = performance.now();
    const r = client === 'curl' ? await curlGet(url) : await nodeGet(url, agent, client === 'hash');
    const ms = performance.now() - t0;
    if (r.status !== 200 || r.bytes !== expectBytes) throw new Error(`${client} pull of ${url}: HTTP ${r.status}, ${r.bytes} bytes`);
    if (r.digest && expectDigest && r.digest !== expectDigest) throw new Error(`${client} pull of ${url}: digest ${r.digest}`);
    if (mbps(r.bytes, ms) > best) {
      best = mbps(r.bytes, ms);
      bestLoad = l;
    }
  }
  agent.destroy();
  return { MBps: best, load: bestLoad, cpu: pid ? +((cpuSeconds(pid) - c0) / n).toFixed(2) : undefined };
}

async function ceilings(file, bytes) {
  let cat = 0;
  const catLoad = load();
  for (let i = 0; i < Number(opt.pulls); i++) {
    const t0 = performance.now();
    spawnSync('sh', ['-c', `cat '${file}' > /dev/null`]);
    cat = Math.max(cat, mbps(bytes, performance.now() - t0));
  }
  // In its own process, as a server would be (the clients below run in this one).
  const srv = spawn(process.execPath, ['-e', TRIVIAL_SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    srv.stdout.once('data', (c) => resolve(Number(String(c).trim())));
    srv.once('error', reject);
  });
  const url = `http://127.0.0.1:${port}/`;
  const out = { cat: { MBps: cat, load: catLoad } };
  for (const c of ['curl', 'hash', 'count']) out[`trivial_${c}`] = await pulls(url, bytes, c, Number(opt.pulls));
  srv.kill();
  return out;
}

async function server(kind, chunks, digest, bytes) {
  const dir = makeTempDir(opt.tmpdir, `bigio-${kind}-`);
  let s;
  try {
    const disk = diskFsyncWrite(dir, MIB);
    const port = await freePort();
    s =
      kind === 'distribution'
        ? await startDistribution({ dir, port })
        : await startBerth({ dir, port, entry: kind === 'before' ? opt.baseline : undefined });
    const pid = s.child.pid;
    const l = load();
    const c0 = cpuSeconds(pid);
    const p = await pushChunked(s.url, chunks, digest);
    const pushCpu = +(cpuSeconds(pid) - c0).toFixed(2);
    const pushMBps = mbps(bytes, p.ms);
    const out = {
      disk: { MBps: Math.round(disk.MBps) },
      push: { MBps: pushMBps, share: Math.round((100 * pushMBps) / disk.MBps), load: l, cpu: pushCpu },
    };
    for (const c of ['curl', 'hash', 'count']) out[`pull_${c}`] = await pulls(p.url, bytes, c, Number(opt.pulls), pid, digest);
    return out;
  } finally {
    await s?.stop();
    removeDir(dir);
  }
}

async function main() {
  const dir = makeTempDir(opt.tmpdir, 'bigio-blob-');
  const file = path.join(dir, 'blob');
  const { chunks, digest, bytes } = randomChunks(MIB);
  const fd = openSync(file, 'w');
  for (const c of chunks) writeSync(fd, c);
  closeSync(fd);
  const kinds = ['berth', ...(opt.baseline ? ['before'] : []), ...(opt.peer === 'yes' ? ['distribution'] : [])];
  const rounds = [];
  try {
    for (let r = 0; r < Number(opt.rounds); r++) {
      const round = { at: new Date().toISOString(), ceilings: await ceilings(file, bytes) };
      log(`round ${r + 1} ceilings ${JSON.stringify(round.ceilings)}`);
      const order = kinds.map((_, i) => kinds[(i + r) % kinds.length]);
      for (const k of order) {
        round[k] = await server(k, chunks, digest, bytes);
        log(`round ${r + 1} ${k} ${JSON.stringify(round[k])}`);
      }
      rounds.push(round);
    }
  } finally {
    removeDir(dir);
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(rounds, null, 2));
  const f = (x) => (x ? `${x.MBps} (${x.load})` : '');
  console.log(
    `| Round | Server | disk MB/s | push MB/s (load) | push / disk | push CPU s | pull curl | pull hash | pull count | CPU s per pull (curl/hash/count) |`,
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  rounds.forEach((round, i) => {
    const c = round.ceilings;
    console.log(
      `| ${i + 1} ${round.at.slice(11, 19)} | ceilings: cat ${f(c.cat)} | | | | | ${f(c.trivial_curl)} | ${f(c.trivial_hash)} | ${f(c.trivial_count)} | |`,
    );
    for (const k of kinds) {
      const x = round[k];
      console.log(
        `| ${i + 1} | ${k} | ${x.disk.MBps} | ${f(x.push)} | ${x.push.share}% | ${x.push.cpu} | ${f(x.pull_curl)} | ${f(x.pull_hash)} | ${f(x.pull_count)} | ${x.pull_curl.cpu} / ${x.pull_hash.cpu} / ${x.pull_count.cpu} |`,
      );
    }
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
