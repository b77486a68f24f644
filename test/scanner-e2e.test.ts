// The scanner end to end, on SQLite and PostgreSQL: real image layers (this machine's dpkg status
// and os-release, an apk database, a Python site-packages tree, Debian's docker-registry Go binary)
// pushed over /v2; vulnerability data loaded through the real updaters from a local HTTP server in
// the upstream formats; the Quay-shaped security endpoint must name exactly the advisories the
// served data says apply and none it says are fixed. Also: "unsupported" for an image with nothing
// recognisable, per-layer reuse, the durable queue (leases, retries, failure reasons), the Clair v4
// API with PSK JWTs (including fetching layers by URI), notifications with a signed webhook.
import { describe, test, before, after } from 'node:test';
import { readShared, sharedFixture, sharedSkip } from './helpers/shared.ts';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import tarStream from 'tar-stream';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { pushBlob, putManifest, type Pushed } from './helpers/registry-client.ts';
import { alpineSecdbUpdater, runUpdater } from '../src/scanner/updaters/index.ts';
import { signPskToken } from '../src/scanner/clair-api/auth.ts';
import { ScanQueue } from '../src/scanner/queue.ts';
import { zipOf } from './helpers/zip.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIX = path.join(ROOT, 'test/fixtures/scanner-data');
const GO_BIN = '/usr/bin/docker-registry';
const HAVE_GO_BIN = existsSync(GO_BIN);
const PSK = Buffer.from('berth-test-pre-shared-key-0123456789').toString('base64');
const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef';

// ---- layers -------------------------------------------------------------------------------------

type Entry = { name: string; data: Buffer | string; mode?: number };
async function layer(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, Buffer.from(e.data), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(out));
}

/** Installed packages of this machine's dpkg status without a Source field (source = itself). */
function machinePackages(): Array<{ name: string; version: string }> {
  const text = readFileSync('/var/lib/dpkg/status', 'utf8');
  const out: Array<{ name: string; version: string }> = [];
  for (const stanza of text.split(/\n\n+/)) {
    const f = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(stanza)?.[1];
    if (!/ok installed/.test(f('Status') ?? '') || f('Source')) continue;
    const name = f('Package');
    const version = f('Version');
    if (name && version) out.push({ name, version });
  }
  return out;
}

// ---- the upstream data server ---------------------------------------------------------------------

async function startOrigin(routes: Map<string, Buffer>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function startWebhook(): Promise<{ url: string; got: Array<{ body: string; signature: string }>; close(): Promise<void> }> {
  const got: Array<{ body: string; signature: string }> = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(parts).toString('utf8'), signature: String(req.headers['x-berth-signature'] ?? '') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function osvGo(id: string, cve: string, ranges: Array<Record<string, string>>): string {
  return JSON.stringify({
    schema_version: '1.3.1',
    id,
    modified: '2023-06-01T00:00:00Z',
    aliases: [cve],
    details: `${id} (stdlib)`,
    affected: [{ package: { name: 'stdlib', ecosystem: 'Go' }, ranges: [{ type: 'SEMVER', events: ranges }] }],
  });
}

// ---- pushing --------------------------------------------------------------------------------------

async function pushImage(
  url: string,
  repo: string,
  tag: string,
  layers: Buffer[],
  config: Record<string, unknown> = {},
): Promise<{ digest: string; layers: Pushed[] }> {
  const cfg = await pushBlob(
    url,
    repo,
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, ...config }),
  );
  const pushed: Pushed[] = [];
  for (const l of layers) pushed.push(await pushBlob(url, repo, l));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
      layers: pushed.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    }),
  );
  const r = await putManifest(url, repo, tag, manifest);
  assert.equal(r.status, 201, await r.clone().text());
  return { digest: r.headers.get('docker-content-digest')!, layers: pushed };
}

type Feature = {
  Name: string;
  Version: string;
  NamespaceName: string;
  AddedBy: string;
  Vulnerabilities: Array<{ Name: string; FixedBy: string; Severity: string; Metadata: { UpdatedBy: string } }>;
};

