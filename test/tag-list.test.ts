// GET /v2/<name>/tags/list with the data-model cache (which keeps a repository's whole list once a client walks
// past the first page or asks for all of it, services/tag-list.ts) and without it (DATA_MODEL_CACHE_CONFIG engine
// none: every page from the database): the same answers, byte for byte, for walks at any page size, for odd and
// bad input (n=0, huge n, n that is not a number, last= past the end, empty, non-ASCII or a NUL, path tricks),
// after tag writes (a new tag, a deleted tag, a deleted manifest) and when an expiring tag's time comes (no write
// tells the cache). Both dialects.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { imageManifest, pushBlob, pushImage, putManifest } from './helpers/registry-client.ts';

const REPO = 'lists/app';
const TAGS = ['b', 'a', 'C', 'c', 'a1', 'Z', '_x', '0', 'z.1', 'Z-1', 'T0000001'];
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface Answer {
  status: number;
  body: string;
  link: string | null;
  type: string | null;
}

async function get(s: TestServer, path: string): Promise<Answer> {
  const r = await fetch(`${s.url}${path}`);
  return { status: r.status, body: await r.text(), link: r.headers.get('link'), type: r.headers.get('content-type') };
}

/** Follows the Link headers from `first`; every page's names. */
async function walk(s: TestServer, first: string): Promise<string[][]> {
  const pages: string[][] = [];
  let next: string | null = first;
  while (next) {
    const a = await get(s, next);
    assert.equal(a.status, 200, `${next}: ${a.body}`);
    pages.push((JSON.parse(a.body) as { tags: string[] }).tags);
    next = a.link?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
    assert.ok(pages.length < 100, 'the walk ends');
  }
  return pages;
}

