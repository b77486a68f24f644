// The A/B harness the overhead benchmarks share (bench/metrics-overhead.mjs, bench/audit-overhead.mjs): option
// parsing, Berth servers started from a config and stopped (temp dirs removed whatever happens, also on Ctrl-C),
// the server's CPU seconds from /proc, and medians. Plain Node ESM, no dependencies.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serverIsStale } from '../../scripts/build-server.mjs';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const log = (s) => process.stderr.write(s + '\n');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `--key value` options over `defaults` (numbers stay numbers); an unknown option exits 2 with the known ones. */
export function parseOptions(defaults, argv = process.argv.slice(2)) {
  const opt = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in opt)) {
      console.error(
        `unknown option ${argv[i]} (known: ${Object.keys(opt)
          .map((x) => '--' + x)
          .join(' ')})`,
      );
      process.exit(2);
    }
    const v = argv[++i];
    opt[k] = typeof opt[k] === 'number' ? Number(v) : v;
  }
  return opt;
}

const live = new Set();
const cleanup = () => {
  for (const c of live) {
    try {
      c.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    rmSync(c.dir, { recursive: true, force: true });
  }
  live.clear();
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

/** BERTH_BENCH_PORTS="21000-21099": take ports from that range (a shared machine's per-user range), else any free one. */
const portRange = /^(\d+)-(\d+)$/.exec(process.env.BERTH_BENCH_PORTS ?? '');
let nextPort = portRange ? Number(portRange[1]) : 0;

export async function freePort() {
  if (!portRange) return listenOn(0);
  const [lo, hi] = [Number(portRange[1]), Number(portRange[2])];
  for (let tries = 0; tries <= hi - lo; tries++) {
    const port = nextPort;
    nextPort = port >= hi ? lo : port + 1;
    const ok = await listenOn(port).then(
      () => true,
      () => false,
    );
    if (ok) return port;
  }
  throw new Error(`no free port in BERTH_BENCH_PORTS ${process.env.BERTH_BENCH_PORTS}`);
}

function listenOn(want) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(want, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** User+system CPU seconds of a process so far (all its threads). */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The V8 flags `npm start` and both Containerfiles run Berth with (package.json "start"). */
export const PRODUCTION_NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=20'];

/** `--node-flags "a b"` as an argv list: "production" (the default) is PRODUCTION_NODE_FLAGS, "none" or "" none. */
export function nodeFlagsOption(value) {
  if (value === undefined || value === 'production') return PRODUCTION_NODE_FLAGS;
  if (value === 'none' || value === '') return [];
  return String(value)
    .split(/\s+/)
    .filter(Boolean)
    .map((f) => (f.startsWith('--') ? f : `--${f}`));
}

/**
 * A Berth in a fresh temp dir with `config(port)` (YAML lines) as its config.yaml; resolves once GET /v2/ answers
 * (200, or 401 with token auth) on `port` (default: a free one), run from checkout `root` (default this one). `stop(inspect)` sends SIGTERM, waits for the exit, runs `inspect` (the data dir
 * still there), then removes the dir.
 */
export async function startBerth({ label, config, nodeFlags = PRODUCTION_NODE_FLAGS, stdout = 'ignore', port: fixedPort, root = ROOT }) {
  // A stale dist/ would make bin/berth.js run the sources through tsx: another program than the one measured before.
  if (root === ROOT && serverIsStale() && process.env.BERTH_TSX !== '1')
    throw new Error('dist/ is older than src/: run `node scripts/build-server.mjs` first (or BERTH_TSX=1 to measure tsx)');
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-ab-${label}-`));
  const port = fixedPort ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(dir, 'config.yaml'), config(port).join('\n') + '\n');
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      path.join(root, 'bin/berth.js'),
      'serve',
      '--config',
      path.join(dir, 'config.yaml'),
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      dir,
    ],
    { stdio: ['ignore', stdout, 'pipe'] },
  );
  const entry = { child, dir };
  live.add(entry);
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = await fetch(`${url}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (st === 200 || st === 401) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`berth did not start: ${err}`);
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    child,
    dir,
    async stop(inspect) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      try {
        await inspect?.();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      }
    },
  };
}

/** The p-quantile (0..1) of xs, linear between the two nearest ranks. */
export function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
}

/**
 * A paired statistic of per-round ratios (new/old measured back to back in the same round): their median, quartiles,
 * min–max and a bootstrap 90% interval of the median (percentile method, 10,000 resamples of the rounds, seeded so a
 * JSON file always gives the same interval). An A/A run of as many rounds gives the interval noise alone produces.
 */
export function pairedRatios(ratios, { resamples = 10_000, seed = 1 } = {}) {
  let x = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32: deterministic, good enough to resample indexes
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const n = ratios.length;
  const medians = new Float64Array(resamples);
  const sample = new Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = ratios[Math.floor(rand() * n)];
    medians[b] = median(sample);
  }
  const ms = Array.from(medians);
  return {
    n,
    median: median(ratios),
    q1: quantile(ratios, 0.25),
    q3: quantile(ratios, 0.75),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    ci90: [quantile(ms, 0.05), quantile(ms, 0.95)],
  };
}

/** "1.023 (quartiles 0.98–1.07; min–max 0.81–1.30; 90% CI of the median 0.99–1.05)". */
export function formatPaired(p, d = 3) {
  const f = (v) => v.toFixed(d);
  return `${f(p.median)} (quartiles ${f(p.q1)}–${f(p.q3)}; min–max ${f(p.min)}–${f(p.max)}; 90% CI of the median ${f(p.ci90[0])}–${f(p.ci90[1])})`;
}
