// Row counts for quay_{org,repository,user,robot}_rows and the bytes stored, computed cheaply:
// callers cache them (see CachedValue), and on PostgreSQL a large table is counted from the
// planner's estimate (pg_class.reltuples) instead of a full scan.
import { sql } from 'kysely';
import type { DB, Dialect } from '../db/database.js';

export interface RowCounts {
  orgs: number;
  repositories: number;
  users: number;
  robots: number;
}
export type RowCountProvider = () => Promise<RowCounts>;
export type AccountCounts = Pick<RowCounts, 'orgs' | 'users' | 'robots'>;

/** Above this estimated size, PostgreSQL's estimate stands in for count(*). */
export const EXACT_COUNT_LIMIT = 100_000;

export async function tableExists(db: DB, dialect: Dialect, table: string): Promise<boolean> {
  if (dialect === 'sqlite') {
    const r = await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${table}`.execute(db);
    return Number(r.rows[0]?.n ?? 0) > 0;
  }
  const r = await sql<{ e: boolean }>`select to_regclass(${table}::text) is not null as e`.execute(db);
  return r.rows[0]?.e === true;
}

/** Rows of a whole table: exact on SQLite and on small PostgreSQL tables, estimated on large ones. */
export async function tableRowCount(db: DB, dialect: Dialect, table: string): Promise<number> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`not a table name: ${table}`);
  if (dialect === 'postgres') {
    const est = await sql<{
      n: number | string | null;
    }>`select reltuples::bigint as n from pg_class where oid = to_regclass(${table}::text)`.execute(db);
    const n = Number(est.rows[0]?.n ?? -1);
    if (n >= EXACT_COUNT_LIMIT) return n;
  }
  const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * Users (enabled), organizations and robots from the accounts table (`account`, kind user|org|robot,
 * as in Quay one table for all three); zeros while that table does not exist.
 */
export async function accountRowCounts(db: DB, dialect: Dialect): Promise<AccountCounts> {
  const counts: AccountCounts = { orgs: 0, users: 0, robots: 0 };
  if (!(await tableExists(db, dialect, 'account'))) return counts;
  const r = await sql<{ kind: string; n: number | string }>`
    select kind, count(*) as n from account where kind <> 'user' or enabled <> 0 group by kind`.execute(db);
  for (const row of r.rows) {
    if (row.kind === 'org') counts.orgs = Number(row.n);
    else if (row.kind === 'user') counts.users = Number(row.n);
    else if (row.kind === 'robot') counts.robots = Number(row.n);
  }
  return counts;
}

/**
 * The provider the composition root passes to Metrics: repositories from `repository`, accounts
 * from `account` once the accounts migration has created it. An `accounts` function replaces the
 * built-in account query (for example one that asks the accounts services).
 */
export function databaseRowCounts(db: DB, dialect: Dialect, accounts?: () => Promise<AccountCounts>): RowCountProvider {
  return async () => {
    const [repositories, a] = await Promise.all([
      tableRowCount(db, dialect, 'repository'),
      accounts ? accounts() : accountRowCounts(db, dialect),
    ]);
    return { repositories, ...a };
  };
}

/** Bytes of all stored blobs (each digest once). */
export async function storedBlobBytes(db: DB): Promise<number> {
  const r = await db
    .selectFrom('blob')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), sql<number>`0`).as('n'))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
