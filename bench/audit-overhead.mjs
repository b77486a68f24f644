#!/usr/bin/env node
// What the audit log costs the pull path: the shared regbench workload (../shared/bench/regbench.mjs,
// scenario get_manifest: GET of manifests by tag, each one a pull_repo entry) against two Berths, one with
// AUDIT_LOG_ENABLED true and one false, same machine, same data size, alternating which goes first in
// every round. Also the server's CPU time per request, from /proc (less sensitive to a busy machine).
//
//   node bench/audit-overhead.mjs [--rounds 24] [--sessions 12] [--reqs 4000] [--small 50] [--conc 16] [--auth 0|1]
//                                 [--same 1] [--node-flags production|none|"a b"] [--db sqlite|postgres] [--pg URI]
//                                 [--port-base N] [--vs-root DIR] [--on-config "K: V; K: V"] [--off-config "…"] [--json FILE]
//
// Each session starts a fresh pair of servers (in alternating order) and runs rounds/sessions rounds on them, each
// round alternating which server goes first. --same 1: both servers with the audit log off (an A/A run: the noise
// floor; run as many rounds as the A/B). --node-flags: V8 flags of both, by default those of `npm start`.
//
// --auth 1: Database accounts and the Bearer token flow (every entry names its user); default: open
// registry (AUTHENTICATION_TYPE None), where a request is cheapest and the audit log's share is largest.
// --db postgres: both servers on the PostgreSQL database --pg (default postgresql://postgres@127.0.0.1:5432/audit4,
// which must exist and is emptied before every session); the two servers share it (the same pushes, rows only from "on").
// --port-base N: the servers listen on N and N+1 (default: any free ports).
// --vs-root DIR: old against new, both with the audit log on: "on" is this checkout, "off" the build in DIR (another
// worktree with its own dist/, e.g. the commit before a change).
// --on-config / --off-config: extra config.yaml lines for that server, separated by ";" (a key given there replaces the
// bench's own, e.g. --off-config "AUDIT_LOG_ENABLED: true" --on-config "AUDIT_LOG_BATCH_SIZE: 5000": one setting against
// another, both with the log on).
// Prints one line per run and a markdown summary: the median of per-round CPU ratios with quartiles, min–max and a
// bootstrap 90% interval of that median. Target: under 5% more server CPU per GET.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT,
  cpuSeconds,
  formatPaired,
  log,
  median,
  nodeFlagsOption,
  pairedRatios,
  parseOptions,
  quantile,
  startBerth as startAB,
} from './lib/ab.mjs';

const REGBENCH = process.env.REGBENCH ?? path.resolve(ROOT, '../shared/bench/regbench.mjs');
const opt = parseOptions({
  rounds: 24,
  sessions: 12,
  reqs: 4000,
  small: 50,
  conc: 16,
  auth: 0,
  same: 0,
  'node-flags': 'production',
  db: 'sqlite',
  pg: process.env.BERTH_BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432/audit4',
  'port-base': 0,
  'vs-root': '',
  'on-config': '',
  'off-config': '',
  json: '',
});
const nodeFlags = nodeFlagsOption(opt['node-flags']);

if (opt.db !== 'sqlite' && opt.db !== 'postgres') throw new Error(`--db must be sqlite or postgres, not ${opt.db}`);

/** PostgreSQL: empties the --pg database (its public schema) before a session; both servers then share it. */
async function freshDatabase() {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: opt.pg });
  await c.connect();
  try {
    await c.query('drop schema if exists public cascade');
    await c.query('create schema public');
  } finally {
    await c.end();
  }
}

