// What a page of the audit log costs at 1,000 and 1,000,000 entries, this checkout against another (--vs DIR, e.g.
// main's): each opens its own database with its own migrations (SQLite files, or PostgreSQL databases auditidx6_*
// on BERTH_TEST_PG's server with --pg), both filled with the same day of entries (20 namespaces, 400 repositories,
// 50 users, ids in time order), then the same page reads through each checkout's AuditQueries.lookup, alternating
// which goes first in every round: a repository's page, a namespace's, the whole registry's, each as the first page
// and as the next one (from the first page's next_page), over the whole day and over its older half (yesterday's log
// while today's is written). Per page: the wall time, and the CPU time (SQLite: this process, which runs the
// queries; PostgreSQL: the server's backends, /proc, 10 ms ticks, plus this process). With --pg also the sizes of
// audit_log and its indexes.
//   node --import tsx bench/audit-pages.ts --vs DIR [--pg] [--sizes 1000,1000000] [--rounds 10] [--writes 160000]
//                                         [--upgrade 1000000] [--names long|short] [--keep]
// --writes N (PostgreSQL): the cost of the indexes per entry: N entries flushed by this checkout's AuditLog into
// each database (at its largest size), alternating, in rounds of 20,000, batches of 500: the server's CPU per entry.
// --upgrade N (PostgreSQL): a database migrated by DIR with N entries, then opened by this checkout: how long
// migration 0024 takes (the upgrade's cost).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { openDatabase, type OpenedDatabase } from '../src/db/database.ts';
import { AuditLog } from '../src/services/audit/log.ts';
import { AuditQueries, type LogFilter, type LogScope } from '../src/services/audit/query.ts';
import { PG_ADMIN_URI } from '../test/helpers/databases.ts';
// @ts-expect-error plain ESM helpers without types
import { formatPaired, median, pairedRatios } from './lib/ab.mjs';

const arg = (k: string, d?: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const vs = arg('vs');
if (!vs) throw new Error('--vs DIR: the other checkout (with its node_modules)');
const usePg = process.argv.includes('--pg');
const sizes = (arg('sizes', '1000,1000000') as string).split(',').map(Number);
const rounds = Number(arg('rounds', '10'));
const writes = Number(arg('writes', '0'));
const upgrade = Number(arg('upgrade', '0'));
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 2);
/** The filled day (its newest entries are the table's newest), and its older half ("yesterday" while today is written). */
const RANGES: [string, LogFilter][] = [
  ['day', { start: T0, end: T0 + DAY }],
  ['older half', { start: T0, end: T0 + DAY / 2 }],
];
const dir = mkdtempSync(path.join(tmpdir(), 'berth-audit-pages-'));

type Open = typeof openDatabase;
type Side = 'this' | 'vs';
const other = {
  open: ((await import(path.resolve(vs, 'src/db/database.ts'))) as { openDatabase: Open }).openDatabase,
  Queries: ((await import(path.resolve(vs, 'src/services/audit/query.ts'))) as { AuditQueries: typeof AuditQueries }).AuditQueries,
  Log: ((await import(path.resolve(vs, 'src/services/audit/log.ts'))) as { AuditLog: typeof AuditLog }).AuditLog,
};

async function admin(q: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URI });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

