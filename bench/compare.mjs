#!/usr/bin/env node
// Side-by-side benchmark: Berth against the reference peer (CNCF distribution 2.8, Debian's
// docker-registry), same machine, same workload (/work/shared/bench/regbench.mjs), same parameters.
//
//   npm run bench -- [--big-mib 1024] [--small 500] [--conc 16] [--reqs 10000] [--tags 10000]
//                    [--runs 1] [--order alternate|berth-first|peer-first] [--tmpdir DIR]
//                    [--json FILE] [--cpu-prof DIR] [--berth-auth none|token]
//                    [--only push_small,push_big,...] [--load N] [--db sqlite|postgres] [--baseline BERTH_JS]
//                    [--pulls N]
//
// --berth-auth none (default) runs Berth with AUTHENTICATION_TYPE: None, like the peer, which runs
// without auth; --berth-auth token runs Berth as deployed (accounts + Docker token flow, a bootstrap
// superuser; regbench fetches one token per scope and sends it on every request).
// --load N starts N CPU-bound busy loops (node -e "for(;;){}") for the whole benchmark (a busy machine);
// --db postgres runs Berth on a fresh PostgreSQL database (BENCH_PG: admin URI) instead of SQLite;
// --only passes a scenario list to regbench; --baseline runs a second Berth (another checkout's
// bin/berth.js, e.g. the commit before a change) in the same alternation, shown as "Berth before".
// Each run, for each server in turn: measure the disk (write --big-mib MiB + fsync in the server's
// fresh temp data dir), start the server (Berth: fresh data dir, SQLite; distribution: fresh
// filesystem storage), run regbench against it, walk the tag list once more at the server's own
// page size, pull a fresh blob of --big-mib MiB --pulls times (default 5, 0: none) with regbench's hashing read
// (one client process per pull; the median is the row under regbench's single pull_big, after the peak RSS is
// taken), stop it, remove the dir. Prints a markdown table per run. Both servers are stopped and the
// temp dirs removed whatever happens (also on Ctrl-C).
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import {
  parseArgs,
  freePort,
  makeTempDir,
  removeDir,
  startBerth,
  startDistribution,
  startLoad,
  createPostgresDatabase,
  runRegbench,
  diskProbes,
  median,
  rssSampler,
  unpagedTagWalk,
  repeatedPull,
  DISTRIBUTION_BIN,
  REGBENCH,
} from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  'big-mib': 1024,
  small: 500,
  conc: 16,
  reqs: 10000,
  tags: 10000,
  runs: 1,
  order: 'alternate',
  tmpdir: os.tmpdir(),
  json: '',
  'cpu-prof': '',
  'berth-auth': 'none',
  only: '',
  load: 0,
  db: 'sqlite',
  baseline: '',
  pulls: 5,
  'disk-probes': 3,
  help: '',
});
if (opt.help) {
  process.stdout.write(`usage: node bench/compare.mjs [--big-mib N] [--small N] [--conc N] [--reqs N] [--tags N] [--runs N]
       [--order alternate|berth-first|peer-first] [--tmpdir DIR] [--json FILE] [--cpu-prof DIR]
       [--berth-auth none|token] [--only a,b] [--load N] [--db sqlite|postgres] [--baseline path/to/bin/berth.js] [--pulls N] [--disk-probes N]\n`);
  process.exit(0);
}

const workload = {
  'big-mib': opt['big-mib'],
  small: opt.small,
  conc: opt.conc,
  reqs: opt.reqs,
  tags: opt.tags,
  ...(opt.only ? { only: opt.only } : {}),
};
if (!['sqlite', 'postgres'].includes(opt.db)) throw new Error(`--db sqlite|postgres, not ${opt.db}`);
const loadAvg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const log = (s) => process.stderr.write(s + '\n');

