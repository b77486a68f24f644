// The vulnerability-data side of the scanner: updaters (OSV, Alpine secdb, Debian security tracker,
// Red Hat CSAF VEX) fetching real-format documents from a local HTTP server (conditional requests,
// a counting HTTP proxy), the advisory store (atomic replace, diff counts, bounded size, malformed
// input leaves the previous data whole) and the matcher (Alpine, Debian, Ubuntu, RHEL, PyPI, npm,
// Go), on SQLite and PostgreSQL.
import { describe, before, after } from 'node:test';
// Every test here stands on the claircore fixtures in ../shared: skipped with the reason when it is missing.
import { readShared, sharedFixture, testShared as test } from './helpers/shared.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tar from 'tar-stream';
import { sql } from 'kysely';
import { openDatabase, type OpenedDatabase } from '../src/db/database.ts';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';
import { AdvisoryStore } from '../src/scanner/store.ts';
import {
  alpineSecdbUpdater,
  debianTrackerUpdater,
  getUpdater,
  importUpdater,
  osvUpdater,
  redhatCsafUpdater,
  runUpdater,
  updaters,
} from '../src/scanner/updaters/index.ts';
import { topLevelMembers } from '../src/scanner/updaters/json-stream.ts';
import { osvTarget, osvToAdvisories } from '../src/scanner/updaters/osv.ts';
import { cvss2BaseScore, cvss3BaseScore, severityFromText } from '../src/scanner/model.ts';
import { evaluate, match, matchers } from '../src/scanner/matcher/index.ts';
import type { Distribution, Package } from '../src/scanner/indexer/types.ts';
import { zipOf } from './helpers/zip.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIX = path.join(ROOT, 'test/fixtures/scanner-data');
const ALPINE_FIXTURE = sharedFixture('claircore/alpine_testdata_fetch_v3.10_community.json');
const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;