for (const dialect of await testDialects()) {
  describe(`tag list pages with and without the cache (${dialect})`, () => {
    let cached: TestServer;
    let plain: TestServer;
    const both = () => [cached, plain];
    let manifest: Buffer;

    before(async () => {
      cached = await startServer(dialect);
      plain = await startServer(dialect, {}, { config: { DATA_MODEL_CACHE_CONFIG: { engine: 'none' } } });
      for (const s of both()) {
        manifest = (await pushImage(s.url, REPO, TAGS[0])).manifest;
        for (const t of TAGS.slice(1)) assert.equal((await putManifest(s.url, REPO, t, manifest)).status, 201);
      }
    });
    after(async () => {
      await cached?.stop();
      await plain?.stop();
    });

    test('walks at every page size visit each tag once in byte order; cached walks equal uncached ones', async () => {
      const all = [...TAGS].sort(byteOrder);
      for (const first of [`/v2/${REPO}/tags/list`, ...[1, 2, 3, 7, 11, 12, 1000].map((n) => `/v2/${REPO}/tags/list?n=${n}`)]) {
        const expected = await walk(plain, first);
        assert.deepEqual(expected.flat(), all, first);
        // Twice on the cached server: the first walk fills the cache, the second is answered from it.
        assert.deepEqual(await walk(cached, first), expected, first);
        assert.deepEqual(await walk(cached, first), expected, `${first} (again)`);
      }
    });

    test('odd and bad input: the same status, body and Link with and without the cache, cold and warm', async () => {
      const paths = [
        '?n=0',
        '?n=1',
        '?n=99999999999999999999', // capped at LIST_PAGE_MAX
        '?n=2&last=zzz', // past the end: empty, no Link
        '?last=zzz',
        '?n=2&last=', // empty last: the first page
        '?n=2&last=a',
        '?last=a',
        '?n=3&last=Z-0', // between two tags
        '?n=2&last=%C3%A9', // non-ASCII: after every ASCII name
        '?n=2&last=%00', // a NUL sorts first
        '?n=2&last=%F0%9F%98%80', // outside the BMP
        '?n=2&last=a&last=b', // repeated
        '?n=abc',
        '?n=-1',
        '?n=1.5',
        '?n=%20',
        '?n=0x10',
        '?n=',
      ];
      for (const q of paths) {
        const want = await get(plain, `/v2/${REPO}/tags/list${q}`);
        if (want.status === 200) assert.match(want.type ?? '', /^application\/json/, q);
        // First after a write (cold), then warm: both equal the uncached answer.
        assert.equal((await putManifest(cached.url, REPO, 'a', manifest)).status, 201);
        assert.deepEqual(await get(cached, `/v2/${REPO}/tags/list${q}`), want, `${q} (cold)`);
        await get(cached, `/v2/${REPO}/tags/list`); // fills the list
        assert.deepEqual(await get(cached, `/v2/${REPO}/tags/list${q}`), want, `${q} (warm)`);
      }
      const bad = (a: Answer) => (JSON.parse(a.body) as { errors: { code: string }[] }).errors[0].code;
      for (const s of both()) {
        assert.equal(bad(await get(s, `/v2/${REPO}/tags/list?n=-1`)), 'PAGINATION_NUMBER_INVALID');
        assert.deepEqual(JSON.parse((await get(s, `/v2/${REPO}/tags/list?n=0`)).body), { name: REPO, tags: [] });
        assert.equal((await get(s, `/v2/${REPO}/tags/list?n=0`)).link, null);
        const end = await get(s, `/v2/${REPO}/tags/list?n=2&last=zzz`);
        assert.deepEqual([JSON.parse(end.body).tags, end.link], [[], null]);
        for (const p of ['/v2/lists/none/tags/list', '/v2/lists/none/tags/list?n=1&last=a']) {
          const a = await get(s, p);
          assert.deepEqual([a.status, bad(a)], [404, 'NAME_UNKNOWN'], p);
        }
        for (const p of ['/v2/Lists/App/tags/list', '/v2/lists/app%2F..%2Fother/tags/list', '/v2/lists//app/tags/list']) {
          const a = await get(s, p);
          assert.deepEqual([a.status, bad(a)], [400, 'NAME_INVALID'], p);
        }
        // A dot segment is resolved by the URL before it reaches the registry: lists/app/../app is lists/app.
        assert.equal((await get(s, `/v2/lists/x/../app/tags/list?n=1`)).status, 200);
      }
    });

    test('a tag written or deleted shows in the next walk, with a cached list', async () => {
      const names = async (s: TestServer) => (await walk(s, `/v2/${REPO}/tags/list?n=4`)).flat();
      const before = await names(cached);
      assert.deepEqual(await names(cached), before); // from the cache now
      for (const s of both()) assert.equal((await putManifest(s.url, REPO, 'new-tag', manifest)).status, 201);
      assert.deepEqual(await names(cached), await names(plain));
      assert.ok((await names(cached)).includes('new-tag'));
      for (const s of both()) assert.equal((await fetch(`${s.url}/v2/${REPO}/manifests/new-tag`, { method: 'DELETE' })).status, 202);
      assert.deepEqual(await names(cached), before);
      // A manifest deleted by digest takes its tags with it.
      for (const s of both()) {
        const other = await pushImage(s.url, REPO, 'other-1', 'other');
        assert.equal((await putManifest(s.url, REPO, 'other-2', other.manifest)).status, 201);
      }
      assert.ok((await names(cached)).includes('other-2'));
      for (const s of both()) {
        const digest = (await fetch(`${s.url}/v2/${REPO}/manifests/other-1`, { method: 'HEAD' })).headers.get('docker-content-digest');
        assert.equal((await fetch(`${s.url}/v2/${REPO}/manifests/${digest}`, { method: 'DELETE' })).status, 202);
      }
      assert.deepEqual(await names(cached), before);
      assert.deepEqual(await names(plain), before);
    });

    test('an expiring tag leaves a cached list when its time comes, with no write', async () => {
      for (const s of both()) {
        const config = await pushBlob(
          s.url,
          REPO,
          JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'quay.expires-after': '2s' } } }),
        );
        const layer = await pushBlob(s.url, REPO, 'short-lived layer');
        assert.equal((await putManifest(s.url, REPO, 'short', imageManifest(config, [layer]))).status, 201);
      }
      const listed = async (s: TestServer) => (await walk(s, `/v2/${REPO}/tags/list?n=3`)).flat();
      const whole = async (s: TestServer) => (JSON.parse((await get(s, `/v2/${REPO}/tags/list`)).body) as { tags: string[] }).tags;
      for (const s of both()) {
        assert.ok((await listed(s)).includes('short'));
        assert.ok((await whole(s)).includes('short'));
      }
      await new Promise((r) => setTimeout(r, 2200));
      for (const s of both()) {
        assert.ok(!(await listed(s)).includes('short'), 'the expired tag is not listed');
        assert.ok(!(await whole(s)).includes('short'));
      }
      assert.deepEqual(await listed(cached), await listed(plain));
    });
  });
}
