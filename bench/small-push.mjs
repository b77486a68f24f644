#!/usr/bin/env node
// Server CPU per small push: regbench's push_small (POST, monolithic PUT ?digest= of a 4-64 KiB blob, PUT of a
// manifest; 16 clients; token auth, SQLite, local disk) against this checkout's Berth and, with --baseline, a
// second Berth (another checkout's bin/berth.js, e.g. the commit before a change), in alternating rounds: each
// round pushes --small images into a fresh repository on each server, A then B, then B then A in the next round.
// Reports server CPU-seconds per --small pushes (from /proc, all threads), manifests/s and the 1-minute load
// average beside each run; the median per server and the median of per-round CPU ratios. The CPU is counted twice:
// while regbench runs, and until the server is idle again (what the pushes left behind: the scanner's queue, flushes).
//
//   node bench/small-push.mjs [--rounds 6] [--small 500] [--conc 16] [--baseline ../other/bin/berth.js]
//                             [--load N] [--cpu-prof DIR] [--json FILE] [--db sqlite|postgres] [--trace]
//
// --load N: N CPU-bound busy loops beside the servers for the whole run. --cpu-prof DIR: run this checkout's
// Berth under `node --cpu-prof` (the profile is written into DIR when it stops). --db postgres: each server on a fresh
// PostgreSQL database (created through BENCH_PG, default postgresql://postgres@127.0.0.1:5432/test, dropped at the end);
// its backends' CPU is sampled every 250 ms while a run goes on (a backend the pool closes after 10 s idle keeps its
// last sample). --trace (PostgreSQL): each server runs with bench/lib/pg-trace.cjs preloaded, and each run also reports
// per push the round trips to PostgreSQL, the transactions (BEGIN…COMMIT, and writes outside one: each a commit that
// waits for the WAL flush), the time waiting for a pooled connection, and the commits PostgreSQL counted for the
// database (pg_stat_database.xact_commit: read-only transactions included). --pg-options-a '-c name=value': session
// settings (libpq's `options`) for this checkout's server only, e.g. with --baseline this checkout's own bin/berth.js.
import os from 'node:os';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  ROOT,
  cpuSeconds,
  createPostgresDatabase,
  freePort,
  makeTempDir,
  parseArgs,
  removeDir,
  runRegbench,
  startBerth,
  startLoad,
} from './lib.mjs';
import { formatPaired, pairedRatios } from './lib/ab.mjs';

const opt = parseArgs(process.argv.slice(2), {
  rounds: 6,
  small: 500,
  conc: 16,
  baseline: '',
  load: 0,
  'cpu-prof': '',
  json: '',
  db: 'sqlite',
  trace: false,
  'pg-options-a': '',
});
const log = (s) => process.stderr.write(s + '\n');
const load1 = () => +os.loadavg()[0].toFixed(2);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const servers = [];
let busy;
async function start(label, entry) {
  const dir = makeTempDir(undefined, `berth-small-${label}-`);
  const nodeArgs = label === 'A' && opt['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(opt['cpu-prof'])] : [];
  const traceOut = opt.trace ? path.join(dir, 'pg-trace.json') : undefined;
  if (traceOut) {
    nodeArgs.push('--require', path.join(ROOT, 'bench/lib/pg-trace.cjs'));
    process.env.PG_TRACE_OUT = traceOut; // read by the preload (the server's environment is copied at its start)
  }
  let pg;
  try {
    if (opt.db === 'postgres') pg = await createPostgresDatabase();
    let dbUri = pg?.uri;
    if (dbUri && label === 'A' && opt['pg-options-a']) {
      // Session settings for this checkout's server only (an A/B of a setting with the same build on both sides).
      const u = new URL(dbUri);
      u.searchParams.set('options', opt['pg-options-a']);
      dbUri = u.toString();
    }
    const s = await startBerth({ dir, port: await freePort(), auth: 'token', entry, nodeArgs, dbUri });
    const srv = { label, entry, dir, s, pg, traceOut };
    servers.push(srv);
    return srv;
  } catch (e) {
    removeDir(dir);
    await pg?.drop();
    throw e;
  }
}

// PostgreSQL: the CPU of the server's backends (the processes of its database in pg_stat_activity), per pid.
let pgAdmin;
async function backendCpu(srv) {
  if (!srv.pg) return new Map();
  if (!pgAdmin) {
    const { default: pg } = await import('pg');
    pgAdmin = new pg.Client({ connectionString: process.env.BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432/test' });
    await pgAdmin.connect();
  }
  const db = new URL(srv.pg.uri).pathname.slice(1);
  const { rows } = await pgAdmin.query('select pid from pg_stat_activity where datname = $1', [db]);
  return new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid) ?? 0]));
}
const backendDelta = (a, b) => [...b].reduce((sum, [pid, cpu]) => sum + cpu - (a.get(pid) ?? 0), 0);
/** Samples the backends' CPU every 250 ms until stopped; returns the last sample of every pid seen. */
function backendSampler(srv) {
  const seen = new Map();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const [pid, cpu] of await backendCpu(srv)) if (cpu > 0 || !seen.has(pid)) seen.set(pid, cpu);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    for (const [pid, cpu] of await backendCpu(srv)) if (cpu > 0) seen.set(pid, cpu);
    return seen;
  };
}
async function xactCommits(srv) {
  await backendCpu(srv); // connects pgAdmin
  const db = new URL(srv.pg.uri).pathname.slice(1);
  await pgAdmin.query('select pg_stat_clear_snapshot()');
  const { rows } = await pgAdmin.query('select xact_commit::int as c from pg_stat_database where datname = $1', [db]);
  return rows[0]?.c ?? 0;
}
/** The preload's counters since the previous call (it writes them on SIGUSR2). */
async function traceReport(srv) {
  if (!srv.traceOut) return undefined;
  writeFileSync(srv.traceOut, '');
  process.kill(srv.s.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const t = readFileSync(srv.traceOut, 'utf8');
    if (t) return JSON.parse(t);
  }
  throw new Error('no trace report from the server');
}

