#!/usr/bin/env node
// Scale-out figures (docs/PERFORMANCE.md, "Scale-out"): the ../shared/bench/regbench.mjs workload through
// nginx against the topology of docs/SCALE-OUT.md (test/helpers/scale-out.ts: berth serve processes on one
// PostgreSQL database, one blob store, our own redis-server, nginx round robin), in one run each:
//   1x-redis     one replica, DATA_MODEL_CACHE_CONFIG engine redis
//   3x-redis     three replicas, engine redis
//   3x-nocache   three replicas, engine none (no Redis: every lookup reads PostgreSQL)
// and the peak resident memory of each replica during the run.
//
//   node --import tsx bench/scale-out.mjs [--big-mib 64] [--small 100] [--conc 16] [--reqs 2000] [--tags 200]
//                                         [--only 1x-redis,3x-redis,3x-nocache] [--json FILE]
//
// The S3-against-local-disk figures are bench/ of the S3 driver's (same topology with S3Storage).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs, runRegbench, rssSampler } from './lib.mjs';
import { Topology } from '../test/helpers/scale-out.ts';

const opts = parseArgs(process.argv.slice(2), { 'big-mib': 64, small: 100, conc: 16, reqs: 2000, tags: 200, only: '', json: '' });
const SCENARIOS = [
  { name: '1x-redis', replicas: 1, redis: true },
  { name: '3x-redis', replicas: 3, redis: true },
  { name: '3x-nocache', replicas: 3, redis: false },
].filter((s) => !opts.only || opts.only.split(',').includes(s.name));

const results = [];
for (const s of SCENARIOS) {
  const t = await Topology.start({
    replicas: s.replicas,
    redis: s.redis,
    config: { FEATURE_SECURITY_SCANNER: false, ...(s.redis ? {} : { DATA_MODEL_CACHE_CONFIG: { engine: 'none' } }) },
  });
  try {
    // regbench pushes to bench/<name>: the namespace must exist.
    const org = await fetch(`${t.url}/api/v1/organization/`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(t.admin.join(':')).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench' }),
    });
    if (org.status !== 201) throw new Error(`creating organization bench: ${org.status} ${await org.text()}`);
    const samplers = t.replicas.map((r) => rssSampler(r.proc.pid, 200));
    const r = await runRegbench(
      t.url,
      {
        user: t.admin[0],
        pass: t.admin[1],
        'big-mib': opts['big-mib'],
        small: opts.small,
        conc: opts.conc,
        reqs: opts.reqs,
        tags: opts.tags,
      },
      { onLine: (j) => process.stderr.write(`${s.name} ${JSON.stringify(j)}\n`) },
    );
    const peaks = samplers.map((x) => {
      x.stop();
      return +(x.overallPeak / 2 ** 20).toFixed(0);
    });
    results.push({ scenario: s.name, replicas: s.replicas, ...r, rssPeakMiB: peaks });
  } finally {
    await t.stop();
  }
}

const row = (r) =>
  `| ${r.scenario} | ${r.push_big?.MBps ?? '-'} | ${r.pull_big?.MBps ?? '-'} | ${r.push_small?.perSec ?? '-'} | ` +
  `${r.get_manifest ? `${r.get_manifest.perSec} (${r.get_manifest.p50ms}/${r.get_manifest.p99ms})` : '-'} | ` +
  `${r.head_blob ? `${r.head_blob.perSec} (${r.head_blob.p50ms}/${r.head_blob.p99ms})` : '-'} | ${r.tags_list?.walkMs ?? '-'} | ${r.rssPeakMiB.join(' / ')} |`;
console.log(
  `\nscale-out: ${os.cpus().length} CPUs, node ${process.version}, regbench --big-mib ${opts['big-mib']} --small ${opts.small} --conc ${opts.conc} --reqs ${opts.reqs} --tags ${opts.tags}, through nginx\n`,
);
console.log(
  '| setup | push_big MB/s | pull_big MB/s | push_small manifests/s | get_manifest req/s (p50/p99 ms) | head_blob req/s (p50/p99 ms) | tag walk ms | peak RSS per replica MiB |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) console.log(row(r));
if (opts.json) writeFileSync(opts.json, JSON.stringify(results, null, 2));
