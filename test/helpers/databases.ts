// The database dialects the suite runs against: SQLite always, PostgreSQL when reachable.
import pg from 'pg';

export const PG_ADMIN_URI = process.env.BERTH_TEST_PG ?? 'postgresql://postgres@127.0.0.1:5432/test';

let pgAvailable: Promise<boolean> | undefined;

export function postgresAvailable(): Promise<boolean> {
  if (process.env.BERTH_TEST_SKIP_PG === '1') return Promise.resolve(false);
  pgAvailable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URI, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgAvailable;
}

/** Creates an empty PostgreSQL database for one server; returns its URI and a drop function. */
export async function createPostgresDatabase(): Promise<{ uri: string; drop(): Promise<void> }> {
  const name = `berth_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URI });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URI);
  u.pathname = `/${name}`;
  return {
    uri: u.toString(),
    async drop() {
      const a = new pg.Client({ connectionString: PG_ADMIN_URI });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export type TestDialect = 'sqlite' | 'postgres';

/** The dialects to run a suite against, and a note for each one skipped. */
export async function testDialects(): Promise<TestDialect[]> {
  const list: TestDialect[] = ['sqlite'];
  if (await postgresAvailable()) list.push('postgres');
  return list;
}