// ---- helpers ------------------------------------------------------------------------------------

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunksOf(s: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(s);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  for (const [name, data] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name }, Buffer.isBuffer(data) ? data : Buffer.from(data), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

interface Route {
  body: Buffer;
  etag?: boolean;
  status?: number;
}
interface Hit {
  path: string;
  status: number;
  ifNoneMatch?: string;
}

/** A static HTTP server on 127.0.0.1: ETag / If-None-Match, and a log of every request. */
async function startOrigin(): Promise<{ url: string; routes: Map<string, Route>; hits: Hit[]; close(): Promise<void> }> {
  const routes = new Map<string, Route>();
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const r = routes.get(p);
    const inm = req.headers['if-none-match'];
    const hit: Hit = { path: p, status: 0, ...(typeof inm === 'string' ? { ifNoneMatch: inm } : {}) };
    hits.push(hit);
    if (!r) {
      hit.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    if (r.status && r.status !== 200) {
      hit.status = r.status;
      res.writeHead(r.status).end('error');
      return;
    }
    const etag = `"${createHash('sha256').update(r.body).digest('hex').slice(0, 16)}"`;
    if (r.etag !== false && inm === etag) {
      hit.status = 304;
      res.writeHead(304, { etag }).end();
      return;
    }
    hit.status = 200;
    res.writeHead(200, { 'content-length': r.body.length, ...(r.etag !== false ? { etag } : {}) }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    routes,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tiny HTTP proxy on 127.0.0.1 (absolute-URI requests and CONNECT tunnels) that counts requests. */
async function startProxy(): Promise<{ url: string; count: () => number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    n++;
    const target = new URL(req.url ?? '');
    if (target.hostname !== '127.0.0.1') {
      res.writeHead(403).end();
      return;
    }
    const up = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    n++;
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  server.on('connection', (s: net.Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    count: () => n,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function pkg(ecosystem: Package['ecosystem'], name: string, version: string, source?: { name: string; version: string }): Package {
  return { name, version, kind: 'binary', ecosystem, path: 'x', layerIndex: 0, ...(source ? { source } : {}) };
}

function ids(report: Awaited<ReturnType<typeof match>>, name: string, version?: string): string[] {
  const r = report.packages.find((p) => p.package.name === name && (version === undefined || p.package.version === version));
  assert.ok(r, `package ${name} ${version ?? ''} in the report`);
  return r.vulnerabilities.map((v) => v.id).sort();
}

function osvEntry(id: string, name: string, fixed: string, extra: Record<string, unknown> = {}) {
  return {
    schema_version: '1.4.0',
    id,
    modified: '2024-01-01T00:00:00Z',
    aliases: [],
    details: `synthetic ${id}`,
    affected: [{ package: { ecosystem: 'PyPI', name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
    database_specific: { severity: 'HIGH' },
    ...extra,
  };
}

// ---- dialect-independent units --------------------------------------------------------------------

describe('vulnerability data: building blocks', () => {
  test('streaming JSON: members of objects and arrays, byte at a time, errors with offsets', async () => {
    const doc = JSON.stringify({ a: { x: '}"]{[\\' }, 'k\\"ey': [1, 2, { b: null }], n: 12.5e3, t: true, s: 'é✓ "q"', e: {} });
    for (const size of [1, 3, 7, 4096]) {
      const got = Object.fromEntries(await collect(topLevelMembers(chunksOf(doc, size))));
      assert.deepEqual(got, JSON.parse(doc), `chunk size ${size}`);
    }
    assert.deepEqual(await collect(topLevelMembers(chunksOf(' [ {"id":1} , 2, "x" ] ', 2))), [
      [0, { id: 1 }],
      [1, 2],
      [2, 'x'],
    ]);
    assert.deepEqual(await collect(topLevelMembers(chunksOf('{}', 1))), []);
    assert.deepEqual(await collect(topLevelMembers(chunksOf('[]', 1))), []);
    await assert.rejects(collect(topLevelMembers(chunksOf('{"a": {"b": 1}', 3))), /unexpected end of the document/);
    await assert.rejects(collect(topLevelMembers(chunksOf('{"a": {"b": 1}} x', 3))), /unexpected data after the end/);
    await assert.rejects(collect(topLevelMembers(chunksOf('{"a": {"b": 1,}}', 3))), /invalid JSON in member "a"/);
    await assert.rejects(collect(topLevelMembers(chunksOf('{"a" 1}', 3))), /expected ":" at byte 5/);
    await assert.rejects(collect(topLevelMembers(chunksOf('', 3))), /empty document/);
  });

  test('CVSS base scores and vendor severity words', () => {
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 9.8);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H'), 7.2);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N'), 5.9);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N'), 6.1);
    assert.equal(cvss3BaseScore('CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H'), 8.8);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N'), 0);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:X'), undefined);
    assert.equal(cvss2BaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P'), 7.5);
    assert.equal(cvss2BaseScore('AV:N/AC:M/Au:N/C:N/I:P/A:N'), 4.3);
    assert.deepEqual(['MODERATE', 'Important', 'unimportant', 'low**', 'not yet assigned', 'untriaged', 'CRITICAL'].map(severityFromText), [
      'Medium',
      'High',
      'Negligible',
      'Low',
      'Unknown',
      'Unknown',
      'Critical',
    ]);
  });

  test('OSV ecosystem strings map to a version scheme and a distribution release', () => {
    assert.deepEqual(osvTarget('PyPI'), { ecosystem: 'pep440', distribution: null });
    assert.deepEqual(osvTarget('Go'), { ecosystem: 'go', distribution: null });
    assert.deepEqual(osvTarget('crates.io'), { ecosystem: 'semver', distribution: null });
    assert.deepEqual(osvTarget('Debian:12'), { ecosystem: 'dpkg', distribution: { id: 'debian', versionId: '12' } });
    assert.deepEqual(osvTarget('Ubuntu:22.04:LTS'), { ecosystem: 'dpkg', distribution: { id: 'ubuntu', versionId: '22.04' } });
    assert.deepEqual(osvTarget('Ubuntu:23.10'), { ecosystem: 'dpkg', distribution: { id: 'ubuntu', versionId: '23.10' } });
    assert.equal(osvTarget('Ubuntu:Pro:16.04:LTS'), undefined);
    assert.deepEqual(osvTarget('Alpine:v3.18'), { ecosystem: 'apk', distribution: { id: 'alpine', versionId: '3.18' } });
    assert.deepEqual(osvTarget('Red Hat:enterprise_linux:9::appstream'), {
      ecosystem: 'rpm',
      distribution: { id: 'rhel', versionId: '9' },
    });
    assert.equal(osvTarget('RubyGems'), undefined);
    assert.equal(osvTarget('Debian'), undefined);
  });

  test('OSV entries: one record per package and release; GIT ranges dropped; withdrawn gives nothing', () => {
    const e = JSON.parse(readFileSync(path.join(FIX, 'osv/UBUNTU-CVE-2023-38545.json'), 'utf8'));
    const recs = osvToAdvisories(e, { updater: 'osv' });
    assert.equal(recs.length, 1, 'the Ubuntu Pro entry is left out');
    assert.deepEqual(recs[0].distribution, { id: 'ubuntu', versionId: '22.04' });
    assert.equal(recs[0].severity, 'High', "Ubuntu's priority");
    assert.deepEqual(recs[0].aliases, ['CVE-2023-38545']);
    const py = osvToAdvisories(JSON.parse(readFileSync(path.join(FIX, 'osv/PYSEC-2024-24.json'), 'utf8')), { updater: 'osv' });
    assert.deepEqual(py[0].ranges, [[{ introduced: '1.0.5' }, { fixed: '3.9.2' }]]);
    assert.equal(py[0].versions, undefined, 'versions only kept without ranges');
    assert.equal(py[0].score, 7.5);
    assert.deepEqual(
      osvToAdvisories(JSON.parse(readFileSync(path.join(FIX, 'osv/GHSA-withdrawn-example.json'), 'utf8')), { updater: 'osv' }),
      [],
    );
    assert.throws(() => osvToAdvisories({ affected: [] } as never, { updater: 'osv' }), /not an OSV entry/);
    // An unknown comparison never reports: an invalid installed version, an invalid bound.
    assert.deepEqual(evaluate('not a version!', py[0]), { affected: false, unknown: '"not a version!" is not a valid pep440 version' });
    assert.equal(evaluate('2.0', { ...py[0], ranges: [[{ introduced: '0' }, { fixed: 'junk junk' }]] }).affected, false);
  });

  test('the registry: unique names, every updater fetchable and parseable', () => {
    assert.equal(new Set(updaters.map((u) => u.name)).size, updaters.length);
    for (const u of updaters) {
      assert.match(u.defaultUrl, /^https:\/\//, u.name);
      assert.equal(typeof u.fetch, 'function');
      assert.equal(typeof u.parse, 'function');
    }
    assert.deepEqual(
      matchers.map((m) => m.name),
      ['deb', 'apk', 'rpm', 'pypi', 'npm', 'go', 'maven'],
    );
    assert.throws(() => getUpdater('nope'), /no updater named "nope"/);
  });
});

// ---- against a database -------------------------------------------------------------------------

for (const dialect of await testDialects()) {
  describe(`vulnerability data (${dialect})`, () => {
    let dir: string;
    let opened: OpenedDatabase;
    let store: AdvisoryStore;
    let drop: (() => Promise<void>) | undefined;
    let origin: Awaited<ReturnType<typeof startOrigin>>;
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    const sqliteFile = () => path.join(dir, 'berth.db');

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'berth-vulndata-'));
      if (dialect === 'postgres') {
        const pg = await createPostgresDatabase();
        drop = pg.drop;
        opened = await openDatabase({ kind: 'postgres', uri: pg.uri, maxConnections: 4 });
      } else {
        opened = await openDatabase({ kind: 'sqlite', file: sqliteFile() });
      }
      store = new AdvisoryStore(opened.db, dialect, { tmpDir: dir });
      origin = await startOrigin();
      proxy = await startProxy();
      // Upstream layouts: secdb, the tracker, osv.dev's all.zip, Red Hat's VEX archive.
      origin.routes.set('/alpine/v3.10/community.json', { body: readShared(ALPINE_FIXTURE) });
      origin.routes.set('/debian/tracker/data/json', { body: readFileSync(path.join(FIX, 'debian-tracker.json')) });
      const osvFiles: Record<string, Buffer> = {};
      for (const f of readdirSync(path.join(FIX, 'osv'))) osvFiles[f] = readFileSync(path.join(FIX, 'osv', f));
      origin.routes.set('/osv/all.zip', { body: await zipOf(osvFiles) });
      const archive = await tarOf({
        '2023/cve-2023-38545.json': readFileSync(path.join(FIX, 'csaf/cve-2023-38545.json')),
        '2023/cve-2023-5678.json': readFileSync(path.join(FIX, 'csaf/cve-2023-5678.json')),
        'index.txt': '2023/cve-2023-38545.json\n2023/cve-2023-5678.json\n',
      });
      if (HAVE_ZSTD) {
        const z = spawnSync('zstd', ['-q', '-c', '-3'], { input: archive });
        assert.equal(z.status, 0);
        origin.routes.set('/vex/archive_latest.txt', { body: Buffer.from('csaf_vex_2025-11-23.tar.zst\n') });
        origin.routes.set('/vex/csaf_vex_2025-11-23.tar.zst', { body: z.stdout });
      } else {
        origin.routes.set('/vex/archive_latest.txt', { body: Buffer.from('csaf_vex_2025-11-23.tar\n') });
        origin.routes.set('/vex/csaf_vex_2025-11-23.tar', { body: archive });
      }
    });

    after(async () => {
      await origin?.close();
      await proxy?.close();
      await opened?.close();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const alpine = alpineSecdbUpdater({ releases: ['v3.10'], repos: ['main', 'community'] });
    const debian = debianTrackerUpdater();
    const osvAll = osvUpdater({ name: 'osv-test' });
    const redhat = redhatCsafUpdater();

    test('alpine-secdb: fetched from the upstream layout; an unchanged upstream (ETag) costs nothing; the proxy is used', async () => {
      const base = `${origin.url}/alpine`;
      const first = await runUpdater(store, alpine, { baseUrl: base });
      assert.equal(first.unchanged, false);
      assert.ok(!first.unchanged && first.records === 9 && first.added === 9, JSON.stringify(first));
      assert.deepEqual(
        origin.hits.filter((h) => h.path.startsWith('/alpine')).map((h) => `${h.path} ${h.status}`),
        ['/alpine/v3.10/main.json 404', '/alpine/v3.10/community.json 200'],
        'a missing repository file is left out',
      );
      const st1 = (await store.updaterStatus()).find((s) => s.name === 'alpine-secdb')!;
      assert.equal(st1.records, 9);

      origin.hits.length = 0;
      // Time-based on purpose: checkedAt is in milliseconds; 5 ms makes the second check's time strictly later.
      await new Promise((r) => setTimeout(r, 5));
      const second = await runUpdater(store, alpine, { baseUrl: base });
      assert.equal(second.unchanged, true);
      const h = origin.hits.find((x) => x.path === '/alpine/v3.10/community.json')!;
      assert.equal(h.status, 304, 'conditional request');
      assert.match(h.ifNoneMatch ?? '', /^"[0-9a-f]{16}"$/);
      const st2 = (await store.updaterStatus()).find((s) => s.name === 'alpine-secdb')!;
      assert.equal(st2.updatedAt, st1.updatedAt, 'data set not rewritten');
      assert.ok(st2.checkedAt > st1.checkedAt, 'checked time recorded');

      // Through the proxy: the origin is reached only via the proxy's requests.
      const before = proxy.count();
      const third = await runUpdater(store, alpine, { baseUrl: base, proxy: proxy.url });
      assert.equal(third.unchanged, true);
      assert.ok(proxy.count() > before, `proxy saw ${proxy.count() - before} requests`);
      // A proxy that refuses: the fetch fails with a clear error, data untouched.
      await assert.rejects(
        runUpdater(store, alpine, { baseUrl: 'http://127.0.0.2:9/alpine', proxy: proxy.url }),
        /alpine-secdb: .*(GET|none of)/,
      );
      assert.equal((await store.updaterStatus()).find((s) => s.name === 'alpine-secdb')!.records, 9);
    });

    test('debian-tracker: streamed from the tracker JSON; a server without ETags: same bytes = unchanged', async () => {
      const base = `${origin.url}/debian/tracker`;
      const r = await runUpdater(store, debian, { baseUrl: base, proxy: proxy.url });
      assert.ok(!r.unchanged && r.records === 11, JSON.stringify(r));
      const route = origin.routes.get('/debian/tracker/data/json')!;
      route.etag = false;
      const again = await runUpdater(store, debian, { baseUrl: base });
      assert.equal(again.unchanged, true, 'the content hash matched');
      route.etag = true;
      const recs = await collect(store.records('debian-tracker'));
      assert.equal(recs.length, 11);
      const bind = recs.find((a) => a.package === 'bind9' && a.distribution?.versionId === '12')!;
      assert.equal(bind.fixedIn, '1:9.18.19-1~deb12u1');
      assert.equal(recs.find((a) => a.package === 'coreutils')!.severity, 'Negligible');
      assert.ok(!recs.some((a) => a.id === 'CVE-2020-8169'), 'fixed_version "0" (never affected) gives nothing');
      assert.ok(!recs.some((a) => a.id.startsWith('TEMP-')), 'undetermined gives nothing');
      assert.ok(recs.some((a) => a.distribution?.versionId === 'sid'));
    });

    test("osv: all.zip from osv.dev's layout; also a directory, a single file, an array file", async () => {
      const r = await runUpdater(store, osvAll, { baseUrl: `${origin.url}/osv` });
      assert.ok(!r.unchanged && r.records === 10, JSON.stringify(r));
      const dirRecs = await collect((await osvAll.parse(path.join(FIX, 'osv'))).records);
      assert.equal(dirRecs.length, 10);
      const single = await osvAll.parse(path.join(FIX, 'osv/GO-2021-0113.json'));
      const goRecs = await collect(single.records);
      assert.deepEqual(
        goRecs.map((a) => [a.id, a.ecosystem, a.package, a.fixedIn]),
        [['GO-2021-0113', 'go', 'golang.org/x/text', '0.3.7']],
      );
      assert.match(single.fingerprint, /^sha256:[0-9a-f]{64}$/);
      const arrayFile = path.join(dir, 'entries.json');
      writeFileSync(
        arrayFile,
        JSON.stringify(readdirSync(path.join(FIX, 'osv')).map((f) => JSON.parse(readFileSync(path.join(FIX, 'osv', f), 'utf8')))),
      );
      assert.equal((await collect((await osvAll.parse(arrayFile)).records)).length, 10);
      // An ecosystem updater keeps its own ecosystem only.
      const pypi = await collect((await osvUpdater({ ecosystem: 'PyPI' }).parse(path.join(FIX, 'osv'))).records);
      assert.deepEqual(pypi.map((a) => a.id).sort(), ['GHSA-5h86-8mv2-jq9f', 'PYSEC-2024-24']);
    });

    test('redhat-csaf: archive_latest.txt names the archive; VEX documents give RHEL rpm records', async () => {
      const r = await runUpdater(store, redhat, { baseUrl: `${origin.url}/vex` });
      assert.ok(!r.unchanged && r.records === 7, JSON.stringify(r));
      assert.ok(origin.hits.some((h) => h.path === `/vex/csaf_vex_2025-11-23.tar${HAVE_ZSTD ? '.zst' : ''}` && h.status === 200));
      const again = await runUpdater(store, redhat, { baseUrl: `${origin.url}/vex` });
      assert.equal(again.unchanged, true);
      const curl = (await store.byId('CVE-2023-38545')).filter((a) => a.updater === 'redhat-csaf');
      assert.deepEqual(curl.map((a) => a.package).sort(), ['curl', 'curl-minimal', 'libcurl', 'libcurl-minimal'], 'debuginfo left out');
      for (const a of curl) {
        assert.equal(a.fixedIn, '7.76.1-26.el9_3.2', 'the main stream fix, not the EUS ones');
        assert.equal(a.severity, 'High');
        assert.equal(a.score, 8.1);
        assert.deepEqual(a.distribution, { id: 'rhel', versionId: '9' });
      }
      const ossl8 = (await store.byId('CVE-2023-5678')).find((a) => a.distribution?.versionId === '8')!;
      assert.deepEqual(ossl8.ranges, [[{ introduced: '0' }]], 'known_affected: no fix');
      // A single document and a directory parse too.
      assert.equal((await collect((await redhat.parse(path.join(FIX, 'csaf/cve-2023-5678.json'))).records)).length, 3);
      assert.equal((await collect((await redhat.parse(path.join(FIX, 'csaf'))).records)).length, 7);
    });

    test('matching: vulnerable versions reported with id, severity, links, description and fix; fixed ones not', async () => {
      // (data from the four tests above, all in the store)
      // Alpine 3.10: the real secdb fixture.
      const alp: Distribution = { id: 'alpine', version_id: '3.10.9', pretty_name: 'Alpine Linux v3.10' };
      const a = await match(
        store,
        [
          pkg('apk', 'botan', '2.8.0-r0'),
          pkg('apk', 'botan-libs', '2.8.0-r0', { name: 'botan', version: '2.8.0-r0' }),
          pkg('apk', 'botan', '2.9.0-r0'),
          pkg('apk', 'cfengine', '3.12.1-r1'),
          pkg('apk', 'cfengine', '3.12.2-r0'),
          pkg('apk', 'chicken', '4.12.0-r2'),
          pkg('apk', 'chicken', '4.12.0-r3'),
          pkg('apk', 'busybox', '1.30.1-r5'),
        ],
        alp,
      );
      assert.deepEqual(ids(a, 'botan', '2.8.0-r0'), ['CVE-2018-20187']);
      assert.deepEqual(ids(a, 'botan-libs'), ['CVE-2018-20187'], 'matched through its origin');
      assert.deepEqual(ids(a, 'botan', '2.9.0-r0'), [], 'at the fixed version: not reported');
      assert.deepEqual(ids(a, 'cfengine', '3.12.1-r1'), ['CVE-2019-9929']);
      assert.deepEqual(ids(a, 'cfengine', '3.12.2-r0'), []);
      assert.deepEqual(ids(a, 'chicken', '4.12.0-r2'), ['CVE-2017-6949']);
      assert.deepEqual(ids(a, 'chicken', '4.12.0-r3'), []);
      const v = a.packages[0].vulnerabilities[0];
      assert.deepEqual(
        { id: v.id, fixedIn: v.fixedIn, severity: v.severity, updater: v.updater, links: v.links },
        {
          id: 'CVE-2018-20187',
          fixedIn: '2.9.0-r0',
          severity: 'Unknown',
          updater: 'alpine-secdb',
          links: ['https://security.alpinelinux.org/vuln/CVE-2018-20187'],
        },
      );
      // Another Alpine release has no data: nothing.
      const a311 = await match(store, [pkg('apk', 'botan', '2.8.0-r0')], { id: 'alpine', version_id: '3.11.3' });
      assert.deepEqual(ids(a311, 'botan'), []);

      // Debian 12: by source package, epochs and ~.
      const deb: Distribution = { id: 'debian', version_id: '12', version_codename: 'bookworm' };
      const bind = (v: string) => pkg('deb', 'bind9-libs', v, { name: 'bind9', version: v });
      const d = await match(
        store,
        [
          bind('1:9.18.16-1~deb12u1'),
          bind('1:9.18.19-1~deb12u1'),
          bind('1:9.18.19-1~bpo11+1'),
          bind('1:9.18.19-1'),
          bind('9.18.24-1'),
          pkg('deb', 'libcurl4', '7.88.1-10+deb12u3', { name: 'curl', version: '7.88.1-10+deb12u3' }),
          pkg('deb', 'curl', '7.88.1-10+deb12u5'),
          pkg('deb', 'libc6', '2.36-9+deb12u3', { name: 'glibc', version: '2.36-9+deb12u3' }),
          pkg('deb', 'libc6', '2.36-9+deb12u1', { name: 'glibc', version: '2.36-9+deb12u1' }),
          pkg('deb', 'coreutils', '9.1-1'),
        ],
        deb,
      );
      assert.deepEqual(ids(d, 'bind9-libs', '1:9.18.16-1~deb12u1'), ['CVE-2023-3341']);
      assert.deepEqual(ids(d, 'bind9-libs', '1:9.18.19-1~deb12u1'), [], 'exactly the fixed version');
      assert.deepEqual(ids(d, 'bind9-libs', '1:9.18.19-1~bpo11+1'), ['CVE-2023-3341'], '~bpo sorts before ~deb');
      assert.deepEqual(ids(d, 'bind9-libs', '1:9.18.19-1'), [], 'no ~ sorts after ~deb12u1');
      assert.deepEqual(ids(d, 'bind9-libs', '9.18.24-1'), ['CVE-2023-3341'], 'no epoch is epoch 0, below 1:');
      assert.deepEqual(ids(d, 'libcurl4'), ['CVE-2023-38545', 'CVE-2024-9681']);
      assert.deepEqual(ids(d, 'curl'), ['CVE-2024-9681'], 'open issue: reported with no fix');
      assert.deepEqual(ids(d, 'libc6', '2.36-9+deb12u3'), []);
      assert.deepEqual(ids(d, 'libc6', '2.36-9+deb12u1'), ['CVE-2023-4911']);
      const curl = d.packages.find((p) => p.package.name === 'libcurl4')!.vulnerabilities.find((x) => x.id === 'CVE-2023-38545')!;
      assert.equal(curl.fixedIn, '7.88.1-10+deb12u4');
      assert.equal(curl.severity, 'High');
      assert.equal(curl.package, 'curl');
      assert.ok(curl.links.includes('https://security-tracker.debian.org/tracker/CVE-2023-38545'));
      assert.match(curl.description, /SOCKS5/);
      // The OSV Debian record for the same CVE (osv-test updater) is merged, not duplicated.
      assert.ok(curl.aliases.includes('DEBIAN-CVE-2023-38545'), JSON.stringify(curl.aliases));
      const open = d.packages.find((p) => p.package.name === 'curl')!.vulnerabilities[0];
      assert.equal(open.fixedIn, null);
      assert.equal(d.packages.find((p) => p.package.name === 'coreutils')!.vulnerabilities[0].severity, 'Negligible');
      // Codename only (testing images), and a distribution without data.
      const byCodename = await match(store, [bind('1:9.18.16-1~deb12u1')], { id: 'debian', version_codename: 'bookworm' });
      assert.deepEqual(ids(byCodename, 'bind9-libs'), ['CVE-2023-3341']);
      const mint = await match(store, [bind('1:9.18.16-1~deb12u1')], { id: 'linuxmint', version_id: '21' });
      assert.deepEqual(mint.unsupported, [{ matcher: 'deb', packages: 1, distribution: 'linuxmint 21' }]);
      assert.deepEqual(ids(mint, 'bind9-libs'), []);

      // Ubuntu 22.04 (OSV).
      const u = await match(
        store,
        [
          pkg('deb', 'libcurl4', '7.81.0-1ubuntu1.13', { name: 'curl', version: '7.81.0-1ubuntu1.13' }),
          pkg('deb', 'curl', '7.81.0-1ubuntu1.14'),
        ],
        { id: 'ubuntu', version_id: '22.04' },
      );
      assert.deepEqual(ids(u, 'libcurl4'), ['UBUNTU-CVE-2023-38545']);
      assert.deepEqual(ids(u, 'curl'), []);

      // RHEL 9 (CSAF VEX): binary and source names, epochs, EUS vs main stream.
      const rh = await match(
        store,
        [
          pkg('rpm', 'openssl-libs', '1:3.0.7-24.el9', { name: 'openssl', version: '1:3.0.7-24.el9' }),
          pkg('rpm', 'openssl-libs', '1:3.0.7-27.el9', { name: 'openssl', version: '1:3.0.7-27.el9' }),
          pkg('rpm', 'curl-minimal', '7.76.1-23.el9_2.4', { name: 'curl', version: '7.76.1-23.el9_2.4' }),
          pkg('rpm', 'libcurl-minimal', '7.76.1-26.el9_3.2', { name: 'curl', version: '7.76.1-26.el9_3.2' }),
        ],
        { id: 'rhel', version_id: '9.3' },
      );
      assert.deepEqual(ids(rh, 'openssl-libs', '1:3.0.7-24.el9'), ['CVE-2023-5678']);
      assert.deepEqual(ids(rh, 'openssl-libs', '1:3.0.7-27.el9'), []);
      assert.deepEqual(ids(rh, 'curl-minimal'), ['CVE-2023-38545']);
      assert.deepEqual(ids(rh, 'libcurl-minimal'), []);
      const o = rh.packages[0].vulnerabilities[0];
      assert.deepEqual([o.severity, o.fixedIn, o.score], ['Low', '1:3.0.7-27.el9', 5.3]);
      const rh8 = await match(store, [pkg('rpm', 'openssl', '1:1.1.1k-12.el8_9', { name: 'openssl', version: '1:1.1.1k-12.el8_9' })], {
        id: 'rhel',
        version_id: '8.10',
      });
      assert.deepEqual(ids(rh8, 'openssl'), ['CVE-2023-5678'], 'known affected, no fix');
      assert.equal(rh8.packages[0].vulnerabilities[0].fixedIn, null);

      // Language packages (OSV): PyPI (name normalization; GHSA and PYSEC merged), npm, Go.
      const lang = await match(
        store,
        [
          pkg('pypi', 'AioHTTP', '3.9.1'),
          pkg('pypi', 'aiohttp', '3.9.2'),
          pkg('pypi', 'aiohttp', '1.0.4'),
          pkg('pypi', 'aiohttp', '3.9.1+local.build'),
          pkg('pypi', 'aiohttp', 'not-a-version'),
          pkg('npm', 'lodash', '4.17.20'),
          pkg('npm', 'lodash', '4.17.21'),
          pkg('npm', 'lodash.template', '4.5.0'),
          pkg('npm', 'lodash.template', '4.5.1'),
          pkg('go', 'golang.org/x/text', 'v0.3.6'),
          pkg('go', 'golang.org/x/text', 'v0.3.7'),
        ],
        alp,
      );
      assert.deepEqual(ids(lang, 'AioHTTP'), ['GHSA-5h86-8mv2-jq9f'], 'one vulnerability, not two');
      const aio = lang.packages[0].vulnerabilities[0];
      assert.deepEqual(aio.aliases.sort(), ['CVE-2024-23334', 'PYSEC-2024-24']);
      assert.equal(aio.severity, 'Medium');
      assert.equal(aio.fixedIn, '3.9.2');
      assert.deepEqual(ids(lang, 'aiohttp', '3.9.2'), []);
      assert.deepEqual(ids(lang, 'aiohttp', '1.0.4'), [], 'below "introduced"');
      assert.deepEqual(ids(lang, 'aiohttp', '3.9.1+local.build'), ['GHSA-5h86-8mv2-jq9f']);
      assert.deepEqual(ids(lang, 'aiohttp', 'not-a-version'), [], 'unknown comparison: not reported');
      assert.ok(lang.unknown.some((x) => x.version === 'not-a-version' && /not a valid pep440 version/.test(x.reason)));
      assert.deepEqual(ids(lang, 'lodash', '4.17.20'), ['GHSA-35jh-r3h4-6jhm']);
      assert.deepEqual(ids(lang, 'lodash', '4.17.21'), [], 'and the withdrawn advisory is gone');
      assert.deepEqual(ids(lang, 'lodash.template', '4.5.0'), ['GHSA-35jh-r3h4-6jhm'], 'last_affected is inclusive');
      assert.deepEqual(ids(lang, 'lodash.template', '4.5.1'), []);
      assert.deepEqual(ids(lang, 'golang.org/x/text', 'v0.3.6'), ['GO-2021-0113']);
      assert.deepEqual(ids(lang, 'golang.org/x/text', 'v0.3.7'), []);
      const lodash = lang.packages.find((p) => p.package.name === 'lodash')!.vulnerabilities[0];
      assert.deepEqual(
        [lodash.severity, lodash.score, lodash.severityVector],
        ['High', 7.2, 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H'],
      );
      assert.ok(lodash.links.includes('https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm'));
    });

    test('replaceUpdater: added / updated / withdrawn counts; an identical import writes nothing', async () => {
      const entries = (list: object[]) => Buffer.from(JSON.stringify(list));
      const u = osvUpdater({ name: 'osv-diff' });
      const v1 = [osvEntry('PYSEC-T-1', 'pkg-a', '1.0'), osvEntry('PYSEC-T-2', 'pkg-b', '2.0'), osvEntry('PYSEC-T-3', 'pkg-c', '3.0')];
      const r1 = await importUpdater(store, u, entries(v1));
      assert.deepEqual([r1.records, r1.added, r1.updated, r1.withdrawn, r1.identical], [3, 3, 0, 0, 0]);
      const v2 = [osvEntry('PYSEC-T-1', 'pkg-a', '1.0'), osvEntry('PYSEC-T-2', 'pkg-b', '2.1'), osvEntry('PYSEC-T-4', 'pkg-d', '4.0')];
      const r2 = await importUpdater(store, u, entries(v2));
      assert.deepEqual([r2.records, r2.added, r2.updated, r2.withdrawn, r2.identical], [3, 1, 1, 1, 1]);
      const r3 = await importUpdater(store, u, entries(v2));
      assert.deepEqual([r3.added, r3.updated, r3.withdrawn, r3.identical], [0, 0, 0, 3]);
      assert.equal(r3.fingerprint, r2.fingerprint, 'same bytes, same fingerprint');
      const stored = await collect(store.records('osv-diff'));
      assert.deepEqual(stored.map((a) => `${a.id}:${a.fixedIn}`).sort(), ['PYSEC-T-1:1.0', 'PYSEC-T-2:2.1', 'PYSEC-T-4:4.0']);
      // A withdrawn entry counts as withdrawn.
      const r4 = await importUpdater(store, u, entries([...v2.slice(0, 2), { ...v2[2], withdrawn: '2024-02-01T00:00:00Z' }]));
      assert.deepEqual([r4.records, r4.withdrawn], [2, 1]);
      // Two imports of the same updater at once take turns: both succeed, the data is one of them.
      const [c1, c2] = await Promise.all([importUpdater(store, u, entries(v1)), importUpdater(store, u, entries(v2))]);
      assert.equal(c1.records + c2.records, 6);
      const after2 = (await collect(store.records('osv-diff'))).map((a) => a.id).sort();
      assert.ok(
        JSON.stringify(after2) === JSON.stringify(['PYSEC-T-1', 'PYSEC-T-2', 'PYSEC-T-3']) ||
          JSON.stringify(after2) === JSON.stringify(['PYSEC-T-1', 'PYSEC-T-2', 'PYSEC-T-4']),
        JSON.stringify(after2),
      );
      // Other updaters' data is untouched by all this.
      assert.equal((await store.updaterStatus()).find((s) => s.name === 'alpine-secdb')!.records, 9);
    });

    test('bounded size: ten imports (the same data, then alternating versions) keep row counts and the file flat', async () => {
      const N = 1500;
      const a = Array.from({ length: N }, (_, i) =>
        osvEntry(`PYSEC-B-${i}`, `bulk-${i % 500}`, `1.${i}`, { details: `bulk advisory ${i} `.repeat(8) }),
      );
      const b = a
        .filter((_, i) => i % 10 !== 0)
        .map((e, i) => (i % 3 === 0 ? osvEntry(e.id, e.affected[0].package.name, `2.${i}`, { details: e.details }) : e));
      for (let i = 0; i < N / 10; i++) b.push(osvEntry(`PYSEC-B-new-${i}`, `bulk-new-${i}`, '9.9'));
      const fileA = path.join(dir, 'bulk-a.json');
      const fileB = path.join(dir, 'bulk-b.json');
      writeFileSync(fileA, JSON.stringify(a));
      writeFileSync(fileB, JSON.stringify(b));
      const u = osvUpdater({ name: 'osv-bulk' });

      const size = async (): Promise<number> => {
        if (dialect === 'sqlite') {
          // Berth's checkpoint thread may be copying the WAL at this moment: a TRUNCATE then answers busy and
          // leaves the file, so ask again until it has emptied it.
          for (let tries = 0; ; tries++) {
            const r = await sql<{ busy: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(opened.db);
            if (r.rows[0]?.busy === 0) break;
            assert.ok(tries < 200, 'the WAL could not be checkpointed within 4 s');
            await new Promise((res) => setTimeout(res, 20));
          }
          const wal = existsSync(`${sqliteFile()}-wal`) ? statSync(`${sqliteFile()}-wal`).size : 0;
          return statSync(sqliteFile()).size + wal;
        }
        const r = await sql<{ n: string }>`select pg_total_relation_size('advisory') as n`.execute(opened.db);
        return Number(r.rows[0].n);
      };
      const base = (await store.counts()).advisories;

      // The same data ten times: nothing is rewritten.
      const same: Array<{ rows: number; bytes: number }> = [];
      for (let i = 0; i < 10; i++) {
        const r = await importUpdater(store, u, fileA);
        if (i > 0) assert.deepEqual([r.added, r.updated, r.withdrawn, r.identical], [0, 0, 0, N]);
        same.push({ rows: (await store.counts()).advisories, bytes: await size() });
      }
      assert.ok(
        same.every((s) => s.rows === base + N),
        JSON.stringify(same),
      );
      assert.ok(
        same.every((s) => s.bytes === same[0].bytes),
        `same data, sizes ${same.map((s) => s.bytes).join(' ')}`,
      );

      // Alternating A and B ten times: the rows follow the data, and the file does not grow.
      const alt: Array<{ rows: number; bytes: number }> = [];
      for (let i = 0; i < 10; i++) {
        const r = await importUpdater(store, u, i % 2 === 0 ? fileB : fileA);
        if (i > 0) assert.ok(r.added > 0 && r.updated > 0 && r.withdrawn > 0, JSON.stringify(r));
        alt.push({ rows: (await store.counts()).advisories, bytes: await size() });
      }
      assert.ok(
        alt.every((s, i) => s.rows === base + (i % 2 === 0 ? b.length : N)),
        JSON.stringify(alt.map((s) => s.rows)),
      );
      if (process.env.BERTH_DEBUG_SIZES)
        console.log(dialect, 'same', same.map((s) => s.bytes).join(' '), 'alt', alt.map((s) => s.bytes).join(' '));
      // Freed space is reused (SQLite's free pages; PostgreSQL's after the store's VACUUM): after the
      // first A->B->A cycle the size stays within a few pages.
      const settled = Math.max(alt[0].bytes, alt[1].bytes, same[0].bytes);
      const last = Math.max(...alt.slice(2).map((s) => s.bytes));
      assert.ok(last <= settled * 1.1, `${dialect} size ${alt.map((s) => s.bytes).join(' ')} (settled ${settled})`);
    });

    test('malformed input: a clear error naming the updater and file; the previous data stays whole', async () => {
      const before = await store.updaterStatus();
      const counts = (await store.counts()).advisories;
      const bad = path.join(dir, 'bad');
      mkdirSync(bad, { recursive: true });
      // Truncated tracker JSON (a download cut short).
      const tracker = readFileSync(path.join(FIX, 'debian-tracker.json'), 'utf8');
      writeFileSync(path.join(bad, 'tracker.json'), tracker.slice(0, tracker.length - 40));
      await assert.rejects(importUpdater(store, debian, path.join(bad, 'tracker.json')), (err: Error) => {
        assert.match(err.message, /^debian-tracker: .*tracker\.json: .*(unexpected end|invalid JSON)/);
        return true;
      });
      // Not a secdb document.
      writeFileSync(path.join(bad, 'secdb.json'), JSON.stringify([{ pkg: { name: 'x' } }]));
      await assert.rejects(
        importUpdater(store, alpine, path.join(bad, 'secdb.json')),
        /^UpdaterError|alpine-secdb: .*not an Alpine secdb document/,
      );
      // A secdb whose secfixes has the wrong shape, after good packages (fails mid-stream).
      const doc = JSON.parse(readFileSync(ALPINE_FIXTURE, 'utf8'));
      doc.packages.push({ pkg: { name: 'broken', secfixes: { '1.0-r0': 'CVE-2020-0001' } } });
      writeFileSync(path.join(bad, 'secdb2.json'), JSON.stringify(doc));
      await assert.rejects(
        importUpdater(store, alpine, path.join(bad, 'secdb2.json')),
        /alpine-secdb: .*broken 1\.0-r0: expected a list of ids/,
      );
      // An OSV zip with a corrupt entry; an OSV file that is not JSON.
      writeFileSync(
        path.join(bad, 'all.zip'),
        await zipOf({
          'GHSA-1.json': readFileSync(path.join(FIX, 'osv/GO-2021-0113.json')),
          'GHSA-2.json': '{"id": "GHSA-2", "affected": [',
        }),
      );
      await assert.rejects(importUpdater(store, osvAll, path.join(bad, 'all.zip')), /osv-test: .*all\.zip!GHSA-2\.json: invalid JSON/);
      writeFileSync(path.join(bad, 'osv.json'), 'hello');
      await assert.rejects(importUpdater(store, osvAll, path.join(bad, 'osv.json')), /osv-test: .*not OSV JSON/);
      // A CSAF file that is JSON but not CSAF.
      writeFileSync(path.join(bad, 'vex.json'), '{"hello": "world"}');
      await assert.rejects(importUpdater(store, redhat, path.join(bad, 'vex.json')), /redhat-csaf: .*not a CSAF document/);
      // Upstream errors: HTTP 500, then a body cut short.
      origin.routes.set('/broken/data/json', { body: Buffer.alloc(0), status: 500 });
      await assert.rejects(
        runUpdater(store, debian, { baseUrl: `${origin.url}/broken` }),
        /debian-tracker: GET http:\/\/127\.0\.0\.1:\d+\/broken\/data\/json: HTTP 500/,
      );
      origin.routes.set('/cut/data/json', { body: Buffer.from(tracker.slice(0, 300)) });
      await assert.rejects(runUpdater(store, debian, { baseUrl: `${origin.url}/cut` }), /debian-tracker: .*unexpected end/);
      // Nothing changed.
      assert.deepEqual(await store.updaterStatus(), before);
      assert.equal((await store.counts()).advisories, counts);
      const recs = await collect(store.records('debian-tracker'));
      assert.equal(recs.length, 11);
      // No temp files left behind.
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.startsWith('berth-')),
        [],
      );
    });
  });
}
