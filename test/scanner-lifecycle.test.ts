// The scanner across a manifest's life, on SQLite and PostgreSQL: the security endpoint for nested
// repository names; deleting a manifest (registry DELETE, API tag delete + gc, repository delete,
// `berth gc`) removes its scan state, report, vulnerability set and layer list, and per-layer
// results no manifest uses any more (a layer shared with a kept image stays); ten push/delete
// cycles leave every scanner table as it was; a data update that makes an indexed image no longer
// affected is notified as "removed" (Clair's shape, signed webhook).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startServer, BERTH_BIN, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { run } from './helpers/exec.ts';
import { buildImage, type BuiltImage } from './helpers/images.ts';
import { zipOf } from './helpers/zip.ts';
import { collectGarbage } from '../src/services/gc.ts';
import { signPskToken } from '../src/scanner/clair-api/auth.ts';

const FIX = path.resolve(import.meta.dirname, 'fixtures/scanner-data');
const PSK = Buffer.from('lifecycle-test-pre-shared-key-0123').toString('base64');
const WEBHOOK_SECRET = 'lifecycle-webhook-secret-0123456789';
const AIOHTTP = {
  'usr/lib/python3/site-packages/aiohttp-3.9.1.dist-info/METADATA': 'Metadata-Version: 2.1\nName: aiohttp\nVersion: 3.9.1\n',
};
const TABLES = ['scan_job', 'scan_report', 'scan_vulnset', 'scan_manifest_layer', 'scan_layer'] as const;

/** PYSEC-2024-24 as published (3.9.1 affected), or corrected so that 3.9.1 is the fix. */
function pysec(fixedAt391: boolean): Buffer {
  const doc = JSON.parse(readFileSync(path.join(FIX, 'osv/PYSEC-2024-24.json'), 'utf8'));
  if (fixedAt391) {
    doc.modified = '2024-03-01T00:00:00Z';
    for (const a of doc.affected) {
      for (const r of a.ranges) for (const e of r.events) if (e.fixed === '3.9.2') e.fixed = '3.9.1';
      a.versions = a.versions.filter((v: string) => v !== '3.9.1');
    }
  }
  return Buffer.from(JSON.stringify(doc));
}

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
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

async function push(url: string, repo: string, tag: string, image: BuiltImage): Promise<void> {
  for (const [digest, blob] of image.blobs) {
    const r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: new Uint8Array(blob),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(r.status, 201, await r.text());
  }
  const r = await fetch(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: new Uint8Array(image.manifest),
    headers: { 'content-type': image.mediaType },
  });
  assert.equal(r.status, 201, await r.text());
}

type Security = {
  status: string;
  detail?: string;
  data: { Layer: { Features: Array<{ Name: string; Vulnerabilities: Array<{ Name: string }> }> } } | null;
};

async function security(url: string, repo: string, digest: string): Promise<{ status: number; body: Security }> {
  const r = await fetch(`${url}/api/v1/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`);
  return { status: r.status, body: (await r.json()) as Security };
}

