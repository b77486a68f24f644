// Queries compiled once (src/db/prepared.ts): a prepared query runs with each call's values, inside a transaction
// too (and is rolled back with it), counts once per run in the statement counter, and a build that does not use
// every argument as a value is refused when first compiled. On SQLite and PostgreSQL.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type DB, type OpenedDatabase } from '../src/db/database.ts';
import { prepared } from '../src/db/prepared.ts';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';

const insertUpload = prepared(3, (db: DB, id: string, repository: string, now: number) =>
  db.insertInto('upload').values({ id, repository, size: 0, created_at: now, updated_at: now }),
);
const uploadById = prepared(1, (db: DB, id: string) =>
  db.selectFrom('upload').select(['id', 'repository', 'created_at']).where('id', '=', id),
);
const setSize = prepared(2, (db: DB, id: string, size: number) => db.updateTable('upload').set({ size }).where('id', '=', id));

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

    test('a build that uses an argument outside the values is refused at its first run', async () => {
      const bad = prepared(2, (db: DB, id: string, _unused: string) => db.selectFrom('upload').select('id').where('id', '=', id));
      await assert.rejects(bad(opened.db, 'u-1', 'x'), /2 arguments, but the compiled query uses 1/);
    });
  });
}