function pgUri(name: string): string {
  const u = new URL(PG_ADMIN_URI);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database named for `side` and `n`, migrated by that side's checkout. */
async function fresh(side: Side, n: number, label = 'pages'): Promise<OpenedDatabase> {
  const open = side === 'this' ? openDatabase : other.open;
  if (!usePg) return open({ kind: 'sqlite', file: path.join(dir, `${label}-${side}-${n}.db`) });
  const name = `auditidx6_${label}_${side}_${n}`;
  await admin(`drop database if exists ${name} with (force)`);
  await admin(`create database ${name}`);
  return open({ kind: 'postgres', uri: pgUri(name), maxConnections: 2 });
}

/**
 * Names as a registry has them (`--names short`: ns0…ns19 and ns0/app0…, which fit PostgreSQL's 24-byte limit for
 * its "split after the new item" page splits in (namespace, created_at) and so make that index half the size).
 */
const short = arg('names', 'long') === 'short';
const NS = short ? `'ns'` : `'platform-team-'`;
const APP = short ? `'/app'` : `'/service-api-'`;

/** n entries spread over the day T0, in time order (ids too): 20 namespaces, 20 repositories each, 50 users. */
async function fill(o: OpenedDatabase, n: number): Promise<void> {
  const step = DAY / n;
  const meta = `'{"repo":"app","namespace":"ns","tag":"latest","useragent":"docker/24.0.7 go/go1.20.10"}'`;
  const cols = `kind, namespace, repository, performer_kind, performer, ip, metadata, created_at`;
  const sel = (i: string, cat: string) =>
    `case when ${i} % 10 = 0 then 'push_repo' else 'pull_repo' end, ${NS} ${cat} (${i} % 20), ${NS} ${cat} (${i} % 20) ${cat} ${APP} ${cat} ((${i} / 20) % 20), ` +
    `'user', 'user' ${cat} (${i} % 50), '10.0.0.1', ${meta}, ${T0} + cast(${i} * ${step} as bigint)`;
  const q = usePg
    ? `insert into audit_log (${cols}) select ${sel('i', '||')} from generate_series(0, ${n - 1}) as g(i)`
    : `with recursive s(i) as (select 0 union all select i + 1 from s where i < ${n - 1}) insert into audit_log (${cols}) select ${sel('i', '||')} from s`;
  await o.db.executeQuery(CompiledQuery.raw(q));
  if (usePg) await o.db.executeQuery(CompiledQuery.raw('analyze audit_log'));
}

/** PostgreSQL: the size of audit_log and of each of its indexes. */
async function indexSizes(o: OpenedDatabase): Promise<string> {
  const r = await o.db.executeQuery<{ relname: string; mb: string }>(
    CompiledQuery.raw(
      `select c.relname, round(pg_relation_size(c.oid) / 1048576.0, 1) as mb from pg_class c
       where c.relname = 'audit_log' or c.oid in (select indexrelid from pg_index where indrelid = 'audit_log'::regclass) order by 1`,
    ),
  );
  return r.rows.map((x) => `${x.relname} ${x.mb} MB`).join(', ');
}

/** CPU seconds of the PostgreSQL backends of the database `mon` is connected to (other than its own). */
async function serverCpu(mon: pg.Client | undefined): Promise<number> {
  if (!mon) return 0;
  const pids = (await mon.query('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).rows;
  let t = 0;
  for (const { pid } of pids) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      t += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* gone */
    }
  }
  return t;
}

const SCOPES: [string, LogScope][] = [
  ['repository', { repository: short ? 'ns7/app3' : 'platform-team-7/service-api-3' }],
  ['namespace', { namespace: short ? 'ns7' : 'platform-team-7' }],
  ['registry', { all: true }],
];

interface Sidecar {
  o: OpenedDatabase;
  q: AuditQueries;
  mon?: pg.Client;
}

async function sidecar(side: Side, o: OpenedDatabase, n: number): Promise<Sidecar> {
  const opts = { dialect: o.dialect, enabled: false, flushMs: 60_000, batchSize: 500, retentionDays: 0 } as const;
  const q = side === 'this' ? new AuditQueries(o.db, new AuditLog(o.db, opts)) : new other.Queries(o.db, new other.Log(o.db, opts));
  let mon: pg.Client | undefined;
  if (usePg) {
    mon = new pg.Client({ connectionString: pgUri(`auditidx6_pages_${side}_${n}`) });
    await mon.connect();
  }
  return { o, q, mon };
}

/** ms of wall and of CPU per lookup, `reps` lookups of one page. */
async function measure(s: Sidecar, scope: LogScope, range: LogFilter, token: string | undefined, reps: number) {
  const s0 = await serverCpu(s.mon);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await s.q.lookup(scope, range, token);
  const wall = (performance.now() - t0) / reps;
  const c = process.cpuUsage(c0);
  const server = ((await serverCpu(s.mon)) - s0) * 1000;
  return { wall, cpu: ((c.user + c.system) / 1000 + server) / reps };
}

const pct = (xs: number[], d = 2) => median(xs).toFixed(d);

try {
  const kept: Record<Side, Sidecar | undefined> = { this: undefined, vs: undefined };
  for (const n of sizes) {
    const sides = {} as Record<Side, Sidecar>;
    for (const side of ['this', 'vs'] as const) {
      const t0 = performance.now();
      const o = await fresh(side, n);
      await fill(o, n);
      sides[side] = await sidecar(side, o, n);
      console.error(`${side}: ${n} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (usePg) console.log(`${side}, ${n} entries: ${await indexSizes(o)}`);
    }
    console.log(
      `\n### ${n.toLocaleString('en')} entries, ${usePg ? 'PostgreSQL' : 'SQLite'} (load ${(await import('node:os')).loadavg()[0].toFixed(1)})`,
    );
    console.log('| page | this: ms wall / ms CPU | vs: ms wall / ms CPU | CPU this/vs, paired per round |');
    console.log('| --- | --- | --- | --- |');
    for (const [rangeName, range] of RANGES)
      for (const [name, scope] of SCOPES)
        for (const which of ['first', 'next'] as const) {
          const tokens = {} as Record<Side, string | undefined>;
          for (const side of ['this', 'vs'] as const)
            tokens[side] = which === 'next' ? (await sides[side].q.lookup(scope, range)).next_page : undefined;
          // Warm both (statement caches, JIT), then as many lookups per round as take ~150 ms on the slower side.
          let slower = 0;
          for (const side of ['this', 'vs'] as const)
            slower = Math.max(slower, (await measure(sides[side], scope, range, tokens[side], 3)).wall);
          const reps = Math.max(1, Math.min(1000, Math.round(150 / Math.max(slower, 0.05))));
          const res: Record<Side, { wall: number[]; cpu: number[] }> = { this: { wall: [], cpu: [] }, vs: { wall: [], cpu: [] } };
          for (let r = 0; r < rounds; r++)
            for (const side of r % 2 ? (['vs', 'this'] as const) : (['this', 'vs'] as const)) {
              const m = await measure(sides[side], scope, range, tokens[side], reps);
              res[side].wall.push(m.wall);
              res[side].cpu.push(m.cpu);
            }
          const ratios = res.this.cpu.map((v, i) => v / res.vs.cpu[i]);
          console.log(
            `| ${name}, ${rangeName}, ${which} page (${reps}/round) | ${pct(res.this.wall, 3)} / ${pct(res.this.cpu, 3)} | ${pct(res.vs.wall, 3)} / ${pct(res.vs.cpu, 3)} | ${formatPaired(pairedRatios(ratios), 4)} |`,
          );
        }
    for (const side of ['this', 'vs'] as const) {
      if (n === sizes[sizes.length - 1] && writes) kept[side] = sides[side];
      else {
        await sides[side].mon?.end();
        await sides[side].o.close();
      }
    }
  }

  if (writes && usePg && kept.this && kept.vs) {
    // The indexes' cost per entry: the same AuditLog (this checkout's) writing into both databases.
    const both = kept as Record<Side, Sidecar>;
    const logs = {} as Record<Side, AuditLog>;
    for (const side of ['this', 'vs'] as const)
      logs[side] = new AuditLog(both[side].o.db, { dialect: 'postgres', enabled: true, flushMs: 60_000, batchSize: 1e9, retentionDays: 0 });
    const per = 20_000;
    const cpu: Record<Side, number[]> = { this: [], vs: [] };
    for (let r = 0; r < Math.ceil(writes / per) + 2; r++)
      for (const side of r % 2 ? (['vs', 'this'] as const) : (['this', 'vs'] as const)) {
        const s0 = await serverCpu(both[side].mon);
        for (let i = 0; i < per; i++) {
          logs[side].recordPull(
            short ? `ns${i % 20}/app${i % 7}` : `platform-team-${i % 20}/service-api-${i % 7}`,
            `v${i % 50}`,
            'docker/24.0.7',
            undefined,
            '10.0.0.2',
          );
          if (i % 500 === 499) await logs[side].flush();
        }
        await logs[side].flush();
        if (r >= 2) cpu[side].push((((await serverCpu(both[side].mon)) - s0) * 1e6) / per);
      }
    const ratios = cpu.this.map((v, i) => v / cpu.vs[i]);
    console.log(
      `\nPostgreSQL server CPU per audit entry written (batches of 500, ${cpu.this.length} rounds of ${per}, table of ${sizes[sizes.length - 1]}+ entries, load ${(await import('node:os')).loadavg()[0].toFixed(1)}): ` +
        `this ${pct(cpu.this, 1)} µs, vs ${pct(cpu.vs, 1)} µs; ratio ${formatPaired(pairedRatios(ratios))}`,
    );
  }
  for (const side of ['this', 'vs'] as const) {
    await kept[side]?.mon?.end();
    await kept[side]?.o.close();
  }

  if (upgrade && usePg) {
    const o = await fresh('vs', upgrade, 'upgrade');
    await fill(o, upgrade);
    await o.close();
    const t0 = performance.now();
    const c = await openDatabase({ kind: 'postgres', uri: pgUri(`auditidx6_upgrade_vs_${upgrade}`), maxConnections: 2 });
    console.log(
      `\nupgrade: opening a database of ${upgrade.toLocaleString('en')} entries migrated by ${vs} (migration 0024) took ${((performance.now() - t0) / 1000).toFixed(1)} s (load ${(await import('node:os')).loadavg()[0].toFixed(1)})`,
    );
    await c.close();
  }
} finally {
  if (usePg && !process.argv.includes('--keep'))
    for (const n of [...sizes, upgrade])
      for (const side of ['this', 'vs'])
        for (const label of ['pages', 'upgrade'])
          await admin(`drop database if exists auditidx6_${label}_${side}_${n} with (force)`).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