async function startBerth(k, audit) {
  const dbUri = opt.db === 'postgres' ? opt.pg : undefined;
  const server = await startAB({
    label: `audit-${audit ? 'on' : 'off'}`,
    port: opt['port-base'] ? opt['port-base'] + (k === 'on' ? 0 : 1) : undefined,
    ...(opt['vs-root'] && k === 'off' ? { root: path.resolve(opt['vs-root']) } : {}),
    config: (port) => {
      const cfg = [`AUDIT_LOG_ENABLED: ${audit}`, 'FEATURE_SECURITY_SCANNER: false', 'METRICS_ENABLED: false'];
      // Both servers share the database, so they share its secret key (as replicas do).
      if (dbUri) cfg.push(`DB_URI: "${dbUri}"`, 'DATABASE_SECRET_KEY: "audit-overhead-bench-key-0123456789abcdef"');
      if (opt.auth)
        cfg.push(
          'AUTHENTICATION_TYPE: Database',
          `SERVER_HOSTNAME: "127.0.0.1:${port}"`,
          'BOOTSTRAP_ADMIN: { username: bench, password: bench-password-1 }',
          'FEATURE_USER_CREATION: false',
        );
      else cfg.push('AUTHENTICATION_TYPE: None');
      const extra = String(opt[`${k}-config`] || '')
        .split(';')
        .map((l) => l.trim())
        .filter(Boolean);
      const keys = new Set(extra.map((l) => l.split(':')[0].trim()));
      return [...cfg.filter((l) => !keys.has(l.split(':')[0].trim())), ...extra];
    },
    nodeFlags,
  });
  return { audit, dbUri, ...server };
}

function regbench(url) {
  const args = [
    REGBENCH,
    '--url',
    url,
    '--only',
    'get_manifest',
    '--small',
    String(opt.small),
    '--reqs',
    String(opt.reqs),
    '--conc',
    String(opt.conc),
  ];
  if (opt.auth) args.push('--user', 'bench', '--pass', 'bench-password-1', '--repo', `bench/r${Date.now().toString(36)}`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (e, stdout, stderr) => {
      if (e) return reject(new Error(`regbench: ${stderr || e.message}`));
      const line = stdout
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return undefined;
          }
        })
        .find((o) => o?.scenario === 'get_manifest');
      if (!line) return reject(new Error(`regbench printed no get_manifest line: ${stdout}`));
      resolve(line);
    });
  });
}

async function auditRows(server) {
  if (!server.audit) return 0;
  if (server.dbUri) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: server.dbUri });
    await c.connect();
    try {
      return Number((await c.query('select count(*) as n from audit_log')).rows[0].n);
    } finally {
      await c.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(server.dir, 'berth.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select count(*) as n from audit_log').get().n;
  } finally {
    db.close();
  }
}

async function measure(server) {
  const cpu0 = cpuSeconds(server.pid);
  const r = await regbench(server.url);
  const cpu = cpuSeconds(server.pid) - cpu0;
  // The CPU includes regbench's small push (opt.small manifests) before the GETs; the same in both modes.
  return { perSec: r.perSec, p50ms: r.p50ms, p99ms: r.p99ms, cpuUsPerReq: (cpu * 1e6) / (opt.reqs + opt.small) };
}