// Everything that must be undone, newest first.
const cleanups = [];
/** Every disk probe of this run (MB/s): the disk is the same for every server, so their median is the run's figure. */
const allDiskMBps = [];
async function cleanup() {
  while (cleanups.length) {
    const f = cleanups.pop();
    try {
      await f();
    } catch (e) {
      log(`cleanup: ${e.message}`);
    }
  }
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${sig}: stopping servers and removing temp dirs`);
    cleanup().finally(() => process.exit(130));
  });
}

async function benchServer(kind, run) {
  const dir = makeTempDir(opt.tmpdir, `berth-bench-${kind}-`);
  cleanups.push(() => removeDir(dir));
  // The disk figure is taken right before each server's run, in its data dir's filesystem: this
  // VM's write throughput swings with host load and first-touch of guest memory.
  // One probe can fit the host's write cache (it swung 346–1,114 MB/s within one run): take several, keep the median.
  const disk = diskProbes(dir, workload['big-mib'], Math.max(1, opt['disk-probes']));
  allDiskMBps.push(...disk.all);
  log(`[run ${run}] disk before ${kind}: ${JSON.stringify(disk)}`);
  const port = await freePort();
  const t0 = Date.now();
  let dbUri;
  if (kind !== 'distribution' && opt.db === 'postgres') {
    const pg = await createPostgresDatabase();
    cleanups.push(() => pg.drop());
    dbUri = pg.uri;
  }
  const server =
    kind !== 'distribution'
      ? await startBerth({
          dir,
          port,
          auth: opt['berth-auth'],
          nodeArgs: opt['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', opt['cpu-prof']] : [],
          ...(kind === 'baseline' ? { entry: opt.baseline } : {}),
          dbUri,
        })
      : await startDistribution({ dir, port });
  cleanups.push(() => server.stop());
  log(`[run ${run}] ${kind} (pid ${server.pid}) ready on ${server.url} in ${Date.now() - t0} ms; data in ${dir}`);
  const rss = rssSampler(server.pid, 100);
  const loadStart = os.loadavg()[0];
  const creds = server.credentials ? { user: server.credentials.user, pass: server.credentials.pass } : {};
  const results = await runRegbench(
    server.url,
    { ...workload, ...creds },
    {
      serverPid: server.pid,
      onLine: (j) => {
        rss.mark(j.scenario);
        log(`[run ${run}] ${kind}: ${JSON.stringify(j)}`);
      },
    },
  );
  if (results.repo && results.tags_list) {
    results.tags_unpaged = await unpagedTagWalk(server.url, results.repo, 5, server.credentials);
    log(`[run ${run}] ${kind}: unpaged tag walk ${JSON.stringify(results.tags_unpaged)}`);
  }
  const phases = rss.stop();
  results.peakRssMiB = +(Math.max(0, ...[...phases.values()].map((p) => p.peak)) / 2 ** 20).toFixed(1);
  // After the peak RSS is taken (regbench's workload only): its single pull_big, repeated with its client's reading.
  if (Number(opt.pulls) > 0 && results.pull_big) {
    results.pull_repeated = await repeatedPull(server.url, {
      mib: workload['big-mib'],
      tries: Number(opt.pulls),
      credentials: server.credentials,
      serverPid: server.pid,
    });
    log(`[run ${run}] ${kind}: repeated pull ${JSON.stringify(results.pull_repeated)}`);
  }
  results.disk = disk;
  results.load = { start: +loadStart.toFixed(2), end: +os.loadavg()[0].toFixed(2) };
  await server.stop();
  removeDir(dir);
  return results;
}

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(1));
const ratio = (b, p, lowerIsBetter) => {
  if (!(b > 0) || !(p > 0)) return 'n/a';
  return (lowerIsBetter ? p / b : b / p).toFixed(2) + '×';
};

function table(run, b, p, o) {
  const rows = [];
  // o: the baseline Berth (--baseline), shown between Berth and the peer with its own ratio.
  const row = (scenario, metric, bv, pv, lower, ov) =>
    rows.push(
      o
        ? [scenario, metric, f1(bv), f1(ov), f1(pv), ratio(bv, pv, lower), ratio(ov, pv, lower)]
        : [scenario, metric, f1(bv), f1(pv), ratio(bv, pv, lower)],
    );
  const pick = (obj, k, f) => (obj ? obj[k]?.[f] : undefined);
  const plain = (scenario, metric, bv, pv, ov, note = '') =>
    rows.push(o ? [scenario, metric, bv, ov, pv, note, ''] : [scenario, metric, bv, pv, note]);
  const big = workload['big-mib'];
  const r = (name, field, lower, label, metric) =>
    row(label, metric, pick(b, name, field), pick(p, name, field), lower, pick(o, name, field));
  const runDisk = median(allDiskMBps);
  const share = (x, d) => (x?.push_big?.MBps && d ? ((100 * x.push_big.MBps) / d).toFixed(0) + '%' : 'n/a');
  r('push_big', 'MBps', false, `large blob push (${big} MiB, 8 MiB PATCHes)`, 'MB/s');
  const probes = b.disk.all.length;
  plain(
    `↳ disk: write ${b.disk.mib} MiB + fsync, same fs, just before (median of ${probes})`,
    'MB/s',
    f1(b.disk.MBps),
    f1(p.disk.MBps),
    o && f1(o.disk.MBps),
  );
  const spread = (x) => `${f1(Math.min(...x.disk.all))}–${f1(Math.max(...x.disk.all))}`;
  plain('↳ its probes, lowest–highest', 'MB/s', spread(b), spread(p), o && spread(o));
  plain(
    '↳ large push as share of that disk figure',
    '%',
    share(b, b.disk.MBps),
    share(p, p.disk.MBps),
    o && share(o, o.disk.MBps),
    'target ≥ 80%',
  );
  plain(
    `↳ large push as share of the run's median probe (${f1(runDisk)} MB/s, ${allDiskMBps.length} probes)`,
    '%',
    share(b, runDisk),
    share(p, runDisk),
    o && share(o, runDisk),
    'target ≥ 80%',
  );
  r('pull_big', 'MBps', false, `large blob pull (${big} MiB)`, 'MB/s');
  r('pull_repeated', 'MBps', false, `↳ median of ${opt.pulls} more pulls, regbench's hashing read, own process each`, 'MB/s');
  r('push_small', 'perSec', false, `small push (${workload.small} × 4-64 KiB blob + manifest, ${workload.conc} conc)`, 'manifests/s');
  r('push_small', 'p99ms', true, '', 'p99 ms');
  r('get_manifest', 'perSec', false, `manifest GET by tag (${workload.reqs} req, ${workload.conc} conc)`, 'req/s');
  r('get_manifest', 'p99ms', true, '', 'p99 ms');
  r('head_blob', 'perSec', false, `blob HEAD (${workload.reqs} req, ${workload.conc} conc)`, 'req/s');
  r('head_blob', 'p99ms', true, '', 'p99 ms');
  r('tags_list', 'walkMs', true, `tag list walk (${b.tags_list?.tags ?? '?'} tags, n=100)`, 'ms');
  plain('', 'pages', String(b.tags_list?.pages ?? 'n/a'), String(p.tags_list?.pages ?? 'n/a'), o && String(o.tags_list?.pages ?? 'n/a'));
  row(`tag list walk, server's own page size (best of 5)`, 'ms', b.tags_unpaged?.ms, p.tags_unpaged?.ms, true, o?.tags_unpaged?.ms);
  plain(
    '',
    'pages',
    String(b.tags_unpaged?.pages ?? 'n/a'),
    String(p.tags_unpaged?.pages ?? 'n/a'),
    o && String(o.tags_unpaged?.pages ?? 'n/a'),
  );
  r('tags_list', 'tagPerSec', false, `tag PUT (${workload.tags} tags, ${workload.conc} conc; setup of the walk)`, 'tags/s');
  const la = (x) => (x?.load ? `${x.load.start.toFixed(1)} → ${x.load.end.toFixed(1)}` : 'n/a');
  plain("load average (1 min) at start → end of the server's run", '', la(b), la(p), o && la(o));

  const out = [];
  out.push(`### Run ${run}: ${new Date().toISOString()} (Berth auth: ${opt['berth-auth']}, Berth database: ${opt.db}, --load ${opt.load})`);
  out.push('');
  if (o) {
    out.push('| Scenario | Metric | Berth | Berth before | distribution 2.8 | Ratio | Ratio before |');
    out.push('|---|---|---:|---:|---:|---:|---:|');
  } else {
    out.push('| Scenario | Metric | Berth | distribution 2.8 | Ratio (>1 = Berth better) |');
    out.push('|---|---|---:|---:|---:|');
  }
  // Scenarios left out by --only leave rows with no figure at all: drop them.
  for (const r of rows) if (r.slice(2).some((v) => v && v !== 'n/a' && v !== 'n/a → n/a')) out.push(`| ${r.join(' | ')} |`);
  out.push('');
  out.push('Server-side cost (CPU seconds of the server process between regbench result lines; peak RSS):');
  out.push('');
  out.push(`| Scenario | Berth CPU s |${o ? ' Berth before CPU s |' : ''} distribution CPU s |`);
  out.push(`|---|---:|${o ? '---:|' : ''}---:|`);
  for (const s of ['push_big', 'pull_big', 'pull_repeated', 'push_small', 'get_manifest', 'head_blob', 'tags_list']) {
    if (s === 'pull_repeated' && !b[s]) continue;
    const name = s === 'pull_repeated' ? 'pull_big, repeated (median per pull)' : s;
    out.push(`| ${name} | ${f1(b[s]?.serverCpuSecs)} |${o ? ` ${f1(o[s]?.serverCpuSecs)} |` : ''} ${f1(p[s]?.serverCpuSecs)} |`);
  }
  out.push(`| peak RSS (MiB) | ${f1(b.peakRssMiB)} |${o ? ` ${f1(o.peakRssMiB)} |` : ''} ${f1(p.peakRssMiB)} |`);
  return out.join('\n');
}

