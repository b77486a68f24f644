// The audit log's own cost per entry, without HTTP: CPU time to record() an entry (a pull_repo with Quay's
// metadata) and write it in the batched INSERT, on SQLite (default) or PostgreSQL (--pg: a new database
// of its own on BERTH_TEST_PG's server, dropped at the end). A figure the machine's load hardly moves,
// to read next to bench/audit-overhead.mjs.
//   node --import tsx bench/audit-write-cost.ts [--entries 50000] [--pg] [--record]
// By default the entries are queued as the hook queues a pull (recordPull); --record: through record() with the
// entry the hook built before (the metadata object, the performer), as every other kind still is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/database.ts';
import { AuditLog } from '../src/services/audit/log.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';

const arg = (k: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const N = Number(arg('entries') ?? 50_000);
const viaRecord = process.argv.includes('--record');
const UA = 'docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1';
const SOMEONE = { kind: 'user', id: 1, name: 'someone', superuser: false, ownerId: null } as const;
const pgDb = process.argv.includes('--pg') ? await createPostgresDatabase() : undefined;
const pg = pgDb?.uri;
const dir = mkdtempSync(path.join(tmpdir(), 'berth-audit-cost-'));
const { db, close } = await openDatabase(
  pg ? { kind: 'postgres', uri: pg, maxConnections: 4 } : { kind: 'sqlite', file: path.join(dir, 'berth.db') },
);
const log = new AuditLog(db, { dialect: pg ? 'postgres' : 'sqlite', enabled: true, flushMs: 1000, batchSize: 500, retentionDays: 0 });
try {
  for (let round = 1; round <= 3; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      if (viaRecord)
        log.record({
          kind: 'pull_repo',
          repository: 'bench/app',
          performer: { kind: 'user', name: 'someone' },
          ip: '127.0.0.1',
          metadata: { repo: 'app', namespace: 'bench', tag: 'v1', useragent: UA },
        });
      else log.recordPull('bench/app', 'v1', UA, SOMEONE, '127.0.0.1');
      if (i % 500 === 499) await log.flush();
    }
    await log.flush();
    const c = process.cpuUsage(c0);
    console.log(
      `round ${round}: ${((c.user + c.system) / N).toFixed(1)} µs CPU per entry (record + batched write), ${(((performance.now() - t0) * 1000) / N).toFixed(1)} µs wall`,
    );
  }
} finally {
  await close();
  await pgDb?.drop();
  rmSync(dir, { recursive: true, force: true });
}
