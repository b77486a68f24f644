// Opens the metadata database: embedded SQLite by default, PostgreSQL for production.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import SQLite from 'better-sqlite3';
import type { Database } from './types.js';
import { migrate } from './migrations.js';
import { QueryCounter } from './query-counter.js';

export type Dialect = 'sqlite' | 'postgres';
export type DB = Kysely<Database>;

export interface OpenedDatabase {
  db: DB;
  dialect: Dialect;
  /** Pool statistics for metrics (PostgreSQL only; SQLite has one connection). */
  poolStats(): { total: number; idle: number; waiting: number };
  /** How many statements this handle has run (tests and benchmarks: queries per request). */
  queries: QueryCounter;
  close(): Promise<void>;
}

export type DatabaseSettings = { kind: 'sqlite'; file: string } | { kind: 'postgres'; uri: string; maxConnections: number };

export async function openDatabase(settings: DatabaseSettings): Promise<OpenedDatabase> {
  if (settings.kind === 'sqlite') {
    if (settings.file !== ':memory:') mkdirSync(path.dirname(settings.file), { recursive: true });
    const sqlite = new SQLite(settings.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    cachePreparedStatements(sqlite);
    const queries = new QueryCounter();
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), plugins: [queries] });
    await migrate(db as Kysely<unknown>, 'sqlite');
    return { db, dialect: 'sqlite', poolStats: () => ({ total: 1, idle: 1, waiting: 0 }), queries, close: () => db.destroy() };
  }
  // Loaded only for PostgreSQL: SQLite deployments do not pay for the driver (up to 15 MB resident).
  const { default: pg } = await import('pg');
  // bigint columns (sizes, times) fit in a JS number: parse them as numbers.
  pg.types.setTypeParser(20, (v: string) => Number(v));
  const pool = new pg.Pool({ connectionString: settings.uri, max: settings.maxConnections });
  // An idle client's error (server restart) must not crash the process.
  pool.on('error', () => {});
  const queries = new QueryCounter();
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [queries] });
  await migrate(db as Kysely<unknown>, 'postgres');
  return {
    db,
    dialect: 'postgres',
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    queries,
    close: () => db.destroy(),
  };
}

/**
 * Kysely's SQLite driver prepares every query anew; Berth issues a few dozen distinct SQL strings,
 * so keep their prepared statements (the largest item in GET/HEAD profiles, see docs/PERFORMANCE.md).
 * Safe because Kysely serialises use of the one connection and Berth never streams SQLite results
 * (a statement in the middle of iterate() could not be reused). Bounded: cleared at 1000 entries.
 */
function cachePreparedStatements(sqlite: SQLite.Database): void {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (!stmt) {
      if (cache.size >= 1000) cache.clear();
      stmt = prepare(source);
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof sqlite.prepare;
}