async function main() {
  log(`workload: ${JSON.stringify(workload)}; regbench: ${REGBENCH}; peer: ${DISTRIBUTION_BIN}; tmpdir: ${opt.tmpdir}`);
  log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  process.stdout.write(
    `Berth vs distribution 2.8 (${DISTRIBUTION_BIN}), ${new Date().toISOString()}\n` +
      `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}\n` +
      `workload (regbench, identical for both): ${JSON.stringify(workload)}; temp dirs under ${opt.tmpdir}\n` +
      `Berth database: ${opt.db}; busy loops beside the servers (--load): ${opt.load}; load average at start ${loadAvg()}\n` +
      `Berth auth: ${opt['berth-auth'] === 'none' ? 'AUTHENTICATION_TYPE: None (open, like the peer)' : 'token (accounts + Docker token flow, Bearer JWT on every request)'}; distribution: no auth\n\n`,
  );
  const all = [];
  if (opt.load > 0) {
    const load = startLoad(opt.load);
    log(`--load ${opt.load}: busy loops running as pids ${load.pids.join(' ')}`);
    cleanups.push(() => load.stop());
  }
  const keep = cleanups.length;
  for (let run = 1; run <= opt.runs; run++) {
    const berthFirst = opt.order === 'berth-first' || (opt.order === 'alternate' && run % 2 === 1);
    const res = {};
    const kinds = opt.baseline ? ['berth', 'baseline', 'distribution'] : ['berth', 'distribution'];
    for (const kind of berthFirst ? kinds : kinds.reverse()) {
      res[kind] = await benchServer(kind, run);
      while (cleanups.length > keep) await cleanups.pop()();
    }
    const md = table(run, res.berth, res.distribution, res.baseline);
    process.stdout.write(`${md}\n(order: ${(berthFirst ? kinds : kinds).join(', ')}; load average at end ${loadAvg()})\n\n`);
    all.push({ run, date: new Date().toISOString(), workload, load: opt.load, db: opt.db, ...res });
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(all, null, 2) + '\n');
}

main().then(cleanup, async (e) => {
  log(`compare: ${e.stack ?? e.message}`);
  await cleanup();
  process.exit(1);
});
