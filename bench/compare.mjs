#!/usr/bin/env node
// Side-by-side benchmark: Berth against the reference peer (CNCF distribution 2.8, Debian's
// docker-registry), same machine, same workload (/work/shared/bench/regbench.mjs), same parameters.
//
//   npm run bench -- [--big-mib 1024] [--small 500] [--conc 16] [--reqs 10000] [--tags 10000]
//                    [--runs 1] [--order alternate|berth-first|peer-first] [--tmpdir DIR]
//                    [--json FILE] [--cpu-prof DIR] [--berth-auth none|token]
//
// --berth-auth none (default) runs Berth with AUTHENTICATION_TYPE: None, like the peer, which runs
// without auth; --berth-auth token runs Berth as deployed (accounts + Docker token flow, a bootstrap
// superuser; regbench fetches one token per scope and sends it on every request).
// Each run, for each server in turn: measure the disk (write --big-mib MiB + fsync in the server's
// fresh temp data dir), start the server (Berth: fresh data dir, SQLite; distribution: fresh
// filesystem storage), run regbench against it, walk the tag list once more at the server's own
// page size, stop it, remove the dir. Prints a markdown table per run. Both servers are stopped and the
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
  runRegbench,
  diskFsyncWrite,
  rssSampler,
  unpagedTagWalk,
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
  help: '',
});
if (opt.help) {
  process.stdout.write(`usage: node bench/compare.mjs [--big-mib N] [--small N] [--conc N] [--reqs N] [--tags N] [--runs N]
       [--order alternate|berth-first|peer-first] [--tmpdir DIR] [--json FILE] [--cpu-prof DIR]
       [--berth-auth none|token]\n`);
  process.exit(0);
}

const workload = { 'big-mib': opt['big-mib'], small: opt.small, conc: opt.conc, reqs: opt.reqs, tags: opt.tags };
const log = (s) => process.stderr.write(s + '\n');

// Everything that must be undone, newest first.
const cleanups = [];
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
  const disk = diskFsyncWrite(dir, workload['big-mib'], 8);
  log(`[run ${run}] disk before ${kind}: ${JSON.stringify(disk)}`);
  const port = await freePort();
  const t0 = Date.now();
  const server =
    kind === 'berth'
      ? await startBerth({
          dir,
          port,
          auth: opt['berth-auth'],
          nodeArgs: opt['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', opt['cpu-prof']] : [],
        })
      : await startDistribution({ dir, port });
  cleanups.push(() => server.stop());
  log(`[run ${run}] ${kind} (pid ${server.pid}) ready on ${server.url} in ${Date.now() - t0} ms; data in ${dir}`);
  const rss = rssSampler(server.pid, 100);
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
  results.disk = disk;
  await server.stop();
  removeDir(dir);
  return results;
}

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(1));
const ratio = (b, p, lowerIsBetter) => {
  if (!(b > 0) || !(p > 0)) return 'n/a';
  return (lowerIsBetter ? p / b : b / p).toFixed(2) + '×';
};

