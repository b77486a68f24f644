#!/usr/bin/env node
// CPU per PostgreSQL transaction through Berth's database layer (dist/db/database.js: Kysely, pg, the pool and its
// statement handling), this checkout against --baseline (another checkout's root), in alternating rounds. Each run is a
// child process on a fresh database of the shared cluster that runs --tx transactions, --conc at once, each shaped like
// a push's: an insert and a select by key, then COMMIT; plus as many single statements outside a transaction. Reports
// the child's CPU and its backends' CPU (from /proc) per transaction, and the paired per-round ratios with a bootstrap
// 90% interval (bench/lib/ab.mjs). Isolates the client/driver path from HTTP, storage and the scanner.
//
//   node bench/pg-roundtrip.mjs --baseline /tmp/base [--rounds 6] [--tx 3000] [--conc 8]
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ROOT, cpuSeconds, createPostgresDatabase, parseArgs } from './lib.mjs';
import { formatPaired, pairedRatios } from './lib/ab.mjs';

const opt = parseArgs(process.argv.slice(2), { baseline: '', rounds: 6, tx: 3000, conc: 8 });
if (!opt.baseline) throw new Error('--baseline <checkout root> is needed');
const log = (s) => process.stderr.write(s + '\n');

// The child: Berth's database layer of one checkout, a warm-up, then a timed run on the parent's word, then it waits to
// close its pool until the parent has read its backends' CPU.
const CHILD = `
const [root, uri, n, conc] = process.argv.slice(1);
const { openDatabase } = await import(root + '/dist/db/database.js');
const o = await openDatabase({ kind: 'postgres', uri, maxConnections: Number(conc) });
const db = o.db;
let k = 0;
const one = async () => {
  const id = 'rt-' + process.pid + '-' + k++;
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('upload').values({ id, repository: 'rt/x', size: 0, created_at: 1, updated_at: 1 }).execute();
    await tx.selectFrom('upload').select('size').where('id', '=', id).execute();
  });
  await db.updateTable('upload').set({ size: 1 }).where('id', '=', id).execute();
};
const run = async (count) => {
  let left = count;
  await Promise.all(Array.from({ length: Number(conc) }, async () => { while (left-- > 0) await one(); }));
};
await run(300); // warm-up: connections, prepared statements, JIT
process.stdout.write('ready\\n');
let input = '';
const waitFor = (word) =>
  new Promise((r) => {
    const check = () => input.includes(word) && (process.stdin.off('data', onData), r());
    const onData = (d) => ((input += d), check());
    process.stdin.on('data', onData);
    check();
  });
await waitFor('go');
const c0 = process.cpuUsage();
await run(Number(n));
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ cpu: (c.user + c.system) / 1e6 }) + '\\n');
await waitFor('close'); // the backends are sampled before the pool closes them
process.stdin.destroy();
await o.close();
`;

async function once(root) {
  const dbh = await createPostgresDatabase();
  const admin = new pg.Client({ connectionString: process.env.BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432/test' });
  await admin.connect();
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, root, dbh.uri, String(opt.tx), String(opt.conc)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = [];
    let buf = '';
    const waiters = [];
    child.stdout.on('data', (d) => {
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        waiters.shift()?.();
        i = buf.indexOf('\n');
      }
    });
    const line = async () => {
      while (!lines.length) await new Promise((r) => waiters.push(r));
      return lines.shift();
    };
    await line(); // ready
    const name = new URL(dbh.uri).pathname.slice(1);
    const backends = async () =>
      new Map(
        (await admin.query("select pid from pg_stat_activity where datname = $1 and backend_type = 'client backend'", [name])).rows.map(
          (r) => [r.pid, cpuSeconds(r.pid) ?? 0],
        ),
      );
    const b0 = await backends();
    child.stdin.write('go\n');
    const { cpu } = JSON.parse(await line());
    const b1 = await backends();
    child.stdin.end('close\n');
    const pgCpu = [...b1].reduce((s, [pid, v]) => s + v - (b0.get(pid) ?? 0), 0);
    await new Promise((r) => child.on('exit', r));
    return { cpu, pgCpu };
  } finally {
    await admin.end();
    await dbh.drop();
  }
}

log(`pg round trips: ${opt.rounds} rounds × ${opt.tx} transactions, ${opt.conc} at once; load ${os.loadavg()[0].toFixed(2)}`);
const sides = { A: ROOT, B: path.resolve(opt.baseline) };
const runs = [];
for (let round = 1; round <= opt.rounds; round++) {
  for (const side of round % 2 ? ['A', 'B'] : ['B', 'A']) {
    const r = await once(sides[side]);
    runs.push({ round, side, ...r, load: os.loadavg()[0] });
    const us = (x) => ((x * 1e6) / opt.tx).toFixed(0);
    log(`round ${round} ${side}: client ${us(r.cpu)} µs, backends ${us(r.pgCpu)} µs per transaction, load ${os.loadavg()[0].toFixed(2)}`);
  }
}
const paired = (f) => {
  const rs = [];
  for (let round = 1; round <= opt.rounds; round++) {
    const a = runs.find((r) => r.round === round && r.side === 'A');
    const b = runs.find((r) => r.round === round && r.side === 'B');
    rs.push(f(a) / f(b));
  }
  return formatPaired(pairedRatios(rs));
};
const med = (side, f) => {
  const xs = runs
    .filter((r) => r.side === side)
    .map(f)
    .sort((a, b) => a - b);
  return xs.length % 2 ? xs[xs.length >> 1] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
};
const us = (x) => ((x * 1e6) / opt.tx).toFixed(0);
console.log(`| per transaction (insert + select, COMMIT; then one update alone) | this | baseline | this/baseline |`);
console.log(`|---|---:|---:|---|`);
console.log(`| client CPU µs | ${us(med('A', (r) => r.cpu))} | ${us(med('B', (r) => r.cpu))} | ${paired((r) => r.cpu)} |`);
console.log(`| backends' CPU µs | ${us(med('A', (r) => r.pgCpu))} | ${us(med('B', (r) => r.pgCpu))} | ${paired((r) => r.pgCpu)} |`);
console.log(
  `| both µs | ${us(med('A', (r) => r.cpu + r.pgCpu))} | ${us(med('B', (r) => r.cpu + r.pgCpu))} | ${paired((r) => r.cpu + r.pgCpu)} |`,
);
console.log(`| load (1 min) | ${Math.min(...runs.map((r) => r.load)).toFixed(1)}–${Math.max(...runs.map((r) => r.load)).toFixed(1)} | | |`);