async function waitScanned(url: string, repo: string, digest: string): Promise<Security> {
  for (let i = 0; i < 600; i++) {
    const r = await security(url, repo, digest);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (r.body.status !== 'queued') return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${repo}@${digest} still queued`);
}

for (const dialect of await testDialects()) {
  describe(`scanner lifecycle (${dialect})`, () => {
    let s: TestServer;
    let origin: Awaited<ReturnType<typeof listen>>;
    let hook: Awaited<ReturnType<typeof listen>>;
    let osvZip: Buffer;
    const got: Array<{ body: string; signature: string }> = [];

    /** Scanner rows that mention the manifest or one of its layers, per table. */
    const rowsFor = async (image: BuiltImage) => {
      const db = s.berth.ctx.db;
      const digest = image.descriptor.digest;
      const layers = image.layers.map((l) => l.descriptor.digest);
      return {
        scan_job: (await db.selectFrom('scan_job').select('manifest_digest').where('manifest_digest', '=', digest).execute()).length,
        scan_report: (await db.selectFrom('scan_report').select('manifest_digest').where('manifest_digest', '=', digest).execute()).length,
        scan_vulnset: (await db.selectFrom('scan_vulnset').select('manifest_digest').where('manifest_digest', '=', digest).execute())
          .length,
        scan_manifest_layer: (
          await db.selectFrom('scan_manifest_layer').select('layer_digest').where('manifest_digest', '=', digest).execute()
        ).length,
        scan_layer: (await db.selectFrom('scan_layer').select('layer_digest').where('layer_digest', 'in', layers).execute()).length,
      };
    };
    const counts = async () => {
      const out: Record<string, number> = {};
      for (const t of TABLES) {
        const r = await s.berth.ctx.db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        out[t] = Number(r.n);
      }
      return out;
    };
    const none = { scan_job: 0, scan_report: 0, scan_vulnset: 0, scan_manifest_layer: 0, scan_layer: 0 };

    before(async () => {
      osvZip = await zipOf({ 'PYSEC-2024-24.json': pysec(false) });
      origin = await listen((req, res) => (req.url === '/osv/PyPI/all.zip' ? res.writeHead(200).end(osvZip) : res.writeHead(404).end()));
      hook = await listen((req, res) => {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => {
          got.push({ body: Buffer.concat(parts).toString('utf8'), signature: String(req.headers['x-berth-signature'] ?? '') });
          res.writeHead(204).end();
        });
      });
      s = await startServer(
        dialect,
        {},
        {
          config: {
            SECURITY_SCANNER_V4_PSK: PSK,
            SCANNER_UPDATERS: ['osv-pypi'],
            SCANNER_UPDATER_BASE_URLS: { 'osv-pypi': `${origin.url}/osv` },
            SCANNER_NOTIFICATION_WEBHOOK: { url: `${hook.url}/hook`, secret: WEBHOOK_SECRET },
            GC_GRACE_SECONDS: 0,
            // No tag-history window: a deleted tag's manifest is collectable at once (the window is tested in tag-history.test.ts).
            DEFAULT_TAG_EXPIRATION: '0s',
          },
        },
      );
      await s.berth.scanner!.service.runUpdaters();
    });

    after(async () => {
      await s?.stop();
      await origin?.close();
      await hook?.close();
    });

    test('the security endpoint serves nested repository names (org/team/app, a/b/c/d) like two-segment ones', async () => {
      const image = await buildImage({ format: 'oci', layers: [AIOHTTP] });
      for (const repo of ['org/team/app', 'a/b/c/d', 'org/app']) {
        await push(s.url, repo, 'v1', image);
        const r = await waitScanned(s.url, repo, image.descriptor.digest);
        assert.equal(r.status, 'scanned', `${repo}: ${JSON.stringify(r)}`);
        const f = r.data!.Layer.Features.find((x) => x.Name === 'aiohttp')!;
        assert.deepEqual(
          f.Vulnerabilities.map((v) => v.Name),
          ['PYSEC-2024-24'],
          repo,
        );
      }
      const other = await buildImage({ format: 'oci', layers: [{ 'srv/other.txt': 'other\n' }] });
      await push(s.url, 'org/team/other', 'v1', other);
      const notHere = await security(s.url, 'org/team/app', other.descriptor.digest);
      assert.equal(notHere.status, 404);
      assert.match((notHere.body as unknown as { detail: string }).detail, /not in repository "org\/team\/app"/);
      const bad = await fetch(`${s.url}/api/v1/repository/org/team/app/manifest/not-a-digest/security`);
      assert.equal(bad.status, 400);
      const missing = await fetch(`${s.url}/api/v1/repository/org/team/nope/manifest/${image.descriptor.digest}/security`);
      assert.equal(missing.status, 404);
    });

    test("a deleted manifest's scanner rows go (registry DELETE, API tag delete + gc, repository delete); shared layers stay while used", async () => {
      // Two images sharing a base layer, each with a layer of its own.
      const base = { 'etc/os-release': 'ID=debian\nVERSION_ID=12\n', ...AIOHTTP };
      const one = await buildImage({ format: 'oci', layers: [base, { 'srv/one.txt': 'one\n' }] });
      const two = await buildImage({ format: 'oci', layers: [base, { 'srv/two.txt': 'two\n' }] });
      await push(s.url, 'acme/one', 'v1', one);
      await push(s.url, 'acme/two', 'v1', two);
      assert.equal((await waitScanned(s.url, 'acme/one', one.descriptor.digest)).status, 'scanned');
      assert.equal((await waitScanned(s.url, 'acme/two', two.descriptor.digest)).status, 'scanned');
      assert.deepEqual(await rowsFor(one), { scan_job: 1, scan_report: 1, scan_vulnset: 1, scan_manifest_layer: 2, scan_layer: 2 });

      // 1. Registry DELETE by digest.
      const del = await fetch(`${s.url}/v2/acme/one/manifests/${one.descriptor.digest}`, { method: 'DELETE' });
      assert.equal(del.status, 202);
      assert.deepEqual(await rowsFor(one), { ...none, scan_layer: 1 }, 'only the layer image two still uses stays');
      const shared = await s.berth.ctx.db
        .selectFrom('scan_layer')
        .select('layer_digest')
        .where('layer_digest', '=', one.layers[0].descriptor.digest)
        .execute();
      assert.equal(shared.length, 1, "the shared base layer's result is kept");
      assert.equal((await security(s.url, 'acme/two', two.descriptor.digest)).body.status, 'scanned', 'the other image is untouched');

      // 2. API tag delete leaves an untagged manifest; gc deletes it and the scanner rows with it.
      const untag = await fetch(`${s.url}/api/v1/repository/acme/two/tag/v1`, { method: 'DELETE' });
      assert.equal(untag.status, 204);
      assert.equal((await rowsFor(two)).scan_report, 1, 'a manifest that is still stored keeps its report');
      const gc = await collectGarbage(s.berth.ctx, { deleteUntagged: true, graceSeconds: 0 });
      assert.equal(gc.manifestsRemoved, 1);
      assert.deepEqual(await rowsFor(two), none);
      assert.deepEqual(await rowsFor(one), none, 'the shared layer went with its last user');

      // 3. Repository delete (API).
      const three = await buildImage({ format: 'oci', layers: [{ ...AIOHTTP, 'srv/three.txt': 'three\n' }] });
      await push(s.url, 'acme/three', 'v1', three);
      assert.equal((await waitScanned(s.url, 'acme/three', three.descriptor.digest)).status, 'scanned');
      assert.equal((await fetch(`${s.url}/api/v1/repository/acme/three`, { method: 'DELETE' })).status, 204);
      assert.deepEqual(await rowsFor(three), none);

      // 4. The same digest in two repositories: deleting one copy keeps the scan, deleting both drops it.
      const four = await buildImage({ format: 'oci', layers: [{ ...AIOHTTP, 'srv/four.txt': 'four\n' }] });
      await push(s.url, 'acme/four-a', 'v1', four);
      await push(s.url, 'acme/four-b', 'v1', four);
      assert.equal((await waitScanned(s.url, 'acme/four-a', four.descriptor.digest)).status, 'scanned');
      assert.equal((await fetch(`${s.url}/v2/acme/four-a/manifests/${four.descriptor.digest}`, { method: 'DELETE' })).status, 202);
      assert.equal((await security(s.url, 'acme/four-b', four.descriptor.digest)).body.status, 'scanned');
      assert.equal((await rowsFor(four)).scan_report, 1);
      assert.equal((await fetch(`${s.url}/v2/acme/four-b/manifests/${four.descriptor.digest}`, { method: 'DELETE' })).status, 202);
      assert.deepEqual(await rowsFor(four), none);
    });

    test('`berth gc --delete-untagged` removes the scan data of the manifests it deletes', async () => {
      const image = await buildImage({ format: 'oci', layers: [{ ...AIOHTTP, 'srv/gc-cli.txt': 'cli\n' }] });
      await push(s.url, 'acme/cli', 'v1', image);
      assert.equal((await waitScanned(s.url, 'acme/cli', image.descriptor.digest)).status, 'scanned');
      assert.equal((await fetch(`${s.url}/v2/acme/cli/manifests/v1`, { method: 'DELETE' })).status, 202);
      assert.equal((await rowsFor(image)).scan_report, 1, 'deleting a tag keeps the (now untagged) manifest');
      const r = await run(
        process.execPath,
        [BERTH_BIN, 'gc', '--delete-untagged', '--grace', '0', '--config', path.join(s.dataDir, 'config.yaml'), '--data', s.dataDir],
        { env: { ...process.env, ...(s.dbUri ? { DB_URI: s.dbUri } : {}) } },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /1 untagged manifests/);
      assert.match(r.stdout, /gc: scanner: removed the scan data of 1 deleted manifests and 1 unused layer results/);
      assert.deepEqual(await rowsFor(image), none);
    });

    test('ten push / index / delete / gc cycles leave the scanner tables as they were', async () => {
      const start = await counts();
      const after: Array<Record<string, number>> = [];
      for (let i = 0; i < 10; i++) {
        const image = await buildImage({ format: 'oci', layers: [AIOHTTP, { [`srv/cycle-${i}.txt`]: `cycle ${i}\n` }] });
        await push(s.url, 'acme/cycle', 'latest', image);
        assert.equal((await waitScanned(s.url, 'acme/cycle', image.descriptor.digest)).status, 'scanned');
        const during = await counts();
        assert.ok(during.scan_report > start.scan_report && during.scan_layer > start.scan_layer, 'indexing added rows');
        assert.equal((await fetch(`${s.url}/v2/acme/cycle/manifests/${image.descriptor.digest}`, { method: 'DELETE' })).status, 202);
        await collectGarbage(s.berth.ctx, { deleteUntagged: true, graceSeconds: 0 });
        after.push(await counts());
      }
      for (const c of after) assert.deepEqual(c, start);
    });

    test('data that no longer affects an indexed image is notified as "removed" (Clair\'s shape, signed webhook)', async () => {
      const svc = s.berth.scanner!.service;
      const image = await buildImage({ format: 'oci', layers: [{ ...AIOHTTP, 'srv/notify.txt': 'notify\n' }] });
      await push(s.url, 'acme/notify', 'v1', image);
      const digest = image.descriptor.digest;
      const before = await waitScanned(s.url, 'acme/notify', digest);
      assert.deepEqual(
        before.data!.Layer.Features.find((f) => f.Name === 'aiohttp')!.Vulnerabilities.map((v) => v.Name),
        ['PYSEC-2024-24'],
      );
      got.length = 0;

      // Upstream corrects the advisory: 3.9.1 is the fix.
      osvZip = await zipOf({ 'PYSEC-2024-24.json': pysec(true) });
      const [r] = await svc.runUpdaters();
      assert.equal('updated' in r && r.updated, 1);
      const after = await security(s.url, 'acme/notify', digest);
      assert.deepEqual(after.body.data!.Layer.Features.find((f) => f.Name === 'aiohttp')!.Vulnerabilities, []);

      for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
      assert.equal(got.length, 1, 'one webhook call for the update');
      assert.equal(got[0].signature, `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(got[0].body).digest('hex')}`);
      const body = JSON.parse(got[0].body) as {
        notification_id: string;
        manifests: string[];
        added: number;
        removed: number;
        notifications: Array<{
          id: string;
          manifest: string;
          reason: string;
          vulnerability: { name: string; package: { name: string; version: string } };
        }>;
      };
      assert.ok(body.manifests.includes(digest));
      assert.equal(body.added, 0);
      const mine = body.notifications.filter((n) => n.manifest === digest);
      assert.deepEqual(
        mine.map((n) => [n.reason, n.vulnerability.name, n.vulnerability.package.name, n.vulnerability.package.version]),
        [['removed', 'PYSEC-2024-24', 'aiohttp', '3.9.1']],
      );
      // The notifier page (Clair's PagedNotifications) says the same.
      const page = await fetch(`${s.url}/notifier/api/v1/notification/${body.notification_id}`, {
        headers: { authorization: `Bearer ${await signPskToken(PSK)}` },
      });
      assert.equal(page.status, 200);
      const pj = (await page.json()) as { notifications: Array<{ manifest: string; reason: string }> };
      assert.ok(pj.notifications.some((n) => n.manifest === digest && n.reason === 'removed'));
      assert.ok(pj.notifications.every((n) => n.reason === 'removed'));

      // And back: the original data makes it affected again, an "added".
      got.length = 0;
      osvZip = await zipOf({ 'PYSEC-2024-24.json': pysec(false) });
      await svc.runUpdaters();
      for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((res) => setTimeout(res, 50));
      const again = JSON.parse(got[0].body) as { notifications: Array<{ manifest: string; reason: string }> };
      assert.deepEqual(
        again.notifications.filter((n) => n.manifest === digest).map((n) => n.reason),
        ['added'],
      );
    });
  });
}
