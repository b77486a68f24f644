// Flat at scale: the request-path queries use indexes, on both dialects. A registry filled by
// bench/scale-gen.mjs (small here: 20 organizations, 2,000 repositories, 20,000 tags) is queried through the
// real services (catalog pages, tag list pages, manifest by tag, blob lookup, a team member's permission and
// readable repositories, an organization's repository list) over a connection that records every SQL
// statement; each one is then EXPLAINed. No plan may read a big table in full: no `SCAN <table>` without an
// index and no temporary B-tree for ORDER BY (SQLite), no `Seq Scan` and no `Sort` but of a set of ids
// (PostgreSQL, with sequential scans, bitmap scans and sorts priced out so the plan shows whether an index
// can serve the query at all).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, SqliteDialect, PostgresDialect, type CompiledQuery, type LogEvent } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { testDialects, createPostgresDatabase } from './helpers/databases.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Database } from '../src/db/types.ts';
import type { ServiceContext } from '../src/services/context.ts';
import { ListingService } from '../src/services/listing.ts';
import { ManifestService } from '../src/services/manifests.ts';
import { BlobService } from '../src/services/blobs.ts';
import { buildAccountServices } from '../src/services/accounts/index.ts';
import type { Principal } from '../src/services/principal.ts';
// @ts-expect-error: a plain-JavaScript bench module
import { generate, repoName, tagName } from '../bench/scale-gen.mjs';

/** Tables that grow with the registry: no full read of these on the request path. */
const BIG = [
  'repository',
  'tag',
  'manifest',
  'manifest_ref',
  'blob',
  'repository_blob',
  'tag_history',
  'account',
  'team',
  'team_member',
  'repository_team_permission',
  'repository_user_permission',
];
const SIZE = { orgs: 20, repos: 2000, tags: 20_000, blobs: 40_000 };

