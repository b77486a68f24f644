#!/usr/bin/env node
// What metrics collection costs: the server's CPU-seconds per --gets manifest GETs (default 4000) against Berth
// with METRICS_ENABLED=true (and one scrape of /metrics per --scrape-every GETs, charged to "on") and with
// METRICS_ENABLED=false, same machine, same data, in many short rounds that alternate which server goes first.
// CPU time (from /proc) rather than wall time: on a busy machine wall time is mostly waiting for a core.
//
//   node bench/metrics-overhead.mjs [--gets 4000] [--rounds 24] [--sessions 4] [--conc 16] [--scrape-every 4000]
//                                   [--json FILE] [--same 1] [--together 1] [--node-flags production|none|"a b"]
//                                   [--on-config "KEY: value; KEY2: value"] [--scrape-probe 200] [--warm 8000]
//                                   [--b-root DIR] [--b-metrics 1] [--b-scrape-every N] [--b-config "K: v"]
//                                   [--prep-scrape 0] [--mixed 20] [--price-every 180000]
//
// --same 1: both servers without metrics (an A/A run: the noise floor; run as many rounds as the A/B).
// --on-config: more config lines for the "on" server, e.g. "METRICS_NODE_COLLECTORS: [process, heap]" to see what
// one collector costs. --node-flags: V8 flags of both servers, by default those of `npm start` and the Containerfiles.
// --b-root DIR: the "off" server runs that checkout's build (built first), e.g. main's, to compare two builds;
// --b-metrics 1: the "off" server has metrics on too (scraped like "on"), so "on" vs "off" is build A vs build B
// (without --b-root: the same build, e.g. with --b-scrape-every or --b-config to price one switch of a metrics-on server).
// --b-scrape-every N: the "off" server's scrape interval when it has metrics (default: --scrape-every; 0: never).
// --b-config: more config lines for the "off" server. --prep-scrape 0: no scrape before the measured rounds.
// --mixed N: each server answers N rounds of other requests after its warm-up (otherTraffic; default 20; 0: none,
// the bench before the sixth round).
// BERTH_BENCH_PORTS=21000-21099: the servers' ports from that range.
// --scrape-probe N: at the end, the CPU of N back-to-back scrapes of an idle metrics-on server (CPU per scrape), and
// the run's ratio with that CPU added for one scrape per --price-every GETs (default 180,000: a 15 s scrape interval at
// 12,000 GETs/s; use with --scrape-every 0, so the rounds price the per-GET cost alone).
//
// Prints one line per run and a markdown summary: the median of per-round CPU ratios with its quartiles, min–max
// and a bootstrap 90% interval of that median; req/s beside it for reference. Target: metrics on costs less than
// 5% more CPU. Plain Node ESM; servers and temp dirs are removed whatever happens.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import {
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

const opt = parseOptions({
  gets: 4000,
  warm: 8000,
  rounds: 24,
  sessions: 4,
  conc: 16,
  'scrape-every': 4000,
  json: '',
  same: 0,
  together: 0,
  'node-flags': 'production',
  'on-config': '',
  'scrape-probe': 0,
  'b-root': '',
  'b-metrics': 0,
  'prep-scrape': 1,
  'b-scrape-every': -1,
  'b-config': '',
  mixed: 20,
  'price-every': 180000,
});
const nodeFlags = nodeFlagsOption(opt['node-flags']);
const configLines = (s) =>
  String(s)
    .split(';')
    .map((l) => l.trim())
    .filter(Boolean);
const onConfig = configLines(opt['on-config']);
const bConfig = configLines(opt['b-config']);
const bScrapeEvery = opt['b-scrape-every'] >= 0 ? opt['b-scrape-every'] : opt['scrape-every'];

