// Queries compiled once (src/db/prepared.ts): a prepared query runs with each call's values, inside a transaction
// too (and is rolled back with it), counts once per run in the statement counter, and a build that does not use
// every argument as a value is refused when first compiled. On SQLite and PostgreSQL.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type DB, type OpenedDatabase } from '../src/db/database.ts';
import { prepared, preparedList } from '../src/db/prepared.ts';
import { sql } from 'kysely';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';

const insertUpload = prepared(3, (db: DB, id: string, repository: string, now: number) =>
  db.insertInto('upload').values({ id, repository, size: 0, created_at: now, updated_at: now }),
);
const uploadById = prepared(1, (db: DB, id: string) =>
  db.selectFrom('upload').select(['id', 'repository', 'created_at']).where('id', '=', id),
);
const setSize = prepared(2, (db: DB, id: string, size: number) => db.updateTable('upload').set({ size }).where('id', '=', id));
const uploadsIn = preparedList(1, (db: DB, [repository]: [string], ids: readonly string[]) =>
  db.selectFrom('upload').select('id').where('repository', '=', repository).where('id', 'in', ids).orderBy('id'),
);

for (const dialect of await testDialects()) {
  describe(`prepared queries (${dialect})`, () => {
    let opened: OpenedDatabase;
    let cleanup: () => Promise<void>;

    before(async () => {
      if (dialect === 'sqlite') {
        const dir = mkdtempSync(path.join(tmpdir(), 'berth-prepared-'));
        opened = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'berth.db') });
        cleanup = async () => rmSync(dir, { recursive: true, force: true });
      } else {
        const pg = await createPostgresDatabase();
        opened = await openDatabase({ kind: 'postgres', uri: pg.uri, maxConnections: 2 });
        cleanup = () => pg.drop();
      }
    });
    after(async () => {
      await opened?.close();
      await cleanup?.();
    });

    test('each call runs with its own values; an update reports the rows it changed', async () => {
      const { db } = opened;
      await insertUpload(db, 'u-1', 'acme/one', 1000);
      await insertUpload(db, 'u-2', 'acme/two', 2000);
      assert.deepEqual((await uploadById(db, 'u-1')).rows, [{ id: 'u-1', repository: 'acme/one', created_at: 1000 }]);
      assert.deepEqual((await uploadById(db, 'u-2')).rows, [{ id: 'u-2', repository: 'acme/two', created_at: 2000 }]);
      assert.deepEqual((await uploadById(db, 'nope')).rows, []);
      assert.equal(Number((await setSize(db, 'u-2', 77)).numAffectedRows), 1);
      assert.equal(Number((await setSize(db, 'nope', 77)).numAffectedRows), 0);
      const row = await db.selectFrom('upload').select('size').where('id', '=', 'u-2').executeTakeFirstOrThrow();
      assert.equal(Number(row.size), 77);
    });

    test('inside a transaction it runs on that transaction: rolled back with it', async () => {
      const { db } = opened;
      await assert.rejects(
        db.transaction().execute(async (tx) => {
          await insertUpload(tx, 'u-tx', 'acme/tx', 3000);
          assert.equal((await uploadById(tx, 'u-tx')).rows.length, 1, 'the transaction sees its own insert');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.deepEqual((await uploadById(db, 'u-tx')).rows, [], 'nothing of the rolled-back transaction is left');
    });

    test('the statement counter counts each run once', async () => {
      const { db, queries } = opened;
      await uploadById(db, 'u-1'); // compiled by now in any case
      const before = queries.count;
      for (let i = 0; i < 5; i++) await uploadById(db, 'u-1');
      assert.equal(queries.count - before, 5);
    });

    test('a list query runs with each list, of any length, compiled once per length', async () => {
      const { db, queries } = opened;
      await insertUpload(db, 'l-1', 'acme/list', 1);
      await insertUpload(db, 'l-2', 'acme/list', 2);
      await insertUpload(db, 'l-3', 'acme/other', 3);
      const ids = async (list: string[]) => (await uploadsIn(db, ['acme/list'], list)).rows.map((r) => r.id);
      assert.deepEqual(await ids(['l-1']), ['l-1']);
      assert.deepEqual(await ids(['l-2']), ['l-2'], 'the same length, other values');
      assert.deepEqual(await ids(['l-1', 'l-2', 'l-3']), ['l-1', 'l-2'], 'the fixed argument still filters');
      assert.deepEqual(await ids(['nope', 'l-2']), ['l-2']);
      const many = Array.from({ length: 40 }, (_, i) => `x-${i}`).concat('l-1');
      assert.deepEqual(await ids(many), ['l-1'], 'a list longer than the prepared bound is built as usual');
      const before = queries.count;
      await ids(['l-1', 'l-2']);
      await ids(many);
      assert.equal(queries.count - before, 2, 'each run counts once, prepared or built');
    });

    test('a build that uses an argument outside the values is refused at its first run', async () => {
      const bad = prepared(2, (db: DB, id: string, _unused: string) => db.selectFrom('upload').select('id').where('id', '=', id));
      await assert.rejects(bad(opened.db, 'u-1', 'x'), /2 arguments, but the compiled query uses 1/);
    });
  });
}

const pgSkip = (await testDialects()).includes('postgres') ? false : 'PostgreSQL is not reachable at the test cluster';

describe('PostgreSQL named statements (DB_CONNECTION_ARGS.prepared_statements)', () => {
  let pg: Awaited<ReturnType<typeof createPostgresDatabase>>;
  const opened: OpenedDatabase[] = [];
  before(async () => {
    if (!pgSkip) pg = await createPostgresDatabase();
  });
  after(async () => {
    for (const o of opened) await o.close();
    await pg?.drop();
  });
  const open = async (namedStatements?: boolean) => {
    const o = await openDatabase({ kind: 'postgres', uri: pg.uri, maxConnections: 1, namedStatements });
    opened.push(o);
    return o;
  };
  /** The statements prepared on the pool's one connection that name the upload table. */
  const preparedOnConnection = async (db: DB) =>
    (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows.filter((r) =>
      r.statement.includes('"upload"'),
    ).length;

  test('on by default: a statement with values is prepared once on its connection and runs again by name', { skip: pgSkip }, async () => {
    const { db } = await open();
    await insertUpload(db, 'n-1', 'acme/named', 1);
    assert.deepEqual((await uploadById(db, 'n-1')).rows, [{ id: 'n-1', repository: 'acme/named', created_at: 1 }]);
    const n = await preparedOnConnection(db);
    assert.ok(n >= 2, `the insert and the select are prepared (${n})`);
    assert.deepEqual((await uploadById(db, 'n-2')).rows, [], 'other values, the same name');
    assert.equal(await preparedOnConnection(db), n, 'nothing prepared again');
  });

  test('off: every statement runs unnamed', { skip: pgSkip }, async () => {
    const { db } = await open(false);
    await uploadById(db, 'n-1');
    assert.equal(await preparedOnConnection(db), 0);
  });

  test('a schema change under a prepared statement fails it once; the next run prepares it anew', { skip: pgSkip }, async () => {
    const { db } = await open();
    const all = () => db.selectFrom('upload').selectAll().where('id', '=', 'n-1').execute();
    assert.equal((await all()).length, 1);
    await sql`alter table upload add column probe integer`.execute(db);
    try {
      await assert.rejects(all(), (e: { code?: string }) => e.code === '0A000', 'cached plan must not change result type');
      const rows = await all();
      assert.equal(rows.length, 1);
      assert.ok('probe' in rows[0], 'the new column is there');
    } finally {
      await sql`alter table upload drop column probe`.execute(db);
    }
  });
});