async function push(srv) {
  const l0 = load1();
  const pg0 = await backendCpu(srv);
  const sampler = srv.pg ? backendSampler(srv) : undefined;
  if (srv.traceOut) await traceReport(srv);
  const x0 = srv.pg && opt.trace ? await xactCommits(srv) : 0;
  const cpu0 = cpuSeconds(srv.s.pid);
  const r = await runRegbench(srv.s.url, {
    only: 'push_small',
    small: opt.small,
    conc: opt.conc,
    user: srv.s.credentials.user,
    pass: srv.s.credentials.pass,
  });
  const cpu = cpuSeconds(srv.s.pid) - cpu0;
  // Work a push leaves behind (the scanner's queue, audit and pull-count flushes) is part of its cost: wait until the
  // server has been idle for a second (under 20 ms of CPU in 500 ms, twice) and count the CPU to then as well.
  let last = cpuSeconds(srv.s.pid);
  for (let quiet = 0; quiet < 2; ) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuSeconds(srv.s.pid);
    quiet = now - last < 0.02 ? quiet + 1 : 0;
    last = now;
  }
  const settled = last - cpu0 - 0.02 * 2; // less the idle seconds' own (under 20 ms each)
  const pgCpu = sampler ? +backendDelta(pg0, await sampler()).toFixed(2) : undefined;
  let trace;
  if (srv.traceOut) {
    const t = await traceReport(srv);
    // PostgreSQL reports a backend's commits at most once a second, and an idle one's within 10 s: wait for them.
    await new Promise((r) => setTimeout(r, 11000));
    const n = opt.small;
    const per = (x) => +(x / n).toFixed(2);
    trace = {
      roundTrips: per(t.roundTrips),
      transactions: per(t.explicit + t.autoWrites),
      explicit: per(t.explicit),
      autoWrites: per(t.autoWrites),
      autoReads: per(t.autoReads),
      connectWaitMs: per(t.connectWaitMs),
      xactCommit: per((await xactCommits(srv)) - x0),
      statements: Object.fromEntries(
        Object.entries(t.statements)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, per(v)]),
      ),
    };
  }
  return {
    ...(pgCpu !== undefined ? { pgCpuSecs: pgCpu } : {}),
    ...(trace ? { trace } : {}),
    cpuSecs: +cpu.toFixed(2),
    settledCpuSecs: +Math.max(cpu, settled).toFixed(2),
    perSec: r.push_small.perSec,
    p99ms: r.push_small.p99ms,
    load: [l0, load1()],
  };
}

