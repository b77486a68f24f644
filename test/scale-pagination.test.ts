// Keyset pagination of /v2/_catalog and /v2/<name>/tags/list on a registry of many repositories and tags
// (bench/scale-gen.mjs, plus names whose byte order differs from a locale's: '-', '.', '_', digits,
// upper case): following the Link headers from the first page visits every name exactly once, in byte
// order; a deep page (`last=` far down the list) starts right after `last`, its Link names its own last
// item, and the final page has no Link. Both dialects.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
// @ts-expect-error: a plain-JavaScript bench module
import { generate, repoName } from '../bench/scale-gen.mjs';

const SIZE = { orgs: 5, repos: 500, tags: 3000, blobs: 6000 };
/** Repository 1 holds a tenth of the tags (scale-gen's "big repository"). */
const BIG = repoName(1, SIZE.orgs);
const ODD_REPOS = ['org0000/a-b', 'org0000/a.b', 'org0000/a_b', 'org0000/ab', 'org0000/a0', 'org0000/a9z'];
const ODD_TAGS = ['A', 'a', 'B', '_x', 'Z-1', 'z.1', 'T0000001', '0'];
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface Page {
  status: number;
  items: string[];
  link: string | null;
}

for (const dialect of await testDialects()) {
  describe(`keyset pagination with Link headers on deep pages (${dialect})`, () => {
    let s: TestServer;
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-scale-pages-'));
    let allRepos: string[] = [];
    let allTags: string[] = [];

    /** Adds the odd names straight into the tables, as scale-gen does. */
    async function addOddNames(run: (sql: string, params: unknown[]) => Promise<unknown>) {
      let id = SIZE.repos + 1;
      for (const name of ODD_REPOS) {
        await run('insert into repository (id, name, created_at, namespace_id) values ($1, $2, 0, 1)', [id++, name]);
      }
      // Extra tags in the big repository (id 1), pointing at its manifest 1.
      for (const t of ODD_TAGS) await run('insert into tag (repository_id, name, manifest_id, updated_at) values (1, $1, 1, 0)', [t]);
    }

    before(async () => {
      if (dialect === 'sqlite') {
        const file = path.join(dir, 'berth.db');
        await generate({ kind: 'sqlite', file }, SIZE, { log: false });
        const db = new SQLite(file);
        await addOddNames(async (sql, params) => db.prepare(sql.replace(/\$\d+/g, '?')).run(...(params as never[])));
        db.close();
        s = await startServer('sqlite', { DB_URI: `sqlite:${file}` });
      } else {
        s = await startServer('postgres');
        await generate({ kind: 'postgres', uri: s.dbUri }, SIZE, { log: false });
        const c = new pg.Client({ connectionString: s.dbUri });
        await c.connect();
        await addOddNames((sql, params) => c.query(sql, params));
        await c.end();
      }
      allRepos = [...Array.from({ length: SIZE.repos }, (_, i) => repoName(i + 1, SIZE.orgs)), ...ODD_REPOS].sort(byteOrder);
      const bigTags = Array.from({ length: SIZE.tags / 10 }, (_, i) => `t${String(i + 1).padStart(7, '0')}`);
      allTags = [...bigTags, ...ODD_TAGS].sort(byteOrder);
    });
    after(async () => {
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function get(pathAndQuery: string, key: 'repositories' | 'tags'): Promise<Page> {
      const r = await fetch(`${s.url}${pathAndQuery}`);
      const body = (await r.json()) as Record<string, string[]>;
      return { status: r.status, items: body[key] ?? [], link: r.headers.get('link') };
    }

    /** Follows Link headers from `first` to the end; returns every name in the order served. */
    async function walk(first: string, key: 'repositories' | 'tags'): Promise<{ names: string[]; pages: number }> {
      const names: string[] = [];
      let next: string | null = first;
      let pages = 0;
      while (next) {
        const p = await get(next, key);
        assert.equal(p.status, 200, next);
        pages++;
        names.push(...p.items);
        if (p.link) {
          const m = /^<([^>]+)>; rel="next"$/.exec(p.link);
          assert.ok(m, `Link header: ${p.link}`);
          const u = new URL(m[1], s.url);
          assert.equal(u.searchParams.get('last'), p.items[p.items.length - 1], 'the Link continues after the last item');
          next = `${u.pathname}${u.search}`;
        } else next = null;
        assert.ok(pages < 1000, 'the walk ends');
      }
      return { names, pages };
    }

    test('the catalog, page by page (n=37): every repository once, in byte order', async () => {
      const { names, pages } = await walk('/v2/_catalog?n=37', 'repositories');
      assert.deepEqual(names, allRepos);
      assert.equal(pages, Math.ceil(allRepos.length / 37) + (allRepos.length % 37 === 0 ? 1 : 0));
    });

    test('a deep catalog page starts right after last, and the final page has no Link', async () => {
      const at = allRepos.length - 60;
      const p = await get(`/v2/_catalog?n=50&last=${encodeURIComponent(allRepos[at])}`, 'repositories');
      assert.deepEqual(p.items, allRepos.slice(at + 1, at + 51));
      assert.match(p.link ?? '', new RegExp(`last=${encodeURIComponent(allRepos[at + 50]).replace(/[.]/g, '\\.')}>`));
      const end = await get(`/v2/_catalog?n=50&last=${encodeURIComponent(allRepos[at + 50])}`, 'repositories');
      assert.deepEqual(end.items, allRepos.slice(at + 51));
      assert.equal(end.link, null);
      // `last` need not be a stored name: the page starts at the next one in byte order.
      const between = await get(`/v2/_catalog?n=3&last=${encodeURIComponent('org0000/a-')}`, 'repositories');
      assert.deepEqual(between.items, allRepos.filter((n) => byteOrder(n, 'org0000/a-') > 0).slice(0, 3));
    });

    test("the big repository's tags, page by page (n=41): every tag once, in byte order", async () => {
      const { names } = await walk(`/v2/${BIG}/tags/list?n=41`, 'tags');
      assert.deepEqual(names, allTags);
    });

    test('a deep tag page starts right after last; past the end is empty with no Link', async () => {
      const at = allTags.length - 30;
      const p = await get(`/v2/${BIG}/tags/list?n=20&last=${encodeURIComponent(allTags[at])}`, 'tags');
      assert.deepEqual(p.items, allTags.slice(at + 1, at + 21));
      assert.ok(p.link?.includes(`last=${encodeURIComponent(allTags[at + 20])}>`), String(p.link));
      const past = await get(`/v2/${BIG}/tags/list?n=20&last=${encodeURIComponent(allTags[allTags.length - 1])}`, 'tags');
      assert.deepEqual(past.items, []);
      assert.equal(past.link, null);
    });

    test('bad page sizes are refused with PAGINATION_NUMBER_INVALID', async () => {
      const r = await fetch(`${s.url}/v2/_catalog?n=-1`);
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { errors: { code: string }[] }).errors[0].code, 'PAGINATION_NUMBER_INVALID');
    });
  });
}