function table(run, b, p) {
  const rows = [];
  const row = (scenario, metric, bv, pv, lower) => rows.push([scenario, metric, f1(bv), f1(pv), ratio(bv, pv, lower)]);
  const big = workload['big-mib'];
  row(`large blob push (${big} MiB, 8 MiB PATCHes)`, 'MB/s', b.push_big?.MBps, p.push_big?.MBps, false);
  rows.push([`↳ disk: write ${b.disk.mib} MiB + fsync, same fs, just before`, 'MB/s', f1(b.disk.MBps), f1(p.disk.MBps), '']);
  rows.push([
    '↳ large push as share of that disk figure',
    '%',
    ((100 * b.push_big?.MBps) / b.disk.MBps).toFixed(0) + '%',
    ((100 * p.push_big?.MBps) / p.disk.MBps).toFixed(0) + '%',
    'target ≥ 80%',
  ]);
  row(`large blob pull (${big} MiB)`, 'MB/s', b.pull_big?.MBps, p.pull_big?.MBps, false);
  row(
    `small push (${workload.small} × 4-64 KiB blob + manifest, ${workload.conc} conc)`,
    'manifests/s',
    b.push_small?.perSec,
    p.push_small?.perSec,
    false,
  );
  row(`manifest GET by tag (${workload.reqs} req, ${workload.conc} conc)`, 'req/s', b.get_manifest?.perSec, p.get_manifest?.perSec, false);
  row('', 'p99 ms', b.get_manifest?.p99ms, p.get_manifest?.p99ms, true);
  row(`blob HEAD (${workload.reqs} req, ${workload.conc} conc)`, 'req/s', b.head_blob?.perSec, p.head_blob?.perSec, false);
  row('', 'p99 ms', b.head_blob?.p99ms, p.head_blob?.p99ms, true);
  row(`tag list walk (${b.tags_list?.tags ?? '?'} tags, n=100)`, 'ms', b.tags_list?.walkMs, p.tags_list?.walkMs, true);
  rows.push(['', 'pages', String(b.tags_list?.pages ?? 'n/a'), String(p.tags_list?.pages ?? 'n/a'), '']);
  row(`tag list walk, server's own page size (best of 5)`, 'ms', b.tags_unpaged?.ms, p.tags_unpaged?.ms, true);
  rows.push(['', 'pages', String(b.tags_unpaged?.pages ?? 'n/a'), String(p.tags_unpaged?.pages ?? 'n/a'), '']);
  row(
    `tag PUT (${workload.tags} tags, ${workload.conc} conc; setup of the walk)`,
    'tags/s',
    b.tags_list?.tagPerSec,
    p.tags_list?.tagPerSec,
    false,
  );

  const out = [];
  out.push(`### Run ${run}: ${new Date().toISOString()} (Berth auth: ${opt['berth-auth']})`);
  out.push('');
  out.push('| Scenario | Metric | Berth | distribution 2.8 | Ratio (>1 = Berth better) |');
  out.push('|---|---|---:|---:|---:|');
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  out.push('');
  out.push('Server-side cost (CPU seconds of the server process between regbench result lines; peak RSS):');
  out.push('');
  out.push('| Scenario | Berth CPU s | distribution CPU s |');
  out.push('|---|---:|---:|');
  for (const s of ['push_big', 'pull_big', 'push_small', 'get_manifest', 'head_blob', 'tags_list']) {
    out.push(`| ${s} | ${f1(b[s]?.serverCpuSecs)} | ${f1(p[s]?.serverCpuSecs)} |`);
  }
  out.push(`| peak RSS (MiB) | ${f1(b.peakRssMiB)} | ${f1(p.peakRssMiB)} |`);
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
      `Berth auth: ${opt['berth-auth'] === 'none' ? 'AUTHENTICATION_TYPE: None (open, like the peer)' : 'token (accounts + Docker token flow, Bearer JWT on every request)'}; distribution: no auth\n\n`,
  );
  const all = [];
  for (let run = 1; run <= opt.runs; run++) {
    const berthFirst = opt.order === 'berth-first' || (opt.order === 'alternate' && run % 2 === 1);
    const res = {};
    for (const kind of berthFirst ? ['berth', 'distribution'] : ['distribution', 'berth']) {
      res[kind] = await benchServer(kind, run);
      await cleanup();
    }
    const md = table(run, res.berth, res.distribution);
    process.stdout.write(
      `${md}\n(order: ${berthFirst ? 'Berth first' : 'distribution first'}; load average at end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')})\n\n`,
    );
    all.push({ run, date: new Date().toISOString(), workload, berth: res.berth, distribution: res.distribution });
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(all, null, 2) + '\n');
}

main().then(cleanup, async (e) => {
  log(`compare: ${e.stack ?? e.message}`);
  await cleanup();
  process.exit(1);
});
