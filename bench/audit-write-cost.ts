// The audit log's own cost per entry, without HTTP: CPU time to record() an entry (a pull_repo with Quay's
// metadata) and write it in the batched INSERT, on SQLite (default) or PostgreSQL (--pg: a new database
// of its own on BERTH_TEST_PG's server, dropped at the end). A figure the machine's load hardly moves,
// to read next to bench/audit-overhead.mjs.
//   node --import tsx bench/audit-write-cost.ts [--entries 50000] [--pg] [--record] [--vs DIR [--rounds 16]]
// By default the entries are queued as the hook queues a pull (recordPull); --record: through record() with the
// entry the hook built before (the metadata object, the performer), as every other kind still is.
// --vs DIR: this checkout's AuditLog against DIR's (another checkout's src/services/audit/log.ts, e.g. main's), in
// one process on one database, alternating which goes first, --entries per round (default 10,000): the median of
// the per-round ratios this/DIR, and on PostgreSQL also the CPU of the database's server processes (/proc).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/database.ts';
import { AuditLog } from '../src/services/audit/log.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';

const arg = (k: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const vs = arg('vs');
const N = Number(arg('entries') ?? (vs ? 10_000 : 50_000));
const viaRecord = process.argv.includes('--record');
const UA = 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1';
const SOMEONE = { kind: 'user', id: 1, name: 'someone', superuser: false, ownerId: null } as const;
const pgDb = process.argv.includes('--pg') ? await createPostgresDatabase() : undefined;
const pgUri = pgDb?.uri;
const dir = mkdtempSync(path.join(tmpdir(), 'berth-audit-cost-'));
const { db, close } = await openDatabase(
  pgUri ? { kind: 'postgres', uri: pgUri, maxConnections: 4 } : { kind: 'sqlite', file: path.join(dir, 'berth.db') },
);
const opts = { dialect: pgUri ? 'postgres' : 'sqlite', enabled: true, flushMs: 1000, batchSize: 500, retentionDays: 0 } as const;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Records n entries (flushing every 500 as the batch size would) and writes them; CPU µs per entry. */
async function run(log: AuditLog, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    if (viaRecord)
      log.record({
        kind: 'pull_repo',
        repository: 'bench/app',
        performer: { kind: 'user', name: 'someone' },
        ip: '127.0.0.1',
        metadata: { repo: 'app', namespace: 'bench', tag: 'v1', useragent: UA },
      });
    else log.recordPull(`bench/app${i % 7}`, `v${i % 50}`, UA, SOMEONE, '127.0.0.1');
    if (i % 500 === 499) await log.flush();
  }
  await log.flush();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/** CPU seconds of the PostgreSQL server processes serving this database (other than the monitor's own). */
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

try {
  if (!vs) {
    const log = new AuditLog(db, opts);
    for (let round = 1; round <= 3; round++) {
      const t0 = performance.now();
      const cpu = await run(log, N);
      console.log(
        `round ${round}: ${cpu.toFixed(1)} µs CPU per entry (record + batched write), ${(((performance.now() - t0) * 1000) / N).toFixed(1)} µs wall`,
      );
    }
  } else {
    const other = (await import(path.resolve(vs, 'src/services/audit/log.ts'))) as { AuditLog: typeof AuditLog };
    const logs = { this: new AuditLog(db, opts), vs: new other.AuditLog(db, opts) };
    const mon = pgUri ? new pg.Client({ connectionString: pgUri }) : undefined;
    await mon?.connect();
    const cpu: Record<'this' | 'vs', number[]> = { this: [], vs: [] };
    const server: Record<'this' | 'vs', number[]> = { this: [], vs: [] };
    const rounds = Number(arg('rounds') ?? 16);
    for (let round = 0; round < rounds + 2; round++) {
      for (const k of round % 2 ? (['vs', 'this'] as const) : (['this', 'vs'] as const)) {
        const s0 = await serverCpu(mon);
        const c = await run(logs[k], N);
        const s = (((await serverCpu(mon)) - s0) * 1e6) / N;
        // The first two rounds warm both up (JIT, statement caches).
        if (round >= 2) {
          cpu[k].push(c);
          server[k].push(s);
        }
      }
    }
    await mon?.end();
    const ratios = cpu.this.map((v, i) => v / cpu.vs[i]);
    console.log(
      `${rounds} rounds of ${N} entries, ${opts.dialect}: this ${median(cpu.this).toFixed(2)} µs CPU per entry, ${vs} ${median(cpu.vs).toFixed(2)}; ` +
        `per-round ratio this/vs: median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)})`,
    );
    if (mon)
      console.log(
        `database server CPU per entry (10 ms ticks): this ${median(server.this).toFixed(2)} µs, ${vs} ${median(server.vs).toFixed(2)} µs`,
      );
  }
} finally {
  await close();
  await pgDb?.drop();
  rmSync(dir, { recursive: true, force: true });
}
