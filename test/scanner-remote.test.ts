// Berth pointed at an external Clair-compatible scanner: `berth scanner serve` as a child process
// (its own database, data loaded with `berth scanner update` from a local server), Berth with
// SECURITY_SCANNER_V4_ENDPOINT + PSK: the scanner fetches the layers over HTTP from Berth's /v2 URLs
// and the Quay security endpoint shows its findings. With accounts on and a private repository, each
// layer entry carries a short-lived pull token for that one repository (as Quay does), which the
// standalone indexer sends when it fetches the layer; without it, or with an expired token or one
// for another repository, the registry refuses the same URL.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import tarStream from 'tar-stream';
import yazl from 'yazl';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import { createBerth, type Berth } from '../src/server.ts';
import { BERTH_BIN, freePort, startServer, type TestServer } from './helpers/server.ts';
import { run } from './helpers/exec.ts';
import { pushBlob, putManifest } from './helpers/registry-client.ts';
import { api, host } from './helpers/accounts.ts';
import { buildImage, writeOciLayout } from './helpers/images.ts';
import { RegistryTokenService, SCANNER_LAYER_TOKEN_SECONDS } from '../src/services/accounts/tokens.ts';

const FIX = path.resolve(import.meta.dirname, 'fixtures/scanner-data');
const PSK = Buffer.from('remote-scanner-psk-0123456789abcdef').toString('base64');

async function layer(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  for (const [name, data] of Object.entries(files)) await new Promise<void>((r, j) => pack.entry({ name }, data, (e) => (e ? j(e) : r())));
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(out));
}

