// Berth pointed at an external Clair-compatible scanner: `berth scanner serve` as a child process
// (its own database, data loaded with `berth scanner update` from a local server), Berth with
// SECURITY_SCANNER_V4_ENDPOINT + PSK: the scanner fetches the layers over HTTP from Berth's /v2 URLs
// and the Quay security endpoint shows its findings.
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
import { BERTH_BIN, freePort } from './helpers/server.ts';
import { run } from './helpers/exec.ts';
import { pushBlob, putManifest } from './helpers/registry-client.ts';

const FIX = path.resolve(import.meta.dirname, 'fixtures/scanner-data');
const PSK = Buffer.from('remote-scanner-psk-0123456789abcdef').toString('base64');

async function layer(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => { for await (const c of pack as AsyncIterable<Buffer>) out.push(c); })();
  for (const [name, data] of Object.entries(files)) await new Promise<void>((r, j) => pack.entry({ name }, data, (e) => (e ? j(e) : r())));
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(out));
}

describe('external scanner (berth scanner serve)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-remote-'));
  let origin: http.Server;
  let child: ChildProcess;
  let berth: Berth;
  let url: string;
  let out = '';

  before(async () => {
    const z = new yazl.ZipFile();
    z.addBuffer(readFileSync(path.join(FIX, 'osv/PYSEC-2024-24.json')), 'PYSEC-2024-24.json');
    z.end();
    const zip = await new Promise<Buffer>((r) => { const p: Buffer[] = []; z.outputStream.on('data', (c: Buffer) => p.push(c)); z.outputStream.on('end', () => r(Buffer.concat(p))); });
    origin = http.createServer((req, res) => (req.url === '/osv/PyPI/all.zip' ? res.writeHead(200).end(zip) : res.writeHead(404).end()));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const scannerPort = await freePort();
    const scannerCfg = path.join(dir, 'scanner.yaml');
    writeFileSync(scannerCfg, stringifyYaml({
      SECURITY_SCANNER_V4_PSK: PSK, SCANNER_UPDATERS: ['osv-pypi'], SCANNER_UPDATER_BASE_URLS: { 'osv-pypi': `${originUrl}/osv` },
    }));
    const upd = await run(process.execPath, [BERTH_BIN, 'scanner', 'update', '--config', scannerCfg, '--data', path.join(dir, 'scanner')]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.match(upd.stdout, /osv-pypi: 1 records \(1 added/);
    const st = await run(process.execPath, [BERTH_BIN, 'scanner', 'status', '--config', scannerCfg, '--data', path.join(dir, 'scanner')]);
    assert.match(st.stdout, /osv-pypi: 1 records/);
    child = spawn(process.execPath, [BERTH_BIN, 'scanner', 'serve', '--config', scannerCfg, '--data', path.join(dir, 'scanner'), '--listen', `127.0.0.1:${scannerPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    for (let i = 0; i < 200 && !/listening/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /Berth scanner listening/);

    const port = await freePort();
    const cfg = path.join(dir, 'berth.yaml');
    writeFileSync(cfg, stringifyYaml({
      AUTHENTICATION_TYPE: 'None', SERVER_HOSTNAME: `127.0.0.1:${port}`,
      SECURITY_SCANNER_V4_ENDPOINT: `http://127.0.0.1:${scannerPort}`, SECURITY_SCANNER_V4_PSK: PSK,
    }));
    berth = await createBerth(loadConfig({ file: cfg, data: path.join(dir, 'berth'), listen: `127.0.0.1:${port}`, env: {} }));
    url = await berth.listen();
  });

  after(async () => {
    await berth?.close();
    child?.kill('SIGTERM');
    await new Promise((r) => origin.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('pushed images are indexed by the external scanner (layers fetched over HTTP) and reported in Quay\'s shape', async () => {
    const repo = 'acme/py';
    const cfg = await pushBlob(url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    const l = await pushBlob(url, repo, await layer({ 'usr/lib/python3/site-packages/aiohttp-3.9.1.dist-info/METADATA': 'Name: aiohttp\nVersion: 3.9.1\n' }));
    const e = await pushBlob(url, repo, await layer({ 'srv/readme.txt': 'nothing here\n' }));
    const manifest = (layers: typeof l[]) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: cfg.size },
      layers: layers.map((x) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: x.digest, size: x.size })),
    }));
    const r1 = await putManifest(url, repo, 'v1', manifest([l]));
    const r2 = await putManifest(url, repo, 'empty', manifest([e]));
    const poll = async (digest: string) => {
      for (let i = 0; i < 300; i++) {
        const s = await (await fetch(`${url}/api/v1/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`)).json() as { status: string; detail?: string; data: any };
        if (s.status !== 'queued') return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`still queued; scanner output: ${out}`);
    };
    const s1 = await poll(r1.headers.get('docker-content-digest')!);
    assert.equal(s1.status, 'scanned', JSON.stringify(s1) + out);
    const f = s1.data.Layer.Features.find((x: { Name: string }) => x.Name === 'aiohttp');
    assert.deepEqual(f.Vulnerabilities.map((v: { Name: string }) => v.Name), ['PYSEC-2024-24']);
    const s2 = await poll(r2.headers.get('docker-content-digest')!);
    assert.equal(s2.status, 'unsupported');
  });
});