for (const dialect of await testDialects()) {
  describe(`request-path query plans use indexes (${dialect})`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-scale-plans-'));
    let pgDb: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
    let db: Kysely<Database>;
    let raw: { explain(q: CompiledQuery): Promise<string[]>; close(): Promise<void> };
    let ctx: ServiceContext;
    const seen: CompiledQuery[] = [];
    const log = (e: LogEvent) => {
      if (e.level === 'query') seen.push(e.query);
    };
    const user: Principal = { kind: 'user', id: 0, name: 'reader', superuser: false, ownerId: null };
    const admin: Principal = { kind: 'user', id: 0, name: 'root', superuser: true, ownerId: null };

    before(async () => {
      const file = path.join(dir, 'berth.db');
      if (dialect === 'postgres') {
        pgDb = await createPostgresDatabase();
        await generate({ kind: 'postgres', uri: pgDb.uri }, SIZE, { log: false });
        const pool = new pg.Pool({ connectionString: pgDb.uri, max: 1 });
        db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
        const c = new pg.Client({ connectionString: pgDb.uri });
        await c.connect();
        // Price out what a small table makes cheap (reading it all, bitmap heap scans, sorting it), so the plan
        // shows whether an index can serve the query at scale at all.
        for (const k of ['enable_seqscan', 'enable_bitmapscan', 'enable_sort']) await c.query(`set ${k} = off`);
        raw = {
          async explain(q) {
            // Parameters inlined as literals the way the driver sends them (text), so the planner sees values.
            const r = await c.query(`explain ${q.sql}`, q.parameters as unknown[]);
            return r.rows.map((x: Record<string, string>) => x['QUERY PLAN']);
          },
          close: () => c.end(),
        };
      } else {
        await generate({ kind: 'sqlite', file }, SIZE, { log: false });
        db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(file) }), log });
        const s = new SQLite(file, { readonly: true });
        raw = {
          async explain(q) {
            return s
              .prepare(`explain query plan ${q.sql}`)
              .all(...(q.parameters as unknown[]).map((p) => (typeof p === 'boolean' ? Number(p) : p)))
              .map((r) => (r as { detail: string }).detail);
          },
          close: async () => void s.close(),
        };
      }
      const config = loadConfig({ data: dir, env: { ...(pgDb ? { DB_URI: pgDb.uri } : {}) } });
      ctx = { config, db, dialect, store: {} as never, now: () => Date.now() };
      // A user in a team of org0005 that may read one repository of it; a superuser.
      const now = Date.now();
      const u = await db
        .insertInto('account')
        .values({ name: 'reader', kind: 'user', created_at: now } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const a = await db
        .insertInto('account')
        .values({ name: 'root', kind: 'user', superuser: 1, created_at: now } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const org = await db.selectFrom('account').select('id').where('name', '=', 'org0005').executeTakeFirstOrThrow();
      const team = await db
        .insertInto('team')
        .values({ org_id: org.id, name: 'readers', role: 'member', created_at: now } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.insertInto('team_member').values({ team_id: team.id, account_id: u.id }).execute();
      const repo = await db.selectFrom('repository').select('id').where('name', '=', repoName(6, SIZE.orgs)).executeTakeFirstOrThrow();
      await db.insertInto('repository_team_permission').values({ repository_id: repo.id, team_id: team.id, role: 'read' }).execute();
      Object.assign(user, { id: Number(u.id) });
      Object.assign(admin, { id: Number(a.id) });
      seen.length = 0;
    });
    after(async () => {
      await raw?.close();
      await db?.destroy();
      await pgDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Runs `fn` through the services, then EXPLAINs every statement it issued; returns the plans. */
    async function plansOf(fn: () => Promise<unknown>): Promise<{ sql: string; plan: string[] }[]> {
      seen.length = 0;
      await fn();
      assert.ok(seen.length > 0, 'the call ran queries');
      const out = [];
      for (const q of seen.splice(0)) out.push({ sql: q.sql, plan: await raw.explain(q) });
      return out;
    }

    function assertIndexed(plans: { sql: string; plan: string[] }[]): void {
      for (const { sql, plan } of plans) {
        const text = plan.join('\n');
        const where = `\n${sql}\n${text}`;
        for (const t of BIG) {
          if (dialect === 'sqlite') {
            // "SCAN t" alone is a full table scan; "SCAN t USING INDEX" walks an index in order (what a LIMIT stops).
            assert.doesNotMatch(text, new RegExp(`^SCAN ${t}(?: AS \\w+)?$`, 'm'), `full scan of ${t}:${where}`);
          } else {
            assert.doesNotMatch(text, new RegExp(`Seq Scan on ${t}\\b`), `full scan of ${t}:${where}`);
          }
        }
        if (dialect === 'sqlite') assert.doesNotMatch(text, /USE TEMP B-TREE FOR ORDER BY/, `sorts every row:${where}`);
        // A sort of a bounded set of ids (the repositories a caller may see, looked up by primary key) is fine.
        else if (/^\s*(->\s*)?Sort\b/m.test(text))
          assert.match(text, /Index Cond: \(id = ANY /, `sorts rows that no index condition bounds:${where}`);
      }
    }

    test('catalog: first and deep page', async () => {
      const listing = new ListingService(ctx);
      assertIndexed(await plansOf(() => listing.catalog(100, undefined)));
      const deep = await plansOf(() => listing.catalog(100, repoName(1800, SIZE.orgs)));
      assertIndexed(deep);
    });

    test('tag list of the big repository: first and deep page', async () => {
      const listing = new ListingService(ctx);
      const big = repoName(1, SIZE.orgs);
      assertIndexed(await plansOf(() => listing.tags(big, 100, undefined)));
      assertIndexed(await plansOf(() => listing.tags(big, 100, tagName(1900))));
    });

    test('manifest by tag, blob lookup', async () => {
      const manifests = new ManifestService(ctx);
      const blobs = new BlobService(ctx);
      const big = repoName(1, SIZE.orgs);
      assertIndexed(await plansOf(() => manifests.get(big, tagName(5))));
      const m = await manifests.get(big, tagName(5));
      const layer = (JSON.parse(Buffer.from(m.content).toString('utf8')) as { layers: { digest: string }[] }).layers[0].digest;
      assertIndexed(await plansOf(() => blobs.find(big, layer)));
    });

    test("permission lookup: a team member's role on a repository, the repositories they may read", async () => {
      const accounts = buildAccountServices(ctx);
      const name = repoName(6, SIZE.orgs);
      const facts = await accounts.perms.findRepo(name);
      assert.ok(facts);
      const plans = await plansOf(async () => assert.equal(await accounts.perms.role(user, facts), 'read'));
      assertIndexed(plans);
      assertIndexed(
        await plansOf(async () => {
          const ids = await accounts.perms.readableRepositoryIds(user);
          assert.equal(ids?.length, 1);
        }),
      );
      // The catalog as that user sees it.
      const listing = new ListingService(ctx);
      assertIndexed(await plansOf(async () => assert.deepEqual((await listing.catalog(100, undefined, [Number(facts.id)])).items, [name])));
    });

    test("an organization's repository list (/api/v1/repository?namespace=): as a member and as a superuser", async () => {
      const accounts = buildAccountServices(ctx);
      assertIndexed(await plansOf(async () => assert.equal((await accounts.repos.list(user, 'org0005')).length, 1)));
      assertIndexed(await plansOf(async () => assert.equal((await accounts.repos.list(admin, 'org0005')).length, SIZE.repos / SIZE.orgs)));
    });
  });
}
