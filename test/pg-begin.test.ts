// PostgreSQL: a transaction's BEGIN travels with its first statement (src/db/pg-begin.ts, src/db/pg-statements.ts):
// one exchange with the server less per transaction, and the transaction is what it was: its first statement runs
// inside it (invisible to others until the commit, undone by a rollback), an error in that statement (at execution
// or already at parse) leaves the connection usable, an empty transaction sends nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase, type DB, type OpenedDatabase } from '../src/db/database.ts';
import { prepared } from '../src/db/prepared.ts';
import { createPostgresDatabase, postgresAvailable } from './helpers/databases.ts';

// The skip is on each test: Node 20 does not count a skipped describe.
const pgSkip = !(await postgresAvailable()) && 'PostgreSQL is not reachable';

const insertUpload = prepared(2, (db: DB, id: string, now: number) =>
  db.insertInto('upload').values({ id, repository: 'acme/begin', size: 0, created_at: now, updated_at: now }),
);
const uploadById = prepared(1, (db: DB, id: string) => db.selectFrom('upload').select('id').where('id', '=', id));

describe('PostgreSQL: BEGIN with the first statement', () => {
  let pgdb: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let opened: OpenedDatabase;
  let other: pg.Client;
  // Every exchange a pg client starts (one Sync each: what a round trip to the server is), counted below pg's
  // own query function, which Berth's wrapper calls.
  let exchanges = 0;
  const query = pg.Client.prototype.query;
  before(async () => {
    if (pgSkip) return;
    pg.Client.prototype.query = function (this: pg.Client, ...a: unknown[]) {
      exchanges++;
      return (query as (...x: unknown[]) => unknown).apply(this, a);
    } as typeof query;
    pgdb = await createPostgresDatabase();
    opened = await openDatabase({ kind: 'postgres', uri: pgdb.uri, maxConnections: 1 });
    other = new pg.Client({ connectionString: pgdb.uri });
    await other.connect();
  });
  after(async () => {
    pg.Client.prototype.query = query;
    await other?.end();
    await opened?.close();
    await pgdb?.drop();
  });
  const seenByOthers = async (id: string) => (await other.query('select 1 from upload where id = $1', [id])).rowCount === 1;

  test('a transaction of two statements is three exchanges: BEGIN goes with the first', { skip: pgSkip }, async () => {
    const { db } = opened;
    await db.transaction().execute(async (tx) => {
      await insertUpload(tx, 'warm', 1); // the connection and its prepared statements exist from here
    });
    const before = exchanges;
    await db.transaction().execute(async (tx) => {
      await insertUpload(tx, 'b-1', 1);
      await uploadById(tx, 'b-1');
    });
    assert.equal(exchanges - before, 3, 'first statement with BEGIN, second statement, COMMIT');
    assert.ok(await seenByOthers('b-1'));
  });

  test('the first statement runs inside the transaction: unseen by others until the commit', { skip: pgSkip }, async () => {
    const { db } = opened;
    await db.transaction().execute(async (tx) => {
      await insertUpload(tx, 'b-2', 2);
      assert.equal((await uploadById(tx, 'b-2')).rows.length, 1, 'the transaction sees its insert');
      assert.equal(await seenByOthers('b-2'), false, 'another connection does not, before the commit');
    });
    assert.equal(await seenByOthers('b-2'), true);
  });

  test('a rollback undoes the first statement', { skip: pgSkip }, async () => {
    const { db } = opened;
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await insertUpload(tx, 'b-3', 3);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await seenByOthers('b-3'), false);
    assert.deepEqual((await uploadById(db, 'b-3')).rows, []);
  });

  test('a first statement that fails (executing, or already parsing) leaves the connection usable', { skip: pgSkip }, async () => {
    const { db } = opened;
    await insertUpload(db, 'dup', 4);
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await insertUpload(tx, 'dup', 4); // unique violation, after BEGIN ran
      }),
      (e: { code?: string }) => e.code === '23505',
    );
    await assert.rejects(
      db.transaction().execute(async (tx) => {
        await sql`select no_such_column from upload where id = ${'x'}`.execute(tx); // fails at parse, before BEGIN
      }),
      (e: { code?: string }) => e.code === '42703',
    );
    // The same connection (the pool has one) runs the next transaction, BEGIN with its first statement again.
    await db.transaction().execute(async (tx) => {
      await insertUpload(tx, 'b-4', 4);
      assert.equal(await seenByOthers('b-4'), false);
    });
    assert.equal(await seenByOthers('b-4'), true);
    const begins = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where name = 'berth_begin'`.execute(db);
    assert.equal(begins.rows[0].n, 1, 'BEGIN is prepared once on the connection');
  });

  test('an empty transaction sends nothing; a first statement without values gets a plain BEGIN', { skip: pgSkip }, async () => {
    const { db } = opened;
    const before = exchanges;
    await db.transaction().execute(async () => undefined);
    assert.equal(exchanges - before, 0);
    await db.transaction().execute(async (tx) => {
      await sql`insert into upload (id, repository, size, created_at, updated_at) values ('b-5', 'acme/begin', 0, 5, 5)`.execute(tx);
      assert.equal(await seenByOthers('b-5'), false, 'inside the transaction');
    });
    assert.equal(await seenByOthers('b-5'), true);
  });
});