async function security(
  url: string,
  repo: string,
  digest: string,
): Promise<{ status: string; data: { Layer: { Features: Feature[] } } | null; detail?: string }> {
  const r = await fetch(`${url}/api/v1/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`);
  assert.equal(r.status, 200, await r.clone().text());
  return r.json() as never;
}

async function waitScanned(url: string, repo: string, digest: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await security(url, repo, digest);
    if (s.status !== 'queued') return s;
    if (Date.now() > deadline) throw new Error(`still queued after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function vulnsOf(s: Awaited<ReturnType<typeof security>>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const f of s.data?.Layer.Features ?? [])
    for (const v of f.Vulnerabilities) {
      if (!out.has(v.Name)) out.set(v.Name, new Set());
      out.get(v.Name)!.add(`${f.Name} ${f.Version}`);
    }
  return out;
}

// ---- the suite ------------------------------------------------------------------------------------

for (const dialect of await testDialects()) {
  describe(`scanner end to end (${dialect})`, () => {
    let s: TestServer;
    let origin: Awaited<ReturnType<typeof startOrigin>>;
    let hook: Awaited<ReturnType<typeof startWebhook>>;
    const routes = new Map<string, Buffer>();
    const pkgs = machinePackages();
    // Three source packages of this machine: one fixed in a later version (applies), one fixed in
    // an earlier version (does not), one open (applies).
    const [pA, pB, pC] = [pkgs[0], pkgs[1], pkgs[2]];
    const images: Record<string, string> = {};
    let debLayer: Pushed;

    before(async () => {
      assert.ok(pkgs.length >= 3, 'this machine has a dpkg status');
      const entry = (fixed: string | undefined, status: string) => ({
        description: 'test advisory',
        scope: 'local',
        releases: { bookworm: { status, repositories: { bookworm: '0' }, ...(fixed ? { fixed_version: fixed } : {}), urgency: 'high' } },
      });
      routes.set(
        '/debian/data/json',
        Buffer.from(
          JSON.stringify({
            [pA.name]: { 'CVE-2099-1001': entry(`${pA.version}+berth1`, 'resolved') },
            [pB.name]: { 'CVE-2099-1002': entry('0.0.1-1', 'resolved') },
            [pC.name]: { 'CVE-2099-1003': entry(undefined, 'open') },
          }),
        ),
      );
      const osv: Record<string, Buffer> = {};
      for (const f of readdirSync(path.join(FIX, 'osv'))) osv[f] = readFileSync(path.join(FIX, 'osv', f));
      routes.set('/osv/PyPI/all.zip', await zipOf({ 'PYSEC-2024-24.json': osv['PYSEC-2024-24.json'] }));
      routes.set(
        '/osv/Go/all.zip',
        await zipOf({
          // Real Go vulndb entries for the toolchain: 1840 is fixed in 1.19.10 (applies to 1.19.8), 1705 in 1.19.8 (does not).
          'GO-2023-1840.json': osvGo('GO-2023-1840', 'CVE-2023-29403', [
            { introduced: '0' },
            { fixed: '1.19.10' },
            { introduced: '1.20.0-0' },
            { fixed: '1.20.5' },
          ]),
          'GO-2023-1705.json': osvGo('GO-2023-1705', 'CVE-2023-24534', [
            { introduced: '0' },
            { fixed: '1.19.8' },
            { introduced: '1.20.0-0' },
            { fixed: '1.20.3' },
          ]),
        }),
      );
      routes.set('/alpine/v3.10/community.json', readShared(sharedFixture('claircore/alpine_testdata_fetch_v3.10_community.json')));
      origin = await startOrigin(routes);
      hook = await startWebhook();
      s = await startServer(
        dialect,
        {},
        {
          config: {
            SECURITY_SCANNER_V4_PSK: PSK,
            SCANNER_UPDATERS: ['debian-tracker', 'osv-pypi', 'osv-go'],
            SCANNER_UPDATER_BASE_URLS: {
              'debian-tracker': `${origin.url}/debian`,
              'osv-pypi': `${origin.url}/osv`,
              'osv-go': `${origin.url}/osv`,
            },
            SCANNER_NOTIFICATION_WEBHOOK: { url: hook.url, secret: WEBHOOK_SECRET },
          },
        },
      );
    });

    after(async () => {
      await s?.stop();
      await origin?.close();
      await hook?.close();
    });

    test('pushes are queued and indexed in the background; nothing recognisable is "unsupported"', async () => {
      const osRelease = readFileSync(existsSync('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release');
      const deb = await layer([
        { name: 'etc/os-release', data: osRelease },
        { name: 'var/lib/dpkg/status', data: readFileSync('/var/lib/dpkg/status') },
      ]);
      const py = await layer([
        {
          name: 'usr/lib/python3/dist-packages/aiohttp-3.9.1.dist-info/METADATA',
          data: 'Metadata-Version: 2.1\nName: aiohttp\nVersion: 3.9.1\n',
        },
        { name: 'usr/lib/python3/dist-packages/aiohttp-3.9.1.dist-info/RECORD', data: '' },
      ]);
      const alpine = await layer([
        { name: 'etc/os-release', data: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.10.9\nPRETTY_NAME="Alpine Linux v3.10"\n' },
        {
          name: 'lib/apk/db/installed',
          data: 'C:Q1abc=\nP:botan\nV:2.7.0-r0\nA:x86_64\no:botan\n\nC:Q1def=\nP:cfengine\nV:3.12.2-r0\nA:x86_64\no:cfengine\n\n',
        },
      ]);
      const empty = await layer([
        { name: 'srv/www/index.html', data: '<h1>hello</h1>\n' },
        { name: 'srv/www/app.js', data: 'console.log(1)\n' },
      ]);
      const r1 = await pushImage(s.url, 'acme/debian', 'v1', [deb]);
      debLayer = r1.layers[0];
      images.debian = r1.digest;
      images.python = (await pushImage(s.url, 'acme/python', 'v1', [deb, py])).digest;
      images.alpine = (await pushImage(s.url, 'acme/alpine', 'v1', [alpine])).digest;
      images.empty = (await pushImage(s.url, 'acme/static', 'v1', [empty])).digest;
      if (HAVE_GO_BIN) {
        const go = await layer([{ name: 'usr/bin/docker-registry', data: readFileSync(GO_BIN), mode: 0o755 }]);
        images.go = (await pushImage(s.url, 'acme/registry', 'v1', [go])).digest;
      }
      // No data loaded yet: images are scanned (no findings), the empty one is unsupported.
      const e = await waitScanned(s.url, 'acme/static', images.empty);
      assert.equal(e.status, 'unsupported', JSON.stringify(e));
      assert.equal(e.data, null);
      assert.match(e.detail ?? '', /no recognisable packages/);
      const d = await waitScanned(s.url, 'acme/debian', images.debian);
      assert.equal(d.status, 'scanned');
      // Matched against no data at all: the report says so instead of passing for "no known vulnerabilities".
      assert.match((d as { warning?: string }).warning ?? '', /no vulnerability data is loaded/);
      const installed = readFileSync('/var/lib/dpkg/status', 'utf8')
        .split(/\n\n+/)
        .filter((x) => /^Status: \S+ ok installed$/m.test(x)).length;
      assert.equal(d.data!.Layer.Features.length, installed, 'every installed package is a feature');
      for (const img of ['python', 'alpine', ...(HAVE_GO_BIN ? ['go'] : [])]) {
        const repo = { python: 'acme/python', alpine: 'acme/alpine', go: 'acme/registry' }[img]!;
        assert.equal((await waitScanned(s.url, repo, images[img])).status, 'scanned', img);
      }
      // The python image shares the Debian layer: it was read once and reused.
      const rows = await s.berth.ctx.db.selectFrom('scan_layer').select(['layer_digest']).execute();
      assert.equal(rows.filter((r) => r.layer_digest === debLayer.digest).length, 1);
      const jobs = await s.berth.scanner!.service.counts();
      assert.deepEqual({ queued: jobs.queued, indexing: jobs.indexing, failed: jobs.failed }, { queued: 0, indexing: 0, failed: 0 });
      assert.equal(jobs.unsupported, 1);
    });

    test('data through the real updaters: exactly the advisories that apply; a signed webhook for the new findings', {
      skip: sharedSkip,
    }, async () => {
      const svc = s.berth.scanner!.service;
      await runUpdater(svc.advisories, alpineSecdbUpdater({ releases: ['v3.10'], repos: ['community'] }), {
        baseUrl: `${origin.url}/alpine`,
      });
      const results = await svc.runUpdaters();
      assert.deepEqual(
        results.map((r) => r.unchanged),
        [false, false, false],
      );

      const deb = vulnsOf(await security(s.url, 'acme/debian', images.debian));
      assert.deepEqual([...deb.keys()].sort(), ['CVE-2099-1001', 'CVE-2099-1003']);
      assert.deepEqual([...deb.get('CVE-2099-1001')!], [`${pA.name} ${pA.version}`]);
      assert.deepEqual([...deb.get('CVE-2099-1003')!], [`${pC.name} ${pC.version}`]);
      const full = await security(s.url, 'acme/debian', images.debian);
      assert.equal((full as { warning?: string }).warning, undefined, 'with data loaded the warning is gone');
      const fa = full.data!.Layer.Features.find((f) => f.Name === pA.name)!;
      assert.equal(fa.Vulnerabilities[0].FixedBy, `${pA.version}+berth1`);
      assert.equal(fa.Vulnerabilities[0].Metadata.UpdatedBy, 'debian-tracker');
      assert.equal(fa.NamespaceName, 'debian:12');
      assert.equal(fa.AddedBy, debLayer.digest);

      const py = vulnsOf(await security(s.url, 'acme/python', images.python));
      assert.deepEqual([...py.keys()].sort(), ['CVE-2099-1001', 'CVE-2099-1003', 'PYSEC-2024-24']);
      assert.deepEqual([...py.get('PYSEC-2024-24')!], ['aiohttp 3.9.1']);

      const al = vulnsOf(await security(s.url, 'acme/alpine', images.alpine));
      // botan 2.7.0-r0: fixed in 2.9.0-r0 applies; 2.7.0-r0, 2.6.0-r0, 2.5.0-r0 fixes do not. cfengine 3.12.2-r0 is the fixed version.
      assert.deepEqual([...al.keys()].sort(), ['CVE-2018-20187']);

      if (HAVE_GO_BIN) {
        const go = vulnsOf(await security(s.url, 'acme/registry', images.go));
        assert.deepEqual([...go.keys()].sort(), ['GO-2023-1840']);
        assert.deepEqual([...go.get('GO-2023-1840')!], ['stdlib 1.19.8']);
      }
      const empty = await security(s.url, 'acme/static', images.empty);
      assert.equal(empty.status, 'unsupported', 'still unsupported, never "no vulnerabilities"');

      // Notifications: the new findings of the re-match, delivered signed.
      const deadline = Date.now() + 10_000;
      while (hook.got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(hook.got.length >= 1, 'webhook called');
      for (const h of hook.got) assert.equal(h.signature, `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(h.body).digest('hex')}`);
      const all = hook.got.map((h) => JSON.parse(h.body) as { notification_id: string; callback: string; manifests: string[] });
      const manifests = new Set(all.flatMap((a) => a.manifests));
      assert.ok(manifests.has(images.debian) && manifests.has(images.python) && manifests.has(images.alpine));
      assert.ok(!manifests.has(images.empty));
      // The notifier page (Clair's shape) behind the PSK.
      const token = await signPskToken(PSK);
      const id = all[all.length - 1].notification_id;
      const page = await fetch(`${s.url}/notifier/api/v1/notification/${id}?page_size=2`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(page.status, 200);
      const pj = (await page.json()) as {
        page: { size: number; next: string };
        notifications: Array<{ manifest: string; reason: string; vulnerability: { name: string } }>;
      };
      assert.equal(pj.page.size, 2);
      assert.notEqual(pj.page.next, '-1');
      assert.equal(pj.notifications[0].reason, 'added');
      // Importing the same data again is no news: no new notification.
      const before = hook.got.length;
      const again = await svc.runUpdaters();
      assert.ok(again.every((r) => r.unchanged || (r.added === 0 && r.updated === 0 && r.withdrawn === 0)));
      // runUpdaters returns after the re-match has recorded and delivered any notification: nothing to wait for.
      assert.equal(hook.got.length, before);
      // Metrics hooks: counts by severity.
      const counts = await svc.vulnerabilityCounts();
      assert.ok(counts.High >= 1, JSON.stringify(counts));
    });

    test('Clair v4 API: PSK JWT required; index and vulnerability reports; index_report by layer URI', async () => {
      const token = await signPskToken(PSK);
      const auth = { authorization: `Bearer ${token}` };
      assert.equal((await fetch(`${s.url}/indexer/api/v1/index_state`)).status, 401);
      const wrong = await signPskToken(Buffer.from('another-key-another-key-another').toString('base64'));
      assert.equal((await fetch(`${s.url}/indexer/api/v1/index_state`, { headers: { authorization: `Bearer ${wrong}` } })).status, 401);
      const st = await fetch(`${s.url}/indexer/api/v1/index_state`, { headers: auth });
      assert.equal(st.status, 200);
      assert.match(((await st.json()) as { state: string }).state, /^berth-/);
      const ir = (await (await fetch(`${s.url}/indexer/api/v1/index_report/${images.debian}`, { headers: auth })).json()) as Record<
        string,
        any
      >;
      assert.equal(ir.manifest_hash, images.debian);
      assert.equal(ir.state, 'IndexFinished');
      assert.equal(ir.success, true);
      assert.equal(Object.values(ir.distributions as Record<string, { did: string; version_id: string }>)[0].did, 'debian');
      const vr = (await (await fetch(`${s.url}/matcher/api/v1/vulnerability_report/${images.debian}`, { headers: auth })).json()) as Record<
        string,
        any
      >;
      for (const k of [
        'manifest_hash',
        'packages',
        'distributions',
        'environments',
        'vulnerabilities',
        'package_vulnerabilities',
        'enrichments',
      ])
        assert.ok(k in vr, k);
      assert.deepEqual([...new Set(Object.values(vr.vulnerabilities as Record<string, { name: string }>).map((v) => v.name))].sort(), [
        'CVE-2099-1001',
        'CVE-2099-1003',
      ]);
      assert.equal((await fetch(`${s.url}/matcher/api/v1/vulnerability_report/sha256:${'0'.repeat(64)}`, { headers: auth })).status, 404);

      // As Quay does: a manifest whose layers the scanner fetches by URI (here from another server).
      const lay = await layer([
        { name: 'usr/lib/python3/site-packages/aiohttp-3.8.0.dist-info/METADATA', data: 'Name: aiohttp\nVersion: 3.8.0\n' },
      ]);
      const layDigest = `sha256:${createHash('sha256').update(lay).digest('hex')}`;
      routes.set('/blobs/x', lay);
      const manifestHash = `sha256:${'a'.repeat(64)}`;
      const post = await fetch(`${s.url}/indexer/api/v1/index_report`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          hash: manifestHash,
          layers: [{ hash: layDigest, uri: `${origin.url}/blobs/x`, headers: { 'X-Test': ['1'] } }],
        }),
      });
      assert.equal(post.status, 201, await post.clone().text());
      const pr = (await post.json()) as Record<string, any>;
      assert.deepEqual(
        Object.values(pr.packages as Record<string, { name: string; version: string }>).map((p) => `${p.name} ${p.version}`),
        ['aiohttp 3.8.0'],
      );
      const pv = (await (await fetch(`${s.url}/matcher/api/v1/vulnerability_report/${manifestHash}`, { headers: auth })).json()) as Record<
        string,
        any
      >;
      assert.deepEqual(
        Object.values(pv.vulnerabilities as Record<string, { name: string }>).map((v) => v.name),
        ['PYSEC-2024-24'],
      );
      assert.equal((await fetch(`${s.url}/indexer/api/v1/index_report/${manifestHash}`, { method: 'DELETE', headers: auth })).status, 204);
      assert.equal((await fetch(`${s.url}/indexer/api/v1/index_report/${manifestHash}`, { headers: auth })).status, 404);
      // A bad layer URI is the caller's problem (400), with the reason.
      const bad = await fetch(`${s.url}/indexer/api/v1/index_report`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ hash: manifestHash, layers: [{ hash: `sha256:${'b'.repeat(64)}`, uri: `${origin.url}/missing` }] }),
      });
      assert.equal(bad.status, 400, await bad.clone().text());
    });

    test("the queue: a crashed worker's lease expires and the job is retried; bounded retries keep the reason", async () => {
      // The server's own worker shares this queue with the real clock: a clock ten years ahead keeps the job out of its reach.
      let now = Date.now() + 10 * 365 * 86_400_000;
      const q = new ScanQueue(s.berth.ctx.db, { maxAttempts: 2, leaseMs: 1000, backoffMs: () => 500, now: () => now });
      const d = `sha256:${'c'.repeat(64)}`;
      assert.equal(await q.enqueue(d, 'acme/x'), true);
      assert.equal(await q.enqueue(d, 'acme/x'), false, 'idempotent');
      const a = await q.claim('w1');
      assert.equal(a?.attempts, 1);
      assert.equal(await q.claim('w2'), undefined, 'held by w1');
      now += 1001; // w1 died: its lease ran out
      const b = await q.claim('w2');
      assert.equal(b?.attempts, 2);
      assert.match(b?.lastError ?? '', /lease expired/);
      assert.equal(await q.finish(d, 'w1', 'indexed'), false, 'the old holder cannot finish it');
      assert.equal(await q.fail(d, 'w2', 'layer sha256:x: HTTP 500'), 'failed', 'attempts used up');
      const j = await q.get(d);
      assert.equal(j?.state, 'failed');
      assert.equal(j?.lastError, 'layer sha256:x: HTTP 500');
      assert.equal(await q.enqueue(d, 'acme/x', { force: true }), true, 'a scan on request re-queues it');
      const c = await q.claim('w3');
      assert.equal(await q.fail(d, 'w3', 'temporary'), 'queued');
      assert.equal(await q.claim('w3'), undefined, 'backoff');
      now += 501;
      assert.equal((await q.claim('w3'))?.digest, d);
      void c;
      await q.remove(d);
    });

    test('a failing manifest ends "failed" with its reason; the security endpoint needs a repository the caller may read', async () => {
      // A layer that is not a tar: a permanent failure, reported with the reason.
      const r = await pushImage(s.url, 'acme/broken', 'v1', [gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40)))]);
      const st = await waitScanned(s.url, 'acme/broken', r.digest);
      assert.equal(st.status, 'failed');
      assert.match(st.detail ?? '', /layer 0/);
      const missing = await fetch(`${s.url}/api/v1/repository/acme/nope/manifest/${r.digest}/security`);
      assert.equal(missing.status, 404);
      const other = await fetch(`${s.url}/api/v1/repository/acme/debian/manifest/${r.digest}/security`);
      assert.equal(other.status, 404, 'the manifest must be in that repository');
    });
  });
}
