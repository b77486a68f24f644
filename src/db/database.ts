// Opens the metadata database: embedded SQLite by default, PostgreSQL for production.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import type { Database } from './types.js';
import { migrate } from './migrations.js';
import { WalGroupSync } from './wal-sync.js';
import { CHECKPOINT_DEFAULTS, WalCheckpointer, type CheckpointSettings } from './checkpointer.js';
import { QueryCounter } from './query-counter.js';
import { ImmediateSqliteDialect } from './sqlite-dialect.js';

export type Dialect = 'sqlite' | 'postgres';
export type DB = Kysely<Database>;

export interface OpenedDatabase {
  db: DB;
  dialect: Dialect;
  /** Pool statistics for metrics (PostgreSQL only; SQLite has one connection). */
  poolStats(): { total: number; idle: number; waiting: number };
  /**
   * Resolves once every commit made before the call is durable (survives a power cut). SQLite: the group
   * fdatasync of the WAL (./wal-sync.ts); PostgreSQL: at once (its commits return after the server's WAL flush).
   */
  durable(): Promise<void>;
  /** SQLite on a file: the group-commit state (tests observe and hold syncs through its hooks). */
  walSync?: WalGroupSync;
  /** SQLite on a file: the background checkpoints (./checkpointer.ts). */
  checkpointer?: WalCheckpointer;
  /** How many statements this handle has run (tests and benchmarks: queries per request). */
  queries: QueryCounter;
  close(): Promise<void>;
}

export type DatabaseSettings =
  | { kind: 'sqlite'; file: string; checkpoint?: Partial<CheckpointSettings> }
  | { kind: 'postgres'; uri: string; maxConnections: number; namedStatements?: boolean };

export async function openDatabase(settings: DatabaseSettings): Promise<OpenedDatabase> {
  if (settings.kind === 'sqlite') {
    if (settings.file !== ':memory:') mkdirSync(path.dirname(settings.file), { recursive: true });
    const sqlite = new SQLite(settings.file);
    sqlite.pragma('journal_mode = WAL');
    // Commits append to the WAL without fsync; acknowledgements wait for the group fdatasync instead
    // (durable() below, docs/PERFORMANCE.md "The commit path"). Checkpoints still sync the WAL first.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    const wal = settings.file === ':memory:' ? undefined : new WalGroupSync(`${settings.file}-wal`);
    // Checkpoints run between callbacks on connections of their own, with their syncs on the thread pool, not inside a
    // committing statement.
    const checkpointer = wal
      ? new WalCheckpointer(settings.file, sqlite, { ...CHECKPOINT_DEFAULTS, ...settings.checkpoint }, wal)
      : undefined;
    checkpointer?.start();
    cachePreparedStatements(
      sqlite,
      wal &&
        (() => {
          wal.noteCommit();
          checkpointer?.noteCommit();
        }),
    );
    const queries = new QueryCounter();
    const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }), plugins: [queries] });
    await migrate(db as Kysely<unknown>, 'sqlite');
    await wal?.durable();
    // Kysely's SQLite driver runs one connection holder at a time: holding it keeps every statement out.
    if (checkpointer) checkpointer.exclusive = (fn) => db.connection().execute(() => fn());
    return {
      db,
      dialect: 'sqlite',
      poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
      durable: () => wal?.durable() ?? Promise.resolve(),
      ...(wal ? { walSync: wal } : {}),
      ...(checkpointer ? { checkpointer } : {}),
      queries,
      close: async () => {
        await wal?.durable();
        // The checkpointer's connections close first: the main connection, closing last, checkpoints and removes the WAL.
        await checkpointer?.close();
        await db.destroy();
        wal?.release();
      },
    };
  }
  // Loaded only for PostgreSQL: SQLite deployments do not pay for the driver (up to 15 MB resident).
  const { default: pg } = await import('pg');
  // bigint columns (sizes, times) fit in a JS number: parse them as numbers.
  pg.types.setTypeParser(20, (v: string) => Number(v));
  const pool = new pg.Pool({ connectionString: settings.uri, max: settings.maxConnections });
  // An idle client's error (server restart) must not crash the process.
  pool.on('error', () => {});
  if (settings.namedStatements !== false) nameStatements(pool);
  const queries = new QueryCounter();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [queries] });
  await migrate(db as Kysely<unknown>, 'postgres');
  return {
    db,
    dialect: 'postgres',
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    durable: () => Promise.resolve(),
    queries,
    close: () => db.destroy(),
  };
}

/** Distinct statement texts given a name (each connection prepares a name on its first use); later ones run unnamed. */
const MAX_NAMED_STATEMENTS = 1000;

/**
 * PostgreSQL parses and plans an unnamed statement on every run. Statements with values (what Kysely sends for every
 * built query: a single statement, never a script) run as named prepared statements instead: pg's client prepares a
 * name once per connection and afterwards sends only Bind/Execute, in the same round trip as before, and the server
 * skips parse and plan. One name per distinct SQL text, bounded. A statement whose plan a schema change made invalid
 * ("cached plan must not change result type", a migration applied by another replica) fails once; its text then gets
 * a fresh name, prepared anew on the next run. DB_CONNECTION_ARGS.prepared_statements: false turns this off (a pooler
 * in transaction mode cannot keep a connection's named statements).
 */
function nameStatements(pool: Pool): void {
  const names = new Map<string, string>();
  let next = 0;
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (text: unknown, values?: unknown, cb?: unknown) => {
      if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0) return query(text, values, cb);
      let name = names.get(text);
      if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
        name = `berth_${next++}`;
        names.set(text, name);
      }
      if (name === undefined) return query(text, values, cb);
      const run = query({ name, text, values }, cb);
      if (run instanceof Promise)
        return run.catch((e: { code?: string }) => {
          if (e?.code === '0A000' && names.get(text) === name) names.set(text, `berth_${next++}`);
          throw e;
        });
      return run;
    };
  });
}

/**
 * Kysely's SQLite driver prepares every query anew; Berth issues a few dozen distinct SQL strings,
 * so keep their prepared statements (the largest item in GET/HEAD profiles, see docs/PERFORMANCE.md).
 * Safe because Kysely serialises use of the one connection and Berth never streams SQLite results
 * (a statement in the middle of iterate() could not be reused). Bounded: cleared at 1000 entries.
 *
 * With `onCommit`, statements that can commit (writes, COMMIT/END/RELEASE) call it when they did: after one runs
 * outside a transaction, a commit happened (or nothing changed, which costs at most one spare sync).
 */
function cachePreparedStatements(sqlite: SQLite.Database, onCommit?: () => void): void {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (!stmt) {
      if (cache.size >= 1000) cache.clear();
      stmt = prepare(source);
      if (onCommit && (!stmt.readonly || COMMITS.test(source))) noteCommits(stmt, sqlite, onCommit);
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof sqlite.prepare;
}

/** Transaction-control statements that end a transaction (SQLite reports them read-only). */
const COMMITS = /^\s*(commit|end|release)\b/i;

function noteCommits(stmt: SQLite.Statement, sqlite: SQLite.Database, onCommit: () => void): void {
  for (const method of ['run', 'all', 'get'] as const) {
    const original = stmt[method].bind(stmt) as (...a: unknown[]) => unknown;
    (stmt as unknown as Record<string, (...a: unknown[]) => unknown>)[method] = (...args: unknown[]) => {
      const result = original(...args);
      if (!sqlite.inTransaction) onCommit();
      return result;
    };
  }
}