// Open registry (no token checks): the request path is at its cheapest, so the share metrics take is at its largest.
async function startBerth(metrics, b = false) {
  return startAB({
    label: `metrics-${b ? 'b' : metrics ? 'on' : 'off'}`,
    ...(b && opt['b-root'] ? { root: opt['b-root'] } : {}),
    // The scanner off: it indexes the pushed image and polls its queue in the background, CPU that lands in whichever
    // round runs meanwhile (not what is measured here).
    config: () => [
      `METRICS_ENABLED: ${metrics}`,
      'AUTHENTICATION_TYPE: None',
      'FEATURE_SECURITY_SCANNER: false',
      ...(metrics && !b ? onConfig : []),
      ...(b ? bConfig : []),
    ],
    nodeFlags,
  });
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
async function pushImage(url) {
  const put = async (data) => {
    const d = sha(data);
    const r = await fetch(`${url}/v2/bench/app/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
    if (r.status !== 201) throw new Error(`blob push: ${r.status}`);
    return { digest: d, size: data.length };
  };
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })));
  const layer = await put(Buffer.alloc(4096, 7));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  });
  const r = await fetch(`${url}/v2/bench/app/manifests/v1`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (r.status !== 201) throw new Error(`manifest push: ${r.status}`);
  return { config, layer, manifest: sha(Buffer.from(manifest)) };
}

/**
 * Other traffic, the same for both servers (--mixed N times each): what any registry answers besides manifest GETs
 * (a /v2/ probe, HEADs, a blob, a tag list, a 404, GET /metrics: 200 with metrics, 404 without), from another client
 * (fetch). Without it the "off" server only ever sees one request shape from one client, and V8 keeps the whole
 * request path (node's http, Fastify's router, Request, Reply.send) specialised for exactly that shape; the first
 * request of another shape, such as the "on" server's first scrape, deoptimises ~30 of those functions and they come
 * back polymorphic. That loss of specialisation was most of what this bench used to charge to metrics (docs/PERFORMANCE.md,
 * "Metrics, sixth round": 11.8% without, 0.0% with, load 2–3); a server with real traffic never has that specialisation.
 */
async function otherTraffic(url, image) {
  const paths = [
    ['GET', '/v2/'],
    ['HEAD', '/v2/bench/app/manifests/v1'],
    ['GET', `/v2/bench/app/manifests/${image.manifest}`],
    ['GET', `/v2/bench/app/blobs/${image.config.digest}`],
    ['HEAD', `/v2/bench/app/blobs/${image.layer.digest}`],
    ['GET', '/v2/bench/app/tags/list'],
    ['GET', '/v2/bench/app/manifests/missing'],
    ['GET', '/metrics'],
  ];
  for (let i = 0; i < opt.mixed; i++)
    for (const [method, p] of paths) {
      const r = await fetch(`${url}${p}`, { method, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      await r.arrayBuffer();
    }
}

/** `conc` keep-alive loops of GET manifest until `total` were sent; `between(n)` runs after every `every` of them. */
async function load(url, total, conc, every = 0, between = async () => {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const u = new URL(`${url}/v2/bench/app/manifests/v1`);
  let sent = 0;
  let ok = 0;
  let bad = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, agent, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else bad++;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (sent < total) {
        sent++;
        if (every && sent % every === 0) await between();
        await one();
      }
    }),
  );
  agent.destroy();
  if (bad) throw new Error(`${bad} requests did not answer 200`);
  return ok;
}

/** Warm server: one image pushed, JIT warmed; the scraper (metrics on) runs only while it is measured. */
async function prepare(metrics, b = false) {
  const server = await startBerth(metrics, b);
  const image = await pushImage(server.url);
  await load(server.url, opt.warm, opt.conc);
  await otherTraffic(server.url, image);
  if (metrics && opt['prep-scrape']) await scrape(server);
  return { metrics, b, ...server };
}

async function scrape(server) {
  const r = await fetch(`${server.url}/metrics`);
  await r.text();
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
}

async function measure(server) {
  let scrapes = 0;
  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  const n = await load(server.url, opt.gets, opt.conc, server.metrics ? (server.b ? bScrapeEvery : opt['scrape-every']) : 0, async () => {
    await scrape(server);
    scrapes++;
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.pid) - cpu0;
  return {
    metrics: server.metrics,
    reqs: n,
    reqPerSec: n / secs,
    serverCpuUsPerReq: (cpu * 1e6) / n,
    cpuPer4000: (cpu * 4000) / n,
    scrapes,
    load: os.loadavg()[0],
  };
}

log(
  `metrics overhead: ${opt.rounds} rounds × ${opt.gets} GETs per mode${opt.together ? ' (both at once)' : ''} in ${opt.sessions} sessions, ${opt.conc} connections, a scrape every ${opt['scrape-every']} GETs when on; ` +
    `node flags ${nodeFlags.join(' ') || 'none'}${onConfig.length ? `, on: ${onConfig.join('; ')}` : ''}${opt.same ? ', A/A (both off)' : ''}; ` +
    `${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
);
const runs = [];
// Both servers of a session run side by side (the idle one costs nothing) and rounds alternate which
// goes first, so drifts in the machine's load hit both alike. Each session starts a fresh pair, in
// alternating order, so neither mode keeps a lucky or unlucky process placement.
// --same 1: both servers without metrics (an A/A run: the noise floor of this machine).
const perSession = Math.max(1, Math.ceil(opt.rounds / opt.sessions));
for (let round = 1, session = 1; round <= opt.rounds; session++) {
  const servers = {};
  for (const key of session % 2 ? ['on', 'off'] : ['off', 'on'])
    servers[key] = key === 'on' ? await prepare(!opt.same) : await prepare(Boolean(opt['b-metrics']), true);
  try {
    // One unmeasured round each: the first round after a start costs both servers far more than the next ones.
    for (const key of ['on', 'off']) await load(servers[key].url, opt.gets, opt.conc);
    for (let i = 0; i < perSession && round <= opt.rounds; i++, round++) {
      // (i + session), i the round within its session: the first round of a session starts with "on" in one session and
      // "off" in the next, and the rounds of a session alternate. (round alone put "on" first in every session's first
      // round whenever rounds per session was even; round + session put "off" first in every round whenever there was
      // one round per session, e.g. --rounds 12 --sessions 12: an A/A then gave 1.164, CI 1.031–1.180.)
      const order = (i + session) % 2 ? ['on', 'off'] : ['off', 'on'];
      // --together 1: both servers under load at the same time, so both meet exactly the same machine.
      const results = opt.together
        ? await Promise.all(order.map((key) => measure(servers[key])))
        : await order.reduce(async (acc, key) => [...(await acc), await measure(servers[key])], Promise.resolve([]));
      order.forEach((key, i) => {
        const r = results[i];
        runs.push({ round, session, mode: key, ...r });
        log(
          `session ${session} round ${round} metrics ${key.padEnd(3)}: server ${r.cpuPer4000.toFixed(2)} CPU-s per 4000 GETs, ${r.reqPerSec.toFixed(0)} req/s${r.metrics ? `, ${r.scrapes} scrapes` : ''}, load ${r.load.toFixed(1)}`,
        );
      });
    }
  } finally {
    await servers.on.stop();
    await servers.off.stop();
  }
}
const on = runs.filter((r) => r.mode === 'on');
const off = runs.filter((r) => r.mode === 'off');
// Per round ratios (the two runs of a round are back to back, so they share the machine's state).
const ratios = [];
const cpuRatios = [];
for (let round = 1; round <= opt.rounds; round++) {
  const a = runs.find((r) => r.round === round && r.mode === 'on');
  const b = runs.find((r) => r.round === round && r.mode === 'off');
  ratios.push(a.reqPerSec / b.reqPerSec);
  cpuRatios.push(a.serverCpuUsPerReq / b.serverCpuUsPerReq);
}
const loads = runs.map((r) => r.load);
const cpuPaired = pairedRatios(cpuRatios);
const reqPaired = pairedRatios(ratios);
const summary = {
  onReqPerSec: median(on.map((r) => r.reqPerSec)),
  offReqPerSec: median(off.map((r) => r.reqPerSec)),
  medianRoundRatio: median(ratios),
  medianRoundCpuRatio: median(cpuRatios),
  cpuPaired,
  reqPaired,
  onCpuPer4000: median(on.map((r) => r.cpuPer4000)),
  offCpuPer4000: median(off.map((r) => r.cpuPer4000)),
  onCpuQuartiles: [
    quantile(
      on.map((r) => r.cpuPer4000),
      0.25,
    ),
    quantile(
      on.map((r) => r.cpuPer4000),
      0.75,
    ),
  ],
  offCpuQuartiles: [
    quantile(
      off.map((r) => r.cpuPer4000),
      0.25,
    ),
    quantile(
      off.map((r) => r.cpuPer4000),
      0.75,
    ),
  ],
  load: [Math.min(...loads), Math.max(...loads)],
};
const extra = (summary.medianRoundCpuRatio - 1) * 100;
const cell = (m, [a, b]) => `${m.toFixed(3)} (${a.toFixed(3)}–${b.toFixed(3)})`;
const md = [
  `| manifest GET by tag (${opt.conc} conc, ${opt.rounds} rounds × ${opt.gets} GETs, load ${summary.load[0].toFixed(1)}–${summary.load[1].toFixed(1)}) | ${opt.same ? 'A (off)' : 'metrics on'} | ${opt.same ? 'A (off)' : 'metrics off'} | per-round ratio |`,
  '|---|---:|---:|---:|',
  `| server CPU-seconds per 4000 GETs, median (quartiles) | ${cell(summary.onCpuPer4000, summary.onCpuQuartiles)} | ${cell(summary.offCpuPer4000, summary.offCpuQuartiles)} | ${formatPaired(cpuPaired)} |`,
  `| req/s (wall time, for reference) | ${summary.onReqPerSec.toFixed(0)} | ${summary.offReqPerSec.toFixed(0)} | ${formatPaired(reqPaired)} |`,
  '',
  `${opt.same ? 'A/A: the first server' : 'metrics on'} costs ${Math.abs(extra).toFixed(1)}% ${extra >= 0 ? 'more' : 'less'} server CPU per GET by the median per-round ratio (90% CI ${((cpuPaired.ci90[0] - 1) * 100).toFixed(1)}% to ${((cpuPaired.ci90[1] - 1) * 100).toFixed(1)}%; target: under 5%)`,
].join('\n');
process.stdout.write(md + '\n');
let probe;
if (opt['scrape-probe'] > 0) {
  // What one scrape costs an idle server (after the first, which fills the cached row counts and storage used).
  const server = await prepare(true);
  try {
    await scrape(server);
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    for (let i = 0; i < opt['scrape-probe']; i++) await scrape(server);
    const ms = ((cpuSeconds(server.pid) - cpu0) * 1000) / opt['scrape-probe'];
    const bytes = (await (await fetch(`${server.url}/metrics`)).text()).length;
    probe = {
      scrapes: opt['scrape-probe'],
      serverCpuMsPerScrape: ms,
      wallMsPerScrape: (performance.now() - t0) / opt['scrape-probe'],
      bytes,
      load: os.loadavg()[0],
    };
    process.stdout.write(
      `\nscrape probe: ${probe.scrapes} scrapes of an idle server: ${ms.toFixed(2)} ms server CPU per scrape (${bytes} bytes of exposition), load ${probe.load.toFixed(1)}\n`,
    );
    // A scrape's own CPU spread over --price-every GETs (180,000: Prometheus' 15 s interval at 12,000 GETs/s), added to
    // this run's ratio: meant for a run without scrapes in the rounds (--scrape-every 0), whose ratio is then the
    // per-GET cost alone.
    const share = ms / 1000 / opt['price-every'] / (summary.offCpuPer4000 / 4000);
    probe.pricedEvery = opt['price-every'];
    probe.shareOfGet = share;
    const f = (v) => (v + share).toFixed(3);
    process.stdout.write(
      `with one scrape per ${opt['price-every']} GETs: +${(share * 100).toFixed(3)}% of a GET's CPU (${((ms * 1000) / opt['price-every']).toFixed(3)} µs per GET against ${((summary.offCpuPer4000 / 4000) * 1e6).toFixed(1)} µs): per-round ratio ${f(cpuPaired.median)} (90% CI ${f(cpuPaired.ci90[0])}–${f(cpuPaired.ci90[1])})\n`,
    );
  } finally {
    await server.stop();
  }
}
if (opt.json) writeFileSync(opt.json, JSON.stringify({ options: opt, runs, summary, probe }, null, 2));