if (!readFileSync(REGBENCH, 'utf8').includes('get_manifest')) throw new Error(`${REGBENCH} is not the regbench workload`);
log(
  `audit overhead: ${opt.rounds} rounds of regbench get_manifest (${opt.reqs} GETs, ${opt.conc} conc, ${opt.auth ? 'token auth' : 'open registry'}, ${opt.db}) in ${opt.sessions} sessions, ` +
    `${opt.same ? 'A/A (both off)' : opt['vs-root'] ? `audit on, this build vs ${opt['vs-root']}` : 'audit on vs off'}, alternating; node flags ${nodeFlags.join(' ') || 'none'}; ` +
    `${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
);
const runs = [];
const perSession = Math.max(1, Math.ceil(opt.rounds / opt.sessions));
for (let round = 1, session = 1; round <= opt.rounds; session++) {
  const servers = {};
  if (opt.db === 'postgres') await freshDatabase();
  for (const k of session % 2 ? ['on', 'off'] : ['off', 'on'])
    servers[k] = await startBerth(k, opt['vs-root'] ? true : k === 'on' && !opt.same);
  let measured = 0;
  try {
    // Warm both (JIT, SQLite cache) with one unmeasured run each.
    for (const k of ['on', 'off']) await regbench(servers[k].url);
    for (let i = 0; i < perSession && round <= opt.rounds; i++, round++, measured++) {
      // (round + session): a session's first round starts with "on" in one session and "off" in the next.
      const order = (round + session) % 2 ? ['on', 'off'] : ['off', 'on'];
      for (const k of order) {
        const r = await measure(servers[k]);
        runs.push({ round, session, mode: k, ...r, load: os.loadavg()[0] });
        log(
          `session ${session} round ${round} audit ${k.padEnd(3)}: ${r.perSec.toFixed(0)} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms, server ${r.cpuUsPerReq.toFixed(0)} µs CPU/req, load ${os.loadavg()[0].toFixed(1)}`,
        );
      }
    }
  } finally {
    // On PostgreSQL both servers write to the one database: with the log on in both (--vs-root), twice the entries
    // (less what the other server still buffers: it stops after this count).
    const expected = (measured + 1) * (opt.reqs + opt.small) * (opt.db === 'postgres' && servers.off.audit ? 2 : 1);
    await servers.on.stop(async () => {
      if (servers.on.audit)
        log(
          `audit log rows written by the "on" server after SIGTERM: ${await auditRows(servers.on)} (expected ${expected}: a push_repo or pull_repo per request)`,
        );
    });
    await servers.off.stop();
  }
}
const ratios = [];
const cpuRatios = [];
for (let round = 1; round <= opt.rounds; round++) {
  const a = runs.find((r) => r.round === round && r.mode === 'on');
  const b = runs.find((r) => r.round === round && r.mode === 'off');
  ratios.push(a.perSec / b.perSec);
  cpuRatios.push(a.cpuUsPerReq / b.cpuUsPerReq);
}
const on = runs.filter((r) => r.mode === 'on');
const off = runs.filter((r) => r.mode === 'off');
const loads = runs.map((r) => r.load);
const cpuPaired = pairedRatios(cpuRatios);
const reqPaired = pairedRatios(ratios);
const q = (xs) => `${median(xs).toFixed(0)} (${quantile(xs, 0.25).toFixed(0)}–${quantile(xs, 0.75).toFixed(0)})`;
const summary = {
  onPerSec: median(on.map((r) => r.perSec)),
  offPerSec: median(off.map((r) => r.perSec)),
  medianRoundRatio: median(ratios),
  medianRoundCpuRatio: median(cpuRatios),
  cpuPaired,
  reqPaired,
  onCpuUsPerReq: median(on.map((r) => r.cpuUsPerReq)),
  offCpuUsPerReq: median(off.map((r) => r.cpuUsPerReq)),
  load: [Math.min(...loads), Math.max(...loads)],
};
const extra = (cpuPaired.median - 1) * 100;
const md = [
  `| regbench get_manifest (${opt.reqs} GETs, ${opt.conc} conc, ${opt.auth ? 'token auth' : 'open'}, ${opt.db}, ${opt.rounds} rounds, load ${summary.load[0].toFixed(1)}–${summary.load[1].toFixed(1)}) | ${opt.same ? 'A (off)' : opt['vs-root'] ? 'this build (on)' : 'audit on'} | ${opt.same ? 'A (off)' : opt['vs-root'] ? 'vs-root build (on)' : 'audit off'} | per-round ratio |`,
  '|---|---:|---:|---:|',
  `| server CPU µs per request, median (quartiles) | ${q(on.map((r) => r.cpuUsPerReq))} | ${q(off.map((r) => r.cpuUsPerReq))} | ${formatPaired(cpuPaired)} |`,
  `| req/s (wall time, for reference) | ${summary.onPerSec.toFixed(0)} | ${summary.offPerSec.toFixed(0)} | ${formatPaired(reqPaired)} |`,
  '',
  `${opt.same ? 'A/A: the first server' : 'audit on'} costs ${Math.abs(extra).toFixed(1)}% ${extra >= 0 ? 'more' : 'less'} server CPU per request by the median per-round ratio (90% CI ${((cpuPaired.ci90[0] - 1) * 100).toFixed(1)}% to ${((cpuPaired.ci90[1] - 1) * 100).toFixed(1)}%; target: under 5%)`,
].join('\n');
process.stdout.write(md + '\n');
if (opt.json) writeFileSync(opt.json, JSON.stringify({ options: opt, runs, summary }, null, 2));
