// Concurrent writes to one tag (docs/TAGS.md): 20 pushes of different manifests to the same tag at once, half of
// them labelled quay.expires-after (their lifetime has an end in the future, so "open" is not "end_ts is null"),
// leave exactly one current lifetime; every acknowledged push has its history row; the tag points at the
// manifest of the current lifetime, which is the last acknowledged write. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, SqliteDialect, sql } from 'kysely';
import SQLite from 'better-sqlite3';
import { tagHistoryOpenUniqueMigration } from '../src/db/migrations-tag-history-open.ts';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { imageManifest, pushBlob, putManifest } from './helpers/registry-client.ts';

const PUSHES = 20;

for (const dialect of await testDialects()) {
  describe(`concurrent writes to one tag (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect, {}, { logger: { level: 'error' } });
    });
    after(() => s.stop());

    test(`${PUSHES} concurrent pushes (half labelled quay.expires-after) to one tag leave one current lifetime`, async () => {
      const layer = await pushBlob(s.url, 'race/app', `layer-${'x'.repeat(64)}`);
      const manifests: Buffer[] = [];
      for (let i = 0; i < PUSHES; i++) {
        const labels = i % 2 === 0 ? { 'quay.expires-after': '2h' } : {};
        const config = await pushBlob(
          s.url,
          'race/app',
          JSON.stringify({
            architecture: 'amd64',
            os: 'linux',
            config: { Labels: labels },
            rootfs: { type: 'layers', diff_ids: [] },
            seed: i,
          }),
        );
        manifests.push(imageManifest(config, [layer]));
      }
      const acked: { digest: string; at: number }[] = [];
      await Promise.all(
        manifests.map(async (m) => {
          const r = await putManifest(s.url, 'race/app', 'latest', m);
          const body = await r.text();
          if (r.status === 201) acked.push({ digest: r.headers.get('docker-content-digest')!, at: acked.length });
          else assert.fail(`push answered ${r.status}: ${body}`);
        }),
      );
      assert.equal(acked.length, PUSHES);

      const db = s.berth.ctx.db;
      const now = Date.now();
      const rows = await db
        .selectFrom('tag_history')
        .innerJoin('repository', 'repository.id', 'tag_history.repository_id')
        .select(['tag_history.id', 'tag_history.manifest_digest', 'tag_history.end_ts'])
        .where('repository.name', '=', 'race/app')
        .where('tag_history.name', '=', 'latest')
        .orderBy('tag_history.id')
        .execute();
      const open = rows.filter((r) => r.end_ts === null || Number(r.end_ts) > now);
      assert.equal(open.length, 1, `open lifetimes: ${JSON.stringify(open)}`);
      assert.equal(open[0].id, rows[rows.length - 1].id, 'the open lifetime is the newest');
      const recorded = new Set(rows.map((r) => r.manifest_digest));
      for (const a of acked) assert.ok(recorded.has(a.digest), `acknowledged push ${a.digest} has a history row`);
      assert.equal(rows.length, PUSHES, 'one lifetime per push');

      const tag = await db
        .selectFrom('tag')
        .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
        .innerJoin('repository', 'repository.id', 'tag.repository_id')
        .select('manifest.digest')
        .where('repository.name', '=', 'race/app')
        .where('tag.name', '=', 'latest')
        .executeTakeFirstOrThrow();
      assert.equal(tag.digest, open[0].manifest_digest, 'the tag points at the manifest of the open lifetime');
      const served = await fetch(`${s.url}/v2/race/app/manifests/latest`, { method: 'HEAD' });
      assert.equal(served.headers.get('docker-content-digest'), tag.digest);
      // Every lifetime but the newest was ended by its successor's start (no gaps, no overlaps).
      const all = await sql<{ n: number }>`select count(*) as n from tag_history`.execute(db);
      assert.equal(Number(all.rows[0].n), PUSHES);
    });
  });
}

test('0023 closes open duplicates a database may already hold (keeping the newest) and then refuses a second current lifetime', async () => {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
  try {
    // 0007's table and its index (unique among lifetimes with no end).
    await sql`create table tag_history (id integer primary key autoincrement, repository_id bigint not null,
      name text not null, manifest_digest text not null, start_ts bigint not null, end_ts bigint)`.execute(db);
    await sql`create unique index tag_history_open on tag_history (repository_id, name) where end_ts is null`.execute(db);
    const future = Date.now() + 3600_000;
    const rows = [
      ['a', 'd1', 10, null], // open, older
      ['a', 'd2', 20, future], // open (labelled), newest: kept
      ['a', 'd0', 5, 8], // ended long ago: untouched
      ['b', 'd4', 10, future], // two labelled at the same start: the higher id is kept
      ['b', 'd5', 10, future],
      ['c', 'd6', 10, null], // the only one: kept
    ] as const;
    for (const [name, digest, start, end] of rows)
      await db
        .insertInto('tag_history')
        .values({ repository_id: 1, name, manifest_digest: digest, start_ts: start, end_ts: end })
        .execute();
    const before = Date.now();
    await tagHistoryOpenUniqueMigration().up(db);
    const after = await db.selectFrom('tag_history').selectAll().orderBy('id').execute();
    const by = (d: string) => after.find((r) => r.manifest_digest === d)!;
    assert.deepEqual(
      after.filter((r) => r.is_current === 1).map((r) => r.manifest_digest),
      ['d2', 'd5', 'd6'],
    );
    for (const d of ['d1', 'd4']) assert.ok(Number(by(d).end_ts) >= before && Number(by(d).end_ts) <= Date.now(), `${d} closed now`);
    assert.equal(Number(by('d0').end_ts), 8);
    assert.equal(Number(by('d2').end_ts), future);
    await assert.rejects(
      db
        .insertInto('tag_history')
        .values({ repository_id: 1, name: 'a', manifest_digest: 'dx', start_ts: 30, end_ts: future, is_current: 1 })
        .execute(),
      /UNIQUE constraint failed/,
    );
  } finally {
    await db.destroy();
  }
});
