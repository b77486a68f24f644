#!/usr/bin/env node
// Peak resident memory and server CPU per regbench phase, for several variants of Berth started as `npm start`
// starts them, in alternating rounds (ABAB…, the order turned each round). Per phase: the highest VmRSS (sampled
// every 50 ms), the server's CPU seconds, and the mappings at the phase's end from /proc/PID/smaps (file pages,
// glibc's main arena `[heap]`, other anonymous memory); per run: VmHWM. Then paired ratios (each variant against the
// first) with a bootstrap 90% CI, and of regbench's p99 latency where a phase reports one.
//
//   node bench/memory-phases.mjs --variant base=/tmp/base/bin/berth.js --variant new=bin/berth.js \
//     [--variant 'x=bin/berth.js;MALLOC_TOP_PAD_=0;--v8-pool-size=1'] [--rounds 4] [--only push_big,push_small] \
//     [--big-mib 512 --small 500 --reqs 4000 --tags 2000] [--db postgres] [--json out.json]
//
// A variant is `label=entry` followed by `;NAME=value` (environment, over the entry's own `npm start` environment)
// and `;--flag` (node flags after its own) parts.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, pairedRatios, formatPaired } from './lib/ab.mjs';
import { createPostgresDatabase, cpuSeconds, freePort, makeTempDir, removeDir, rssBytes, runRegbench, startBerth } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = { rounds: 2, only: '', 'big-mib': 512, small: 500, reqs: 4000, tags: 2000, db: 'sqlite', json: '', tmpdir: os.tmpdir() };
const variants = [];
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '');
  const v = argv[++i];
  if (k === 'variant') {
    const [head, ...rest] = v.split(';');
    const eq = head.indexOf('=');
    const env = {};
    const flags = [];
    for (const r of rest) {
      if (r.startsWith('--')) flags.push(r);
      else env[r.slice(0, r.indexOf('='))] = r.slice(r.indexOf('=') + 1);
    }
    variants.push({ label: head.slice(0, eq), entry: path.resolve(head.slice(eq + 1)), env, flags });
  } else if (k in opt) opt[k] = typeof opt[k] === 'number' ? Number(v) : v;
  else {
    console.error(
      `unknown option --${k} (known: --variant ${Object.keys(opt)
        .map((x) => `--${x}`)
        .join(' ')})`,
    );
    process.exit(2);
  }
}
if (variants.length === 0) {
  console.error('give at least one --variant label=entry');
  process.exit(2);
}
const log = (s) => process.stderr.write(`${s}\n`);
const MiB = 2 ** 20;

/** file pages, the main arena and the other anonymous memory (kB → MiB) from /proc/PID/smaps. */
function mappings(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const out = { file: 0, heap: 0, anon: 0 };
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      name = head[2] && head[1] !== '0' ? 'file' : head[2] === '[heap]' ? 'heap' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[name] += Number(rss[1]) / 1024;
  }
  return out;
}

function status(pid, key) {
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function runOnce(v) {
  const dir = makeTempDir(opt.tmpdir, `berth-memphase-${v.label}-`);
  let pg;
  try {
    if (opt.db === 'postgres') pg = await createPostgresDatabase();
    const port = await freePort();
    const server = await startBerth({ dir, port, auth: 'token', entry: v.entry, nodeArgs: v.flags, env: v.env, dbUri: pg?.uri });
    try {
      const pid = server.pid;
      await new Promise((r) => setTimeout(r, 1500));
      const phases = { idle: { peak: rssBytes(pid) / MiB, cpu: 0, map: mappings(pid) } };
      let current = { peak: 0 };
      let lastCpu = cpuSeconds(pid);
      const timer = setInterval(() => {
        const r = rssBytes(pid);
        if (r !== null) current.peak = Math.max(current.peak, r / MiB);
      }, 50);
      const creds = server.credentials;
      const params = { 'big-mib': opt['big-mib'], small: opt.small, reqs: opt.reqs, tags: opt.tags, user: creds.user, pass: creds.pass };
      if (opt.only) params.only = opt.only;
      const load0 = os.loadavg()[0];
      await runRegbench(server.url, params, {
        onLine: (j) => {
          const r = rssBytes(pid);
          if (r !== null) current.peak = Math.max(current.peak, r / MiB);
          const cpu = cpuSeconds(pid);
          phases[j.scenario] = {
            peak: current.peak,
            cpu: cpu - lastCpu,
            map: mappings(pid),
            ...(j.p99ms !== undefined ? { p99ms: j.p99ms } : {}),
          };
          lastCpu = cpu;
          current = { peak: 0 };
        },
      });
      clearInterval(timer);
      const hwm = status(pid, 'VmHWM');
      return { phases, hwm, load: [load0, os.loadavg()[0]] };
    } finally {
      await server.stop();
    }
  } finally {
    await pg?.drop();
    removeDir(dir);
  }
}

const results = variants.map(() => []);
for (let round = 0; round < opt.rounds; round++) {
  const order = variants.map((_, i) => i);
  if (round % 2 === 1) order.reverse();
  for (const i of order) {
    const v = variants[i];
    const r = await runOnce(v);
    results[i].push(r);
    const ph = Object.entries(r.phases)
      .map(
        ([k, p]) =>
          `${k} ${p.peak.toFixed(1)}/${p.cpu.toFixed(2)}s [f${p.map?.file.toFixed(1)} h${p.map?.heap.toFixed(1)} a${p.map?.anon.toFixed(1)}]`,
      )
      .join(' | ');
    log(`round ${round} ${v.label}: HWM ${r.hwm?.toFixed(1)} MiB, load ${r.load.map((x) => x.toFixed(1)).join('→')} :: ${ph}`);
  }
}

if (opt.json) writeFileSync(opt.json, JSON.stringify({ opt, variants, results }, null, 1));
const phaseNames = Object.keys(results[0][0].phases);
log('\nmedians: HWM MiB; per phase peak MiB / CPU s');
for (const [i, v] of variants.entries()) {
  const rs = results[i];
  const cells = phaseNames.map(
    (k) =>
      `${k} ${median(rs.map((r) => r.phases[k]?.peak ?? NaN)).toFixed(1)}/${median(rs.map((r) => r.phases[k]?.cpu ?? NaN)).toFixed(2)}`,
  );
  log(`${v.label}: HWM ${median(rs.map((r) => r.hwm)).toFixed(1)} :: ${cells.join(' | ')}`);
}
if (variants.length > 1 && opt.rounds > 1) {
  log('\npaired ratios against the first variant (median, 90% CI):');
  for (let i = 1; i < variants.length; i++) {
    const a = results[0];
    const b = results[i];
    const lines = [`HWM ${formatPaired(pairedRatios(b.map((r, j) => r.hwm / a[j].hwm)))}`];
    for (const k of phaseNames.filter((n) => n !== 'idle')) {
      lines.push(`${k} CPU ${formatPaired(pairedRatios(b.map((r, j) => r.phases[k].cpu / a[j].phases[k].cpu)))}`);
      // regbench's request latency, where the phase reports one (push_small, get_manifest, head_blob).
      if (a[0].phases[k].p99ms !== undefined)
        lines.push(`${k} p99 ${formatPaired(pairedRatios(b.map((r, j) => r.phases[k].p99ms / a[j].phases[k].p99ms)))}`);
    }
    log(`${variants[i].label}: ${lines.join('; ')}`);
  }
}
