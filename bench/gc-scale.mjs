#!/usr/bin/env node
// gc on a small and a large registry ("gc, candidate-driven" in docs/PERFORMANCE.md): one gc pass with nothing
// to do, one after deleting 10 manifests by digest (their layers become garbage), and one that runs a slice of the
// safety-net sweep (GC_SWEEP_ROWS rows), each with its wall time, this process's CPU seconds, the database
// server's CPU seconds (PostgreSQL: the backends of this database) and peak RSS.
//
//   node --import tsx bench/gc-scale.mjs --dialect sqlite --large-sqlite /tmp/big.db
//   node --import tsx bench/gc-scale.mjs --dialect postgres --large-postgres URI
//   options: --small "orgs,repos,tags,blobs" (default 10,100,1000,10000) --only small|large
//
// The large database comes from bench/scale-gen.mjs (generated once, reused: this run deletes 10 of its
// manifests each time, which changes nothing measurable).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from './scale-gen.mjs';
import { generatedPostgres, load, opt, SMALL, sayer } from './lib/scale-setup.mjs';

const { loadConfig } = await import('../src/config/load.ts');
const { openContext } = await import('../src/server.ts');
const { collectGarbage } = await import('../src/services/gc.ts');
const { ManifestService } = await import('../src/services/manifests.ts');

const DIALECT = opt('dialect', 'sqlite');
const say = sayer('gc-scale');

async function prepare(label) {
  const dir = mkdtempSync(path.join(tmpdir(), `berth-gc-scale-${label}-`));
  if (label === 'large') {
    const uri = DIALECT === 'sqlite' ? `sqlite:${opt('large-sqlite')}` : opt('large-postgres');
    if (!uri || uri === 'sqlite:undefined') throw new Error('--large-sqlite FILE or --large-postgres URI (from bench/scale-gen.mjs)');
    return { dir, uri, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (DIALECT === 'sqlite') {
    const file = path.join(dir, 'berth.db');
    await generate({ kind: 'sqlite', file }, SMALL, { log: false });
    return { dir, uri: `sqlite:${file}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  return generatedPostgres(SMALL, dir, { log: false });
}

/** CPU seconds of the PostgreSQL backends serving `db` (from /proc; 0 on SQLite, counted in this process). */
async function serverCpu(ctx) {
  if (ctx.dialect !== 'postgres') return 0;
  const { sql } = await import('kysely');
  const r = await sql`select pid from pg_stat_activity where datname = current_database()`.execute(ctx.db);
  const { readFileSync } = await import('node:fs');
  let ticks = 0;
  for (const { pid } of r.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return ticks / 100;
}

async function pass(ctx, what, opts) {
  const l = load();
  const c0 = process.cpuUsage();
  const s0 = await serverCpu(ctx);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t = performance.now();
  const report = await collectGarbage(ctx, opts).finally(() => clearInterval(sampler));
  const ms = performance.now() - t;
  peak = Math.max(peak, process.memoryUsage().rss);
  const c = process.cpuUsage(c0);
  const s1 = await serverCpu(ctx);
  const row = { what, ms, cpu: (c.user + c.system) / 1e6, dbCpu: s1 - s0, peakMiB: peak / 2 ** 20, load: l, report };
  say(
    `${what}: ${ms.toFixed(0)} ms, cpu ${row.cpu.toFixed(2)} s, db cpu ${row.dbCpu.toFixed(2)} s, peak RSS ${row.peakMiB.toFixed(0)} MiB ${JSON.stringify(report)}`,
  );
  return row;
}

async function measure(label) {
  const db = await prepare(label);
  const rows = [];
  for (const sweep of [0, 1]) {
    const dir = path.join(db.dir, `s${sweep}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'config.yaml');
    // Sweep 0: never on its own (the steady state between sweeps); 1: due now, GC_SWEEP_ROWS rows this pass.
    writeFileSync(file, `FEATURE_SECURITY_SCANNER: false\nGC_SWEEP_INTERVAL_SECONDS: ${sweep ? 1 : 0}\n`);
    // One DATA_DIR for the database (its secret key file): openContext refuses another key (key-fingerprint.ts).
    const config = loadConfig({ file, data: db.dir, env: { DB_URI: db.uri } });
    const { ctx, database } = await openContext(config);
    try {
      if (!sweep) {
        rows.push(await pass(ctx, 'nothing to remove', {}));
        // 10 manifests deleted by digest: their links and blobs become candidates.
        const manifests = new ManifestService(ctx);
        const victims = await ctx.db
          .selectFrom('manifest as m')
          .innerJoin('repository as r', 'r.id', 'm.repository_id')
          .select(['r.name', 'm.digest'])
          .where('m.repository_id', '>', 1)
          .orderBy('m.id', 'desc')
          .limit(10)
          .execute();
        for (const v of victims) await manifests.delete(v.name, v.digest);
        rows.push(await pass(ctx, '10 manifests deleted', {}));
      } else {
        // A finished sweep long ago: this pass starts a new one.
        await ctx.db.deleteFrom('gc_sweep').execute();
        rows.push(await pass(ctx, `sweep slice (${config.gcSweepRows} rows)`, {}));
      }
    } finally {
      ctx.store.close?.();
      await database.close();
    }
  }
  await db.drop();
  return rows;
}

const only = opt('only');
const small = only === 'large' ? [] : await measure('small');
const large = only === 'small' ? [] : await measure('large');
console.log(`\n${DIALECT}: gc pass, small ${JSON.stringify(SMALL)} vs large\n`);
console.log(
  '| pass | small: wall ms / cpu s / db cpu s / peak RSS MiB | large: wall ms / cpu s / db cpu s / peak RSS MiB | large/small wall | load (small; large) |',
);
console.log('|---|---|---|---|---|');
const fmt = (r) => (r ? `${r.ms.toFixed(0)} / ${r.cpu.toFixed(2)} / ${r.dbCpu.toFixed(2)} / ${r.peakMiB.toFixed(0)}` : '–');
for (let i = 0; i < Math.max(small.length, large.length); i++) {
  const a = small[i];
  const b = large[i];
  console.log(
    `| ${(a ?? b).what} | ${fmt(a)} | ${fmt(b)} | ${a && b ? `${(b.ms / a.ms).toFixed(2)}×` : '–'} | ${a?.load ?? '–'}; ${b?.load ?? '–'} |`,
  );
}
