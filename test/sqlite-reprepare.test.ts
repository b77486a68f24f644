// SQLite re-prepares a statement inside every run when a bound value stands where a partial index's WHERE has a
// constant (`is_current = ?` against `… where is_current = 1`): whether the index applies depends on the value, so
// each new binding expires the plan (SQLite's exprCompareVariable). Prepared once and kept (src/db/database.ts), such
// a statement is still parsed and planned anew on every push. This holds the statements a push runs to constants
// there (docs/PERFORMANCE.md, "Small push, sixth round").
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { startServer, type TestServer } from './helpers/server.ts';
import { pushImage, sha256 } from './helpers/registry-client.ts';

describe('push statements and partial indexes (sqlite)', () => {
  let s: TestServer;
  const seen = new Set<string>();
  const orig = SQLite.prototype.prepare;
  before(async () => {
    // Every statement text the server prepares (its cache prepares each text once, through the prototype's method).
    SQLite.prototype.prepare = function (this: SQLite.Database, source: string) {
      seen.add(source);
      return orig.call(this, source);
    } as typeof orig;
    s = await startServer('sqlite');
  });
  after(async () => {
    SQLite.prototype.prepare = orig;
    await s.stop();
  });

  test('no statement of a push binds a value where a partial index compares its column with a constant', async () => {
    // A session push (POST, then PUT with the body) and an image pushed by tag, twice (a new tag, then a moved one).
    const post = await fetch(`${s.url}/v2/rp/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 202);
    const blob = Buffer.from('a layer by session');
    const loc = new URL(post.headers.get('location')!, s.url);
    loc.searchParams.set('digest', sha256(blob));
    const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());
    await pushImage(s.url, 'rp/app', 'latest', 'one');
    await pushImage(s.url, 'rp/app', 'latest', 'two');

    const indexes = (
      await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'index' and sql like '% where %'`.execute(
        s.berth.ctx.db,
      )
    ).rows;
    const columns = new Set<string>();
    for (const ix of indexes) {
      const where = ix.sql.slice(ix.sql.toLowerCase().lastIndexOf(' where ') + 7);
      for (const m of where.matchAll(/"?(\w+)"?\s*(?:=|<>|!=|<=|>=|<|>)\s*(?:'[^']*'|-?\d+)/g)) columns.add(m[1]);
    }
    assert.ok(columns.has('is_current'), `the partial indexes were read: ${[...columns].join(', ')}`);
    assert.ok(seen.size > 10, 'the push statements were seen');
    // Conditions only (from the first WHERE on): an UPDATE's `set "is_current" = ?` is an assignment, not a plan's.
    const conditions = (q: string) => q.slice(Math.max(0, q.toLowerCase().indexOf(' where ')));
    const offending = [...seen].filter((q) =>
      [...columns].some((c) => new RegExp(`"${c}"\\s*(?:=|<>|!=|<=|>=|<|>)\\s*\\?`).test(conditions(q))),
    );
    assert.deepEqual(offending, []);
  });
});
