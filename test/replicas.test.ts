// Replicas on one PostgreSQL database: each keeps a heartbeat row; an in-memory data-model cache beside another
// live replica is warned about loudly (it never hears of the other's writes), at start-up and when one appears.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { postgresAvailable } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { watchReplicas } from '../src/services/replicas.ts';

interface Line {
  level: number;
  msg: string;
  replicas?: string[];
}
function capture() {
  const lines: Line[] = [];
  return {
    lines,
    logger: {
      level: 'warn',
      stream: {
        write: (l: string) => {
          lines.push(JSON.parse(l) as Line);
        },
      },
    },
    said: (re: RegExp, level?: number) => lines.filter((l) => re.test(l.msg) && (level === undefined || l.level === level)),
  };
}
const WARN = 40;
const ERROR = 50;
const ONE_ONLY = /engine is inmemory with a PostgreSQL database: right for one replica only/;
const SHARED = /another Berth replica shares this database/;
const OTHER_IN_MEMORY = /a Berth replica sharing this database caches in memory/;

describe('replicas on one database (sqlite)', () => {
  test('SQLite: one process owns the database, so nothing is registered and nothing is warned', async () => {
    const log = capture();
    const s = await startServer('sqlite', {}, { logger: log.logger as never });
    try {
      assert.deepEqual(log.said(/replica/), []);
      assert.deepEqual(await s.berth.ctx.db.selectFrom('replica').selectAll().execute(), []);
    } finally {
      await s.stop();
    }
  });
});

const pgSkip = !(await postgresAvailable()) && 'PostgreSQL is not reachable';

describe('replicas on one database (postgres)', () => {
  const servers: TestServer[] = [];
  after(async () => {
    // The first server owns (and drops) the database: it stops last.
    for (const s of servers.reverse()) await s.stop();
  });

  test('an in-memory cache on PostgreSQL is warned about at start-up; a second replica on the same database is told loudly, and so is the first at its next heartbeat', {
    skip: pgSkip,
  }, async () => {
    const a = capture();
    const first = await startServer('postgres', {}, { logger: a.logger as never });
    servers.push(first);
    assert.equal(a.said(ONE_ONLY, WARN).length, 1, 'the start-up warning');
    assert.deepEqual(a.said(SHARED), [], 'alone: no replica to warn about');
    const rows = await first.berth.ctx.db.selectFrom('replica').select(['cache_engine', 'pid']).execute();
    assert.deepEqual(rows, [{ cache_engine: 'inmemory', pid: process.pid }]);

    // A second replica on the same database (its own data directory), with no cache at all.
    const b = capture();
    const second = await startServer(
      'sqlite',
      { DB_URI: first.dbUri! },
      { logger: b.logger as never, config: { DATA_MODEL_CACHE_CONFIG: { engine: 'none' } } },
    );
    servers.push(second);
    assert.deepEqual(b.said(ONE_ONLY), [], 'engine none is fine for replicas');
    assert.equal(b.said(OTHER_IN_MEMORY, ERROR).length, 1, 'the second replica is told the first one caches in memory');
    // The first replica hears of the second at its next heartbeat (run here instead of waiting for the timer).
    const watch = await watchReplicas(
      first.berth.ctx,
      'inmemory',
      { warn() {}, error: (o, m) => a.lines.push({ level: ERROR, msg: m, ...o }) },
      3600,
    );
    const others = await watch!.beat();
    await watch!.stop();
    assert.ok(others.some((o) => o.cacheEngine === 'none'));
    assert.equal(a.said(SHARED, ERROR).length, 1);
    assert.equal(a.said(SHARED, ERROR)[0].replicas?.length, 2, 'both other registrations are named: the second server and the first');
  });

  test('a replica that stopped is no longer counted: its row goes on stop, and a stale row (a killed replica) is ignored', {
    skip: pgSkip,
  }, async () => {
    const [first] = servers;
    const { db } = first.berth.ctx;
    const before = (await db.selectFrom('replica').select('id').execute()).length;
    await servers.pop()!.stop(); // the second server
    assert.equal((await db.selectFrom('replica').select('id').execute()).length, before - 1);
    // A replica killed an hour ago left its row behind.
    const hourAgo = Date.now() - 3600_000;
    await db
      .insertInto('replica')
      .values({ id: 'killed', host: 'gone', pid: 1, cache_engine: 'inmemory', started_at: hourAgo, seen_at: hourAgo })
      .execute();
    const c = capture();
    const third = await startServer('sqlite', { DB_URI: first.dbUri! }, { logger: c.logger as never });
    try {
      assert.equal(c.said(ONE_ONLY, WARN).length, 1);
      assert.equal(c.said(SHARED, ERROR).length, 1, 'the first replica is live');
      assert.deepEqual(
        c.said(SHARED, ERROR)[0].replicas,
        [`${(await import('node:os')).hostname()}:${process.pid}`],
        'the killed one is not',
      );
    } finally {
      await third.stop();
    }
  });
});
