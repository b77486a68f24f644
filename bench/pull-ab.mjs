#!/usr/bin/env node
// Large pull A/B: the same cached blob pulled from several servers in alternating rounds, by a client in its own
// process (as regbench runs), reading the way regbench's pull_big does ('data' events, SHA-256 per chunk: `hash`),
// only counting bytes (`count`), or regbench itself (`regbench`: its push_big then pull_big into a fresh repository,
// on one keep-alive connection; its pull_big MB/s).
//
//   node bench/pull-ab.mjs [--mib 512] [--rounds 8] [--clients hash,count,regbench] [--servers new,base,dist,trivial]
//                          [--base PATH/bin/berth.js] [--load N] [--strace DIR] [--json FILE]
//
// Servers: `new` this checkout's Berth, `base` the Berth at --base, `dist` distribution 2.8, `trivial` a node:http
// server writing one 1 MiB buffer again and again (the client's ceiling; its digest is not checked). A name such as
// `new~NAME=VALUE` starts that server with an extra environment variable (for experiments).
// Per pull: MB/s, server CPU s (/proc, all threads), client CPU s (its own rusage), 1-min load. Per server pair: the
// paired per-round MB/s ratio (median, quartiles, bootstrap 90% CI) and server CPU s per GB. --strace DIR: before the
// rounds, one pull per server under `strace -f` (its syscalls and their sizes in DIR/<server>.strace).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import {
  REGBENCH,
  cpuSeconds,
  freePort,
  makeTempDir,
  parseArgs,
  pullInChild,
  pushChunked,
  randomChunks,
  removeDir,
  TRIVIAL_SERVER,
  startBerth,
  startDistribution,
  startLoad,
} from './lib.mjs';
import { formatPaired, median, pairedRatios } from './lib/ab.mjs';

const opt = parseArgs(process.argv.slice(2), {
  mib: 512,
  rounds: 8,
  clients: 'hash,count',
  servers: 'new,base,dist',
  base: '',
  load: 0,
  json: '',
  tmpdir: os.tmpdir(),
  strace: '',
});
const log = (s) => process.stderr.write(`${s}\n`);
const MIB = Number(opt.mib);