/** Vulnerability data served locally, loaded with `berth scanner update`, then `berth scanner serve` as a child process. */
async function startStandaloneScanner(dir: string): Promise<{ url: string; child: ChildProcess; origin: http.Server; output(): string }> {
  const z = new yazl.ZipFile();
  z.addBuffer(readFileSync(path.join(FIX, 'osv/PYSEC-2024-24.json')), 'PYSEC-2024-24.json');
  z.end();
  const zip = await new Promise<Buffer>((r) => {
    const p: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => p.push(c));
    z.outputStream.on('end', () => r(Buffer.concat(p)));
  });
  const origin = http.createServer((req, res) =>
    req.url === '/osv/PyPI/all.zip' ? res.writeHead(200).end(zip) : res.writeHead(404).end(),
  );
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const scannerPort = await freePort();
  const scannerCfg = path.join(dir, 'scanner.yaml');
  writeFileSync(
    scannerCfg,
    stringifyYaml({
      SECURITY_SCANNER_V4_PSK: PSK,
      SCANNER_UPDATERS: ['osv-pypi'],
      SCANNER_UPDATER_BASE_URLS: { 'osv-pypi': `${originUrl}/osv` },
    }),
  );
  const upd = await run(process.execPath, [BERTH_BIN, 'scanner', 'update', '--config', scannerCfg, '--data', path.join(dir, 'scanner')]);
  assert.equal(upd.code, 0, upd.stderr);
  assert.match(upd.stdout, /osv-pypi: 1 records \(1 added/);
  const st = await run(process.execPath, [BERTH_BIN, 'scanner', 'status', '--config', scannerCfg, '--data', path.join(dir, 'scanner')]);
  assert.match(st.stdout, /osv-pypi: 1 records/);
  const child = spawn(
    process.execPath,
    [BERTH_BIN, 'scanner', 'serve', '--config', scannerCfg, '--data', path.join(dir, 'scanner'), '--listen', `127.0.0.1:${scannerPort}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 200 && !/listening/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /Berth scanner listening/);
  return { url: `http://127.0.0.1:${scannerPort}`, child, origin, output: () => out };
}

describe('external scanner (berth scanner serve)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-remote-'));
  let sc: Awaited<ReturnType<typeof startStandaloneScanner>>;
  let berth: Berth;
  let url: string;

  before(async () => {
    sc = await startStandaloneScanner(dir);
    const scannerPort = new URL(sc.url).port;
    const port = await freePort();
    const cfg = path.join(dir, 'berth.yaml');
    writeFileSync(
      cfg,
      stringifyYaml({
        AUTHENTICATION_TYPE: 'None',
        SERVER_HOSTNAME: `127.0.0.1:${port}`,
        SECURITY_SCANNER_V4_ENDPOINT: `http://127.0.0.1:${scannerPort}`,
        SECURITY_SCANNER_V4_PSK: PSK,
      }),
    );
    berth = await createBerth(loadConfig({ file: cfg, data: path.join(dir, 'berth'), listen: `127.0.0.1:${port}`, env: {} }));
    url = await berth.listen();
  });

  after(async () => {
    await berth?.close();
    sc?.child.kill('SIGTERM');
    if (sc) await new Promise((r) => sc.origin.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test("pushed images are indexed by the external scanner (layers fetched over HTTP) and reported in Quay's shape", async () => {
    const repo = 'acme/py';
    const cfg = await pushBlob(url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    const l = await pushBlob(
      url,
      repo,
      await layer({ 'usr/lib/python3/site-packages/aiohttp-3.9.1.dist-info/METADATA': 'Name: aiohttp\nVersion: 3.9.1\n' }),
    );
    const e = await pushBlob(url, repo, await layer({ 'srv/readme.txt': 'nothing here\n' }));
    const manifest = (layers: (typeof l)[]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
          layers: layers.map((x) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: x.digest, size: x.size })),
        }),
      );
    const r1 = await putManifest(url, repo, 'v1', manifest([l]));
    const r2 = await putManifest(url, repo, 'empty', manifest([e]));
    const poll = async (digest: string) => {
      for (let i = 0; i < 300; i++) {
        const s = (await (await fetch(`${url}/api/v1/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`)).json()) as {
          status: string;
          detail?: string;
          data: any;
        };
        if (s.status !== 'queued') return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`still queued; scanner output: ${sc.output()}`);
    };
    const s1 = await poll(r1.headers.get('docker-content-digest')!);
    assert.equal(s1.status, 'scanned', JSON.stringify(s1) + sc.output());
    const f = s1.data.Layer.Features.find((x: { Name: string }) => x.Name === 'aiohttp');
    assert.deepEqual(
      f.Vulnerabilities.map((v: { Name: string }) => v.Name),
      ['PYSEC-2024-24'],
    );
    const s2 = await poll(r2.headers.get('docker-content-digest')!);
    assert.equal(s2.status, 'unsupported');
  });

  test('the standalone scanner serves its own Prometheus metrics at /metrics, outside the PSK auth of its API', async () => {
    assert.equal((await fetch(`${sc.url}/indexer/api/v1/index_state`)).status, 401, 'the API still needs the PSK');
    const r = await fetch(`${sc.url}/metrics`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const value = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    assert.equal(value('berth_scanner_data_updaters'), 1, 'osv-pypi has data');
    assert.match(text, /^berth_scanner_data_age_seconds\{updater="osv-pypi"\} \d+$/m);
    assert.match(text, /^berth_scanner_vulnerabilities\{severity="High"\} \d+$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(text, /quay_registry_image_pulls_total/, 'no registry series from a scanner process');
  });
});

describe("external scanner with accounts: a private repository's layers are fetched with a pull token for that repository", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-remote-private-'));
  const ADMIN: [string, string] = ['admin', 'admin-password-1'];
  let sc: Awaited<ReturnType<typeof startStandaloneScanner>>;
  let s: TestServer;

  before(async () => {
    sc = await startStandaloneScanner(dir);
    s = await startServer(
      'sqlite',
      {},
      {
        auth: true,
        config: {
          BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
          SECURITY_SCANNER_V4_ENDPOINT: sc.url,
          SECURITY_SCANNER_V4_PSK: PSK,
        },
      },
    );
    assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    for (const repository of ['private', 'other']) {
      assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository, visibility: 'private' })).status, 201);
    }
  });

  after(async () => {
    await s?.stop();
    sc?.child.kill('SIGTERM');
    if (sc) await new Promise((r) => sc.origin.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('pushed with skopeo, indexed by `berth scanner serve` over HTTP, reported; the layer URL needs that token', async () => {
    const image = await buildImage({
      format: 'oci',
      layers: [{ 'usr/lib/python3/site-packages/aiohttp-3.9.1.dist-info/METADATA': 'Name: aiohttp\nVersion: 3.9.1\n' }],
    });
    const layout = path.join(dir, 'layout');
    writeOciLayout(layout, { v1: image });
    const push = await run('skopeo', [
      'copy',
      '--dest-creds',
      ADMIN.join(':'),
      '--dest-tls-verify=false',
      `oci:${layout}:v1`,
      `docker://${host(s)}/acme/private:v1`,
    ]);
    assert.equal(push.code, 0, push.stderr);
    const digest = image.descriptor.digest;
    const layerUrl = `${s.url}/v2/acme/private/blobs/${image.layers[0].descriptor.digest}`;

    // The scanner has no account: anonymous reads of this private repository are refused.
    const anonymous = await fetch(layerUrl);
    assert.equal(anonymous.status, 401);

    let report: { status: string; detail?: string; data: any } | undefined;
    for (let i = 0; i < 300; i++) {
      const r = await api(s, 'GET', `/repository/acme/private/manifest/${digest}/security?vulnerabilities=true`, ADMIN);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      report = r.json;
      if (report!.status !== 'queued') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(report!.status, 'scanned', JSON.stringify(report) + sc.output());
    const f = report!.data.Layer.Features.find((x: { Name: string }) => x.Name === 'aiohttp');
    assert.deepEqual(
      f.Vulnerabilities.map((v: { Name: string }) => v.Name),
      ['PYSEC-2024-24'],
    );
    assert.equal(f.AddedBy, image.layers[0].descriptor.digest);

    // The headers Berth puts on each layer entry: a registry token with pull on this repository only, short-lived.
    const headers = await s.berth.accounts.tokens.layerPullHeaders('acme/private');
    const bearer = headers.Authorization[0];
    const claims = JSON.parse(Buffer.from(bearer.split('.')[1], 'base64url').toString()) as { access: unknown; exp: number; iat: number };
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'acme/private', actions: ['pull'] }]);
    assert.equal(claims.exp - claims.iat, SCANNER_LAYER_TOKEN_SECONDS);
    const withToken = await fetch(layerUrl, { headers: { authorization: bearer } });
    assert.equal(withToken.status, 200);
    assert.equal(Buffer.from(await withToken.arrayBuffer()).equals(image.layers[0].blob), true);
    // No write with it, and nothing in another private repository.
    const upload = await fetch(`${s.url}/v2/acme/private/blobs/uploads/`, { method: 'POST', headers: { authorization: bearer } });
    assert.equal(upload.status, 403);
    const other = (await s.berth.accounts.tokens.layerPullHeaders('acme/other')).Authorization[0];
    const wrongRepo = await fetch(layerUrl, { headers: { authorization: other } });
    assert.equal(wrongRepo.status, 403);
    // The same token issued an hour ago has expired.
    const past = new RegistryTokenService({ ...s.berth.accounts.ctx, now: () => Date.now() - 3600_000 });
    const expired = (await past.layerPullHeaders('acme/private')).Authorization[0];
    const late = await fetch(layerUrl, { headers: { authorization: expired } });
    assert.equal(late.status, 401);
    assert.match(await late.text(), /expired/);
  });
});
