#!/usr/bin/env node
// Event-loop stalls from SQLite checkpoints: the same commit-heavy workload with checkpoints on the worker thread
// (src/db/checkpointer.ts, Berth's default) against SQLite's automatic checkpoint inside the committing statement
// (wal_autocheckpoint = 1000 pages, Berth before), in alternating rounds on fresh copies of one database.
//
//   node bench/checkpoint-stall.mjs [--rounds 6] [--commits 3000] [--rows 20000] [--limit-mib 64]
//
// Each commit updates 4 random rows of a --rows × 4 KB table (so a checkpoint copies many distinct pages) and every
// 8th commit awaits the group fdatasync, as acknowledged writes do. Reported per mode: the event loop's max and
// p99 delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution), the slowest single commit statement, checkpoints,
// the WAL's peak size, and the load average. Medians over rounds.
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { register } from 'tsx/esm/api';

register();
const { default: SQLite } = await import('better-sqlite3');
const { WalGroupSync } = await import('../src/db/wal-sync.ts');
const { WalCheckpointer, CHECKPOINT_DEFAULTS } = await import('../src/db/checkpointer.ts');
const { parseOptions } = await import('./lib/ab.mjs');

const opt = parseOptions({ rounds: 6, commits: 3000, rows: 20000, 'limit-mib': 64 });
const dir = mkdtempSync(path.join(tmpdir(), 'berth-ckstall-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const seed = path.join(dir, 'seed.db');
{
  const db = new SQLite(seed);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
  const ins = db.prepare('INSERT INTO t (id, body) VALUES (?, randomblob(4000))');
  db.transaction(() => {
    for (let i = 0; i < opt.rows; i++) ins.run(i);
  })();
  db.close();
}
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

async function round(mode, n) {
  const file = path.join(dir, `r${n}-${mode}.db`);
  copyFileSync(seed, file);
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  const wal = new WalGroupSync(`${file}-wal`);
  let ck;
  let autoCheckpoints = 0;
  // The wal-index header's mxFrame (the -shm file, offset 16): it drops when a writer restarts the log after a checkpoint.
  let shm;
  const head = Buffer.alloc(48);
  const mxFrame = () => {
    shm ??= openSync(`${file}-shm`, 'r');
    readSync(shm, head, 0, 48, 0);
    return head.readUInt32LE(16);
  };
  let lastFrame = 0;
  let slowestRestart = 0;
  let peakFrames = 0;
  if (mode === 'worker') {
    ck = new WalCheckpointer(
      file,
      db,
      {
        ...CHECKPOINT_DEFAULTS,
        limitBytes: opt['limit-mib'] * 1048576,
      },
      wal,
    );
    ck.start();
  } else db.pragma('wal_autocheckpoint = 1000');
  const upd = db.prepare('UPDATE t SET body = randomblob(4000) WHERE id = ?');
  const tx = db.transaction((ids) => {
    for (const id of ids) upd.run(id);
  });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let slowest = 0;
  let peakWal = 0;
  const load0 = load();
  const t0 = performance.now();
  eld.enable();
  for (let i = 0; i < opt.commits; i++) {
    const ids = [0, 1, 2, 3].map(() => Math.floor(Math.random() * opt.rows));
    const s = performance.now();
    tx(ids);
    const took = performance.now() - s;
    const frame = mxFrame();
    if (frame < lastFrame) {
      // This commit restarted the log (and synced the new WAL header on the event loop).
      if (!ck) autoCheckpoints++;
      slowestRestart = Math.max(slowestRestart, took);
    } else slowest = Math.max(slowest, took);
    lastFrame = frame;
    wal.noteCommit();
    ck?.noteCommit();
    const size = statSync(`${file}-wal`).size;
    peakFrames = Math.max(peakFrames, frame - (ck ? ck.walIndex().backfilled : 0));
    peakWal = Math.max(peakWal, size);
    if (i % 8 === 7) await wal.durable();
    else await new Promise((r) => setImmediate(r));
  }
  await wal.durable();
  eld.disable();
  const secs = (performance.now() - t0) / 1000;
  const r = {
    mode,
    maxMs: eld.max / 1e6,
    p99Ms: eld.percentile(99) / 1e6,
    slowestCommitMs: slowest,
    slowestRestartMs: slowestRestart,
    commitsPerS: opt.commits / secs,
    checkpoints: ck ? ck.checkpoints + ck.foreground : autoCheckpoints,
    peakWalMiB: peakWal / 1048576,
    load: `${load0} → ${load()}`,
  };
  await ck?.close();
  if (shm !== undefined) closeSync(shm);
  db.close();
  wal.release();
  rmSync(file, { force: true });
  return r;
}

const results = { worker: [], auto: [] };
for (let n = 0; n < opt.rounds; n++) {
  for (const mode of n % 2 ? ['auto', 'worker'] : ['worker', 'auto']) {
    const r = await round(mode, n);
    results[mode].push(r);
    console.error(
      `round ${n} ${mode.padEnd(6)} max ${r.maxMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, slowest commit ${r.slowestCommitMs.toFixed(1)} ms (restarting the log ${r.slowestRestartMs.toFixed(1)}), ` +
        `${r.commitsPerS.toFixed(0)} commits/s, ${r.checkpoints} checkpoints (${mode === 'worker' ? 'worker' : 'event loop'}), WAL peak ${r.peakWalMiB.toFixed(1)} MiB, load ${r.load}`,
    );
  }
}
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\n${opt.rounds} rounds × ${opt.commits} commits, medians (min–max):`);
console.log(
  '| checkpoints | event loop max delay ms | p99 ms | slowest commit ms | slowest log-restarting commit ms | commits/s | checkpoints | WAL peak MiB |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const mode of ['worker', 'auto']) {
  const rs = results[mode];
  const f = (k, d = 1) =>
    `${med(rs.map((r) => r[k])).toFixed(d)} (${Math.min(...rs.map((r) => r[k])).toFixed(d)}–${Math.max(...rs.map((r) => r[k])).toFixed(d)})`;
  console.log(
    `| ${mode === 'worker' ? 'background, between callbacks (Berth)' : 'automatic, in the commit (before)'} | ${f('maxMs')} | ${f('p99Ms')} | ${f('slowestCommitMs')} | ${f('slowestRestartMs')} | ${f('commitsPerS', 0)} | ${f('checkpoints', 0)} | ${f('peakWalMiB')} |`,
  );
}