const runs = [];
try {
  if (opt.load > 0) busy = startLoad(opt.load);
  log(
    `small push: ${opt.rounds} rounds × ${opt.small} pushes, ${opt.conc} conc, token auth, ${opt.db}; --load ${opt.load}; ` +
      `${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}, load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  const a = await start('A', path.join(ROOT, 'bin/berth.js'));
  const b = opt.baseline ? await start('B', path.resolve(opt.baseline)) : null;
  const all = b ? [a, b] : [a];
  for (const srv of all) await push(srv); // warm-up (JIT, caches), not counted
  for (let round = 1; round <= opt.rounds; round++) {
    for (const srv of round % 2 ? all : [...all].reverse()) {
      const r = await push(srv);
      runs.push({ round, server: srv.label, ...r });
      log(
        `round ${round} ${srv.label === 'A' ? 'this   ' : 'before '}: ${r.cpuSecs.toFixed(2)} CPU s / ${opt.small} pushes ` +
          `(${r.settledCpuSecs.toFixed(2)} s with the work left behind) ` +
          `(${((r.cpuSecs * 1000) / opt.small).toFixed(2)} ms each)${r.pgCpuSecs !== undefined ? `, PostgreSQL backends ${r.pgCpuSecs} s` : ''}, ${r.perSec}/s, p99 ${r.p99ms} ms, load ${r.load[0]} → ${r.load[1]}`,
      );
      if (r.trace) log(`  per push: ${JSON.stringify(r.trace, null, 1)}`);
    }
  }
} finally {
  for (const srv of servers) {
    await srv.s.stop();
    removeDir(srv.dir);
    await srv.pg?.drop();
  }
  await busy?.stop();
  await pgAdmin?.end();
}

const of = (label) => runs.filter((r) => r.server === label);
const md = [
  `| ${opt.small} small pushes, ${opt.conc} conc, token auth, ${opt.db}, --load ${opt.load}, ${opt.rounds} rounds | this checkout | ${opt.baseline ? 'baseline' : ''} |`,
  '|---|---:|---:|',
  `| server CPU s (median) | ${median(of('A').map((r) => r.cpuSecs)).toFixed(2)} | ${opt.baseline ? median(of('B').map((r) => r.cpuSecs)).toFixed(2) : ''} |`,
  `| server CPU s with the work left behind (median) | ${median(of('A').map((r) => r.settledCpuSecs)).toFixed(2)} | ${opt.baseline ? median(of('B').map((r) => r.settledCpuSecs)).toFixed(2) : ''} |`,
  ...(opt.db === 'postgres'
    ? [
        `| PostgreSQL backends' CPU s, to idle (median) | ${median(of('A').map((r) => r.pgCpuSecs)).toFixed(2)} | ${opt.baseline ? median(of('B').map((r) => r.pgCpuSecs)).toFixed(2) : ''} |`,
      ]
    : []),
  `| manifests/s (median) | ${median(of('A').map((r) => r.perSec)).toFixed(1)} | ${opt.baseline ? median(of('B').map((r) => r.perSec)).toFixed(1) : ''} |`,
];
if (opt.baseline) {
  const ratios = [];
  for (let round = 1; round <= opt.rounds; round++)
    ratios.push(
      runs.find((r) => r.round === round && r.server === 'A').cpuSecs / runs.find((r) => r.round === round && r.server === 'B').cpuSecs,
    );
  md.push(`| CPU this/baseline, median of per-round ratios | ${median(ratios).toFixed(3)} | |`);
  const settledRatios = [];
  for (let round = 1; round <= opt.rounds; round++)
    settledRatios.push(
      runs.find((r) => r.round === round && r.server === 'A').settledCpuSecs /
        runs.find((r) => r.round === round && r.server === 'B').settledCpuSecs,
    );
  md.push(`| CPU with the work left behind, this/baseline, median of per-round ratios | ${median(settledRatios).toFixed(3)} | |`);
  const paired = (f) => {
    const rs = [];
    for (let round = 1; round <= opt.rounds; round++)
      rs.push(f(runs.find((r) => r.round === round && r.server === 'A')) / f(runs.find((r) => r.round === round && r.server === 'B')));
    return formatPaired(pairedRatios(rs));
  };
  md.push(`| Berth CPU to idle, this/baseline | ${paired((r) => r.settledCpuSecs)} | |`);
  if (opt.db === 'postgres') {
    md.push(`| PostgreSQL backends' CPU, this/baseline | ${paired((r) => r.pgCpuSecs)} | |`);
    md.push(`| Berth + backends CPU, this/baseline | ${paired((r) => r.settledCpuSecs + r.pgCpuSecs)} | |`);
  }
  md.push(`| manifests/s, this/baseline | ${paired((r) => r.perSec)} | |`);
}
md.push(`| load average (1 min) over the runs | ${Math.min(...runs.map((r) => r.load[0]))}–${Math.max(...runs.map((r) => r.load[1]))} | |`);
console.log(md.join('\n'));
if (opt.json) writeFileSync(opt.json, JSON.stringify({ opt, runs }, null, 2));
