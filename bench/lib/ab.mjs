// The A/B harness the overhead benchmarks share (bench/metrics-overhead.mjs, bench/audit-overhead.mjs): option
// parsing, Berth servers started from a config and stopped (temp dirs removed whatever happens, also on Ctrl-C),
// the server's CPU seconds from /proc, and medians. Plain Node ESM, no dependencies.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
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

/**
 * A Berth in a fresh temp dir with `config(port)` (YAML lines) as its config.yaml; resolves once GET /v2/ answers
 * (200, or 401 with token auth). `stop(inspect)` sends SIGTERM, waits for the exit, runs `inspect` (the data dir
 * still there), then removes the dir.
 */
export async function startBerth({ label, config }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-ab-${label}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(dir, 'config.yaml'), config(port).join('\n') + '\n');
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/berth.js'), 'serve', '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`, '--data', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
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