/** regbench itself (`--only push_big,pull_big`, a fresh repository): its pull_big line, after its own push. */
function regbenchPull(url) {
  const base = new URL(url).origin;
  return new Promise((resolve, reject) => {
    const ch = spawn(process.execPath, [REGBENCH, '--url', base, '--only', 'push_big,pull_big', '--big-mib', String(MIB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    ch.stdout.on('data', (c) => (out += c));
    ch.on('error', reject);
    ch.on('close', (code) => {
      const line = out.split('\n').find((l) => l.includes('"pull_big"'));
      if (code !== 0 || !line) return reject(new Error(`regbench exit ${code}: ${out}`));
      const r = JSON.parse(line);
      resolve({ status: 200, bytes: MIB << 20, ms: r.secs * 1000, chunks: 0, cpu: 0 });
    });
  });
}

function pullOnce(url, mode) {
  return mode === 'regbench' ? regbenchPull(url) : pullInChild(url, mode);
}

async function startTrivial(bytes) {
  const child = spawn(process.execPath, ['-e', TRIVIAL_SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (c) => resolve(Number(String(c).trim())));
    child.once('error', reject);
  });
  return { child, url: `http://127.0.0.1:${port}`, stop: async () => child.kill() };
}

/** A server named like `new~XP_BUFFERS=5~XP_KIB=1024` starts with those environment variables (experiments). */
async function withEnv(name, fn) {
  const saved = { ...process.env };
  for (const kv of name.split('~').slice(1)) {
    const [k, v] = kv.split('=');
    process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

async function main() {
  // The blob: random bytes in 8 MiB chunks (regbench's PATCH size).
  const { chunks, digest, bytes } = randomChunks(MIB);
  const names = opt.servers.split(',');
  const servers = {};
  const dirs = [];
  try {
    for (const name of names) {
      const dir = makeTempDir(opt.tmpdir, `pullab-${name}-`);
      dirs.push(dir);
      const port = await freePort();
      if (name === 'trivial') {
        const s = await startTrivial(bytes);
        servers[name] = { s, pid: s.child.pid, url: s.url, rows: [], trivial: true };
        continue;
      }
      const s =
        name === 'dist'
          ? await startDistribution({ dir, port })
          : await withEnv(name, () => startBerth({ dir, port, entry: name === 'base' ? opt.base || undefined : undefined }));
      servers[name] = { s, pid: s.child.pid, url: (await pushChunked(s.url, chunks, digest)).url, rows: [] };
      log(`${name}: pid ${s.child.pid}, pushed`);
    }
    chunks.length = 0;
    const loadProcs = Number(opt.load) > 0 ? startLoad(Number(opt.load)) : undefined;
    // Warm: one pull each (page cache, JIT).
    for (const name of names) await pullOnce(servers[name].url, 'count');
    const clients = opt.clients.split(',');
    if (opt.strace) {
      // One traced pull per server: every syscall with its size (strace slows the server; figures not counted).
      for (const name of names) {
        const out = `${opt.strace}/${name}.strace`;
        const st = spawn(
          'strace',
          ['-f', '-e', 'trace=!futex,epoll_wait,epoll_pwait,epoll_ctl,nanosleep,clock_gettime', '-o', out, '-p', String(servers[name].pid)],
          { stdio: 'ignore' },
        );
        await new Promise((r) => setTimeout(r, 1000));
        await pullOnce(servers[name].url, 'count');
        st.kill('SIGINT');
        await new Promise((r) => st.on('close', r));
        log(`${name}: ${out}`);
      }
    }
    for (let r = 0; r < Number(opt.rounds); r++) {
      const order = r % 2 === 0 ? names : [...names].reverse();
      for (const mode of clients) {
        for (const name of order) {
          const sv = servers[name];
          const l = os.loadavg()[0];
          const c0 = cpuSeconds(sv.pid);
          const res = await pullOnce(sv.url, mode);
          const cpu = cpuSeconds(sv.pid) - c0;
          if (res.status !== 200 || res.bytes !== bytes) throw new Error(`${name}: HTTP ${res.status}, ${res.bytes} bytes`);
          if (res.digest && res.digest !== digest && !sv.trivial) throw new Error(`${name}: digest mismatch`);
          const row = { round: r, mode, MBps: bytes / 1e6 / (res.ms / 1000), cpu, clientCpu: res.cpu, chunks: res.chunks, load: l };
          sv.rows.push(row);
          log(
            `r${r} ${mode.padEnd(5)} ${name.padEnd(5)} ${row.MBps.toFixed(0).padStart(5)} MB/s  server ${cpu.toFixed(2)} s  client ${res.cpu.toFixed(2)} s  chunks ${res.chunks}  load ${l.toFixed(1)}`,
          );
        }
      }
    }
    await loadProcs?.stop();
    const GB = bytes / 1e9;
    for (const mode of clients) {
      log(`\n== ${mode} client ==`);
      for (const name of names) {
        const rows = servers[name].rows.filter((x) => x.mode === mode);
        log(
          `${name.padEnd(5)} MB/s median ${median(rows.map((x) => x.MBps)).toFixed(0)}  server CPU s/GB ${(median(rows.map((x) => x.cpu)) / GB).toFixed(3)}  client CPU s/GB ${(median(rows.map((x) => x.clientCpu)) / GB).toFixed(3)}  chunks ${median(rows.map((x) => x.chunks))}`,
        );
      }
      for (let i = 0; i < names.length; i++)
        for (let j = i + 1; j < names.length; j++) {
          const a = servers[names[i]].rows.filter((x) => x.mode === mode);
          const b = servers[names[j]].rows.filter((x) => x.mode === mode);
          const ratios = a.map((x, k) => x.MBps / b[k].MBps);
          log(`${names[i]}/${names[j]} MB/s ratio ${formatPaired(pairedRatios(ratios))}`);
        }
    }
    if (opt.json) writeFileSync(opt.json, JSON.stringify(Object.fromEntries(names.map((n) => [n, servers[n].rows])), null, 1));
  } finally {
    for (const name of names) await servers[name]?.s.stop();
    for (const d of dirs) removeDir(d);
  }
}

main().catch((e) => {
  log(e.stack);
  process.exit(1);
});
