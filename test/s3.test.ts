// Berth on S3-compatible object storage (a real s3rver process): blob GETs redirect to presigned URLs that skopeo
// and podman follow (or stream through Berth with FEATURE_PROXY_STORAGE), HEAD answers from the database, a chunked
// upload moves between two Berth processes on one PostgreSQL database and one bucket, the scanner reads layers from
// the bucket, gc aborts expired uploads and removes unused blobs (one replica at a time), and a store that goes
// down gives 503 with an OCI error body and keeps nothing half-written; a bad store stops the start with the key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config/load.ts';
import { createBerth } from '../src/server.ts';
import { collectGarbageExclusive } from '../src/services/gc-lease.ts';
import type { S3BlobStore } from '../src/storage/s3-blobstore.ts';
import { startS3Server, type S3Server } from './helpers/s3rver.ts';
import { BERTH_BIN, startServer, freePort, type TestServer } from './helpers/server.ts';
import { postgresAvailable } from './helpers/databases.ts';
import { errorCode, imageManifest, pushBlob, putManifest, sha256 } from './helpers/registry-client.ts';
import { ContainerSandbox, which } from './helpers/exec.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { registryToken } from './helpers/accounts.ts';
import { DEBIAN_FINDINGS, debianLayer, importDebianAdvisories, pushLayers } from './helpers/scan-image.ts';

const MiB = 1024 * 1024;
const tmp = mkdtempSync(path.join(tmpdir(), 'berth-s3-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const storageOf = (s3: S3Server, prefix: string, driver: 'S3Storage' | 'RadosGWStorage' = 'S3Storage') => ({
  DISTRIBUTED_STORAGE_CONFIG: { default: [driver, s3.storageConfig(driver, prefix)] },
});

async function objectKeys(s3: S3Server, store: S3BlobStore, prefix: string): Promise<string[]> {
  const r = await store.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

describe('Berth on S3', () => {
  let s3: S3Server;
  let srv: TestServer;
  before(async () => {
    s3 = await startS3Server();
    srv = await startServer('sqlite', {}, { config: storageOf(s3, '/registry') });
  });
  after(async () => {
    await srv?.stop();
    await s3?.stop();
  });

  test('a blob GET is a 307 to a short-lived presigned URL that serves the bytes and ranges; HEAD answers from the database', async () => {
    const blob = await pushBlob(srv.url, 'site/app', randomBytes(200_000));
    const r = await fetch(`${srv.url}/v2/site/app/blobs/${blob.digest}`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('docker-content-digest'), blob.digest);
    const location = new URL(r.headers.get('location')!);
    assert.equal(location.origin, s3.endpoint, 'the client goes to the object store');
    assert.match(location.search, /X-Amz-Signature=/);
    assert.equal(location.searchParams.get('X-Amz-Expires'), '300', 'STORAGE_REDIRECT_SECONDS default');
    assert.deepEqual(Buffer.from(await (await fetch(location)).arrayBuffer()), blob.bytes);
    const part = await fetch(location, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), blob.bytes.subarray(100, 200));
    // A tampered URL is refused by the store.
    const forged = new URL(location);
    forged.pathname = forged.pathname.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    assert.equal((await fetch(forged)).status >= 400, true);
    // HEAD needs no storage at all: it answers while the store is down.
    await s3.kill();
    try {
      const h = await fetch(`${srv.url}/v2/site/app/blobs/${blob.digest}`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(blob.size));
      assert.equal(h.headers.get('docker-content-digest'), blob.digest);
    } finally {
      await s3.restart();
    }
  });

  const tools = { skopeo: !!which('skopeo'), podman: !!which('podman') };
  test('skopeo pushes an image to Berth on S3; skopeo and podman pull it back through the redirect', {
    skip: !tools.skopeo || !tools.podman ? 'needs skopeo and podman' : false,
  }, async () => {
    const sb = new ContainerSandbox('berth-s3-clients-');
    try {
      const host = new URL(srv.url).host;
      const layout = makeOciLayout('s3');
      await sb.skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${host}/s3/hello:v1`]);
      const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      const manifest = JSON.parse(readFileSync(path.join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8')) as {
        layers: { digest: string }[];
      };
      const layer = manifest.layers[0].digest;
      // The layer is in the bucket, and Berth redirects to it.
      assert.deepEqual(await srv.berth.ctx.store.stat(layer), {
        size: readFileSync(path.join(layout, 'blobs/sha256', layer.slice(7))).length,
      });
      assert.equal((await fetch(`${srv.url}/v2/s3/hello/blobs/${layer}`, { redirect: 'manual' })).status, 307);
      const out = sb.mkdir('pulled');
      await sb.skopeo(['copy', '--src-tls-verify=false', `docker://${host}/s3/hello:v1`, `oci:${out}:v1`]);
      assert.deepEqual(
        readFileSync(path.join(out, 'blobs/sha256', layer.slice(7))),
        readFileSync(path.join(layout, 'blobs/sha256', layer.slice(7))),
      );
      await sb.podman(['pull', '--tls-verify=false', `${host}/s3/hello:v1`]);
      const run = await sb.podman(['image', 'inspect', '--format', '{{.Digest}}', `${host}/s3/hello:v1`]);
      assert.equal(run.stdout.trim(), index.manifests[0].digest);
    } finally {
      await sb.cleanup();
    }
  });

  test("with accounts: skopeo pushes and pulls with credentials; a GET with credentials for the store's own host name is streamed (no second credential at the store)", {
    skip: !tools.skopeo ? 'needs skopeo' : false,
  }, async () => {
    const ADMIN: [string, string] = ['s3admin', 'correct horse battery'];
    const sb = new ContainerSandbox('berth-s3-auth-');
    // Two registries on one bucket: the store at 127.0.0.1 (the registry's own host name) and at localhost (another).
    const same = await startServer(
      'sqlite',
      {},
      { auth: true, config: { ...storageOf(s3, '/auth-same'), BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } },
    );
    const other = await startServer(
      'sqlite',
      {},
      {
        auth: true,
        config: {
          DISTRIBUTED_STORAGE_CONFIG: {
            default: ['S3Storage', { ...s3.storageConfig('S3Storage', '/auth-other'), host: 'http://localhost' }],
          },
          BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
        },
      },
    );
    try {
      for (const s of [same, other]) {
        const host = new URL(s.url).host;
        const layout = makeOciLayout('auth');
        const creds = `${ADMIN[0]}:${ADMIN[1]}`;
        await sb.skopeo([
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          creds,
          `oci:${layout}:latest`,
          `docker://${host}/s3admin/app:v1`,
        ]);
        const out = sb.mkdir('pulled');
        await sb.skopeo(['copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${host}/s3admin/app:v1`, `oci:${out}:v1`]);
        const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
        const manifest = JSON.parse(readFileSync(path.join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8')) as {
          layers: { digest: string }[];
        };
        const layer = manifest.layers[0].digest;
        assert.deepEqual(
          readFileSync(path.join(out, 'blobs/sha256', layer.slice(7))),
          readFileSync(path.join(layout, 'blobs/sha256', layer.slice(7))),
        );
        const { token } = await registryToken(s, ['repository:s3admin/app:pull'], ADMIN);
        const r = await fetch(`${s.url}/v2/s3admin/app/blobs/${layer}`, {
          redirect: 'manual',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(r.status, s === same ? 200 : 307, s === same ? 'streamed: the store shares the host name' : 'redirected to localhost');
      }
    } finally {
      await same.stop();
      await other.stop();
      await sb.cleanup();
    }
  });

  test('the scanner reads the layers of an image on S3', async () => {
    await importDebianAdvisories(srv.berth.ctx.db, srv.berth.ctx.dialect, 60);
    const digest = await pushLayers(srv.url, 'scan/on-s3', 'v1', [await debianLayer()]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const st = await srv.berth.scanner!.service.status(digest);
      if (st.state === 'indexed' || st.state === 'failed') {
        assert.equal(st.state, 'indexed');
        break;
      }
      assert.ok(Date.now() < deadline, `still ${st.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sec = (await (
      await fetch(`${srv.url}/api/v1/repository/scan/on-s3/manifest/${digest}/security?vulnerabilities=true`)
    ).json()) as { status: string; data: { Layer: { Features: Array<{ Vulnerabilities: Array<{ Severity: string }> }> } } };
    assert.equal(sec.status, 'scanned');
    const bySev: Record<string, number> = {};
    for (const f of sec.data.Layer.Features) for (const x of f.Vulnerabilities) bySev[x.Severity] = (bySev[x.Severity] ?? 0) + 1;
    assert.deepEqual(bySev, DEBIAN_FINDINGS);
  });

  test('the store goes down mid-push: 503 with an OCI error body, nothing half-written is visible; after it is back the push completes', async () => {
    const proxy = await startServer('sqlite', {}, { config: { ...storageOf(s3, '/down'), FEATURE_PROXY_STORAGE: true } });
    try {
      const u = proxy.url;
      const data = randomBytes(20 * MiB);
      const digest = sha256(data);
      const start = await fetch(`${u}/v2/down/app/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const loc = new URL(start.headers.get('location')!, u).toString();
      const first = await fetch(loc, {
        method: 'PATCH',
        body: data.subarray(0, 3 * MiB),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(first.status, 202);
      const next = new URL(first.headers.get('location')!, u).toString();
      // A chunk that is cut off by the store dying: 4 MiB arrive, the store is killed, the rest follows.
      let killed!: () => void;
      const storeDead = new Promise<void>((r) => (killed = r));
      const body = new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(data.subarray(3 * MiB, 7 * MiB));
          await s3.kill();
          killed();
          c.enqueue(data.subarray(7 * MiB, 15 * MiB));
          c.close();
        },
      });
      const cut = await fetch(next, {
        method: 'PATCH',
        body,
        duplex: 'half',
        headers: { 'content-type': 'application/octet-stream' },
      } as RequestInit);
      await storeDead;
      assert.equal(cut.status, 503);
      assert.match(cut.headers.get('content-type') ?? '', /^application\/json/);
      const err = (await cut.json()) as { errors: { code: string; message: string }[] };
      assert.equal(err.errors[0].code, 'UNAVAILABLE');
      assert.match(err.errors[0].message, /storage is unavailable/);
      assert.doesNotMatch(JSON.stringify(err), /S3RVER|secret/i, 'no credentials in the answer');
      // The upload still holds exactly the first chunk.
      const status = await fetch(next);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${3 * MiB - 1}`);
      // Other requests that need the store: 503 as well, and the monolithic push keeps nothing.
      const mono = await fetch(`${u}/v2/down/app/blobs/uploads/?digest=${sha256(data.subarray(0, 1000))}`, {
        method: 'POST',
        body: data.subarray(0, 1000),
      });
      assert.equal(mono.status, 503);
      assert.equal(await errorCode(mono), 'UNAVAILABLE');
      assert.equal((await fetch(`${u}/v2/down/app/blobs/${sha256(data.subarray(0, 1000))}`, { method: 'HEAD' })).status, 404);
      assert.equal((await fetch(`${u}/v2/down/app/blobs/${digest}`, { method: 'HEAD' })).status, 404);
      const problem = await fetch(`${u}/api/v1/repository/down/app`);
      assert.ok(problem.status < 500 || problem.status === 503, `the API does not fail with ${problem.status}`);
      // Back up: the client resends the chunk and finishes; the blob is whole.
      await s3.restart();
      const again = await fetch(next, {
        method: 'PATCH',
        body: data.subarray(3 * MiB, 15 * MiB),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(again.status, 202);
      const putUrl = new URL(again.headers.get('location')!, u);
      putUrl.searchParams.set('digest', digest);
      const put = await fetch(putUrl, { method: 'PUT', body: data.subarray(15 * MiB) });
      assert.equal(put.status, 201, await put.clone().text());
      const got = await fetch(`${u}/v2/down/app/blobs/${digest}`);
      assert.equal(got.status, 200, 'FEATURE_PROXY_STORAGE streams through Berth');
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
      const range = await fetch(`${u}/v2/down/app/blobs/${digest}`, { headers: { Range: `bytes=${8 * MiB - 2}-${8 * MiB + 1}` } });
      assert.equal(range.status, 206);
      assert.deepEqual(Buffer.from(await range.arrayBuffer()), data.subarray(8 * MiB - 2, 8 * MiB + 2));
      // While the store is down, a proxied GET is a 503 before any byte.
      await s3.kill();
      try {
        const down = await fetch(`${u}/v2/down/app/blobs/${digest}`);
        assert.equal(down.status, 503);
        assert.equal(await errorCode(down), 'UNAVAILABLE');
      } finally {
        await s3.restart();
      }
    } finally {
      await proxy.stop();
    }
  });

  test('gc on S3: expired uploads are aborted and their objects removed, unused blobs leave the bucket', async () => {
    const g = await startServer('sqlite', {}, { config: { ...storageOf(s3, '/gc'), UPLOAD_EXPIRY_SECONDS: 1 } });
    try {
      const store = g.berth.ctx.store as S3BlobStore;
      const start = await fetch(`${g.url}/v2/gc/app/blobs/uploads/`, { method: 'POST' });
      const loc = new URL(start.headers.get('location')!, g.url).toString();
      const id = loc.split('/').pop()!.split('?')[0];
      assert.equal((await fetch(loc, { method: 'PATCH', body: randomBytes(9 * MiB) })).status, 202);
      assert.ok((await objectKeys(s3, store, `gc/uploads/${id}/`)).length > 0, 'the pending tail is in the bucket');
      const unused = await pushBlob(g.url, 'gc/app', randomBytes(5000));
      assert.ok(await store.stat(unused.digest));
      // Everything is older than the grace period and the upload expiry when gc looks (a clock two hours ahead).
      const later = { ...g.berth.ctx, now: () => Date.now() + 2 * 3600_000 };
      const run = await collectGarbageExclusive(later, { graceSeconds: 0 });
      assert.ok(run.ran);
      assert.equal(run.report.uploadsRemoved, 1);
      assert.equal(run.report.blobsRemoved, 1);
      assert.deepEqual(await objectKeys(s3, store, `gc/uploads/${id}/`), []);
      assert.equal(await store.stat(unused.digest), null);
      assert.equal(await store.uploadSize(id), null);
      assert.equal((await fetch(loc, { method: 'PATCH', body: 'x' })).status, 404);
    } finally {
      await g.stop();
    }
  });
});

describe('scheduled gc (GC_INTERVAL_SECONDS)', () => {
  test('a replica with GC_INTERVAL_SECONDS collects on its own: an expired upload and its objects go without berth gc', async () => {
    const s3 = await startS3Server();
    const g = await startServer(
      'sqlite',
      {},
      { config: { ...storageOf(s3, '/sched'), UPLOAD_EXPIRY_SECONDS: 1, GC_GRACE_SECONDS: 0, GC_INTERVAL_SECONDS: 1 } },
    );
    try {
      const store = g.berth.ctx.store as S3BlobStore;
      const start = await fetch(`${g.url}/v2/sched/app/blobs/uploads/`, { method: 'POST' });
      const loc = new URL(start.headers.get('location')!, g.url).toString();
      const id = loc.split('/').pop()!.split('?')[0];
      assert.equal((await fetch(loc, { method: 'PATCH', body: randomBytes(1000) })).status, 202);
      assert.equal(await store.uploadSize(id), 1000);
      // Wait for the effect of a scheduled pass (expiry 1 s, a pass every second).
      const deadline = Date.now() + 30_000;
      // The session row goes first, then the upload's objects and state: wait for both.
      while ((await fetch(loc)).status !== 404 || (await store.uploadSize(id)) !== null) {
        assert.ok(Date.now() < deadline, 'the scheduled gc never removed the expired upload');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await store.uploadSize(id), null);
      assert.deepEqual(await objectKeys(s3, store, `sched/uploads/${id}/`), []);
    } finally {
      await g.stop();
      await s3.stop();
    }
  });
});

describe('two Berth replicas on one PostgreSQL database and one bucket', async () => {
  const pg = await postgresAvailable();
  let s3: S3Server;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    if (!pg) return;
    s3 = await startS3Server();
    a = await startServer('postgres', {}, { config: storageOf(s3, '/replicas') });
    // The second replica: the same database (DB_URI) and bucket, its own process state, streaming through Berth.
    b = await startServer(
      'sqlite',
      { DB_URI: a.dbUri! },
      { config: { ...storageOf(s3, '/replicas', 'RadosGWStorage'), FEATURE_PROXY_STORAGE: true } },
    );
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await s3?.stop();
  });

  test('a chunked upload moves between replicas (small chunks, a large one, the PUT elsewhere); the digest is still verified', {
    skip: pg ? false : 'PostgreSQL is not reachable',
  }, async () => {
    const data = randomBytes(13 * MiB + 17);
    const digest = sha256(data);
    const start = await fetch(`${a.url}/v2/rep/app/blobs/uploads/`, { method: 'POST' });
    const path0 = new URL(start.headers.get('location')!, a.url).pathname + new URL(start.headers.get('location')!, a.url).search;
    let off = 0;
    const patch = async (server: TestServer, n: number) => {
      const r = await fetch(`${server.url}${path0}`, {
        method: 'PATCH',
        body: data.subarray(off, off + n),
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${off}-${off + n - 1}` },
      });
      assert.equal(r.status, 202, await r.clone().text());
      off += n;
      assert.equal(r.headers.get('range'), `0-${off - 1}`);
    };
    await patch(a, 1000);
    await patch(b, 1000); // b has no hash state: it reads the 1000 bytes back
    await patch(a, 9 * MiB); // a's state is stale (offset moved on b): it re-reads, then writes a part
    await patch(b, 2 * MiB);
    // The upload status is the same on both.
    for (const s of [a, b]) assert.equal((await fetch(`${s.url}${path0}`)).headers.get('range'), `0-${off - 1}`);
    // A wrong digest on the other replica is refused and discards the upload.
    const wrongStart = await fetch(`${b.url}/v2/rep/app/blobs/uploads/`, { method: 'POST' });
    const wrongPath = new URL(wrongStart.headers.get('location')!, b.url);
    await fetch(wrongPath, { method: 'PATCH', body: data.subarray(0, 6 * MiB) });
    const wrong = await fetch(`${a.url}${wrongPath.pathname}?digest=${sha256('something else')}`, { method: 'PUT' });
    assert.equal(wrong.status, 400);
    assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
    // The final PUT with the last bytes on a.
    const put = await fetch(`${a.url}${path0}${path0.includes('?') ? '&' : '?'}digest=${digest}`, {
      method: 'PUT',
      body: data.subarray(off),
    });
    assert.equal(put.status, 201, await put.clone().text());
    // b streams it (FEATURE_PROXY_STORAGE), a redirects.
    const got = await fetch(`${b.url}/v2/rep/app/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
    assert.equal((await fetch(`${a.url}/v2/rep/app/blobs/${digest}`, { redirect: 'manual' })).status, 307);
    // A manifest pushed on b over the blob committed on a.
    const config = await pushBlob(b.url, 'rep/app', '{"architecture":"amd64","os":"linux"}');
    const m = await putManifest(a.url, 'rep/app', 'v1', imageManifest(config, [{ digest, size: data.length, bytes: data }]));
    assert.equal(m.status, 201);
  });

  test('gc runs on one replica at a time (a PostgreSQL advisory lock); the other is told and skips', {
    skip: pg ? false : 'PostgreSQL is not reachable',
  }, async () => {
    const runs = await Promise.all([
      collectGarbageExclusive(a.berth.ctx),
      collectGarbageExclusive(b.berth.ctx),
      collectGarbageExclusive(a.berth.ctx),
    ]);
    assert.equal(runs.filter((r) => r.ran).length, 1, JSON.stringify(runs));
    const skipped = runs.filter((r) => !r.ran) as { reason: string }[];
    assert.ok(skipped.some((r) => /another replica holds the gc lease|already running in this process/.test(r.reason)));
    // Once it finished, the next pass runs.
    assert.ok((await collectGarbageExclusive(b.berth.ctx)).ran);
  });
});

describe('a bad or unreachable store', () => {
  let s3: S3Server;
  let deadPort: number;
  before(async () => {
    s3 = await startS3Server();
    deadPort = await freePort();
  });
  after(() => s3?.stop());

  const writeConfig = (name: string, doc: Record<string, unknown>) => {
    const f = path.join(tmp, name);
    writeFileSync(f, stringifyYaml({ DB_URI: `sqlite:///${path.join(tmp, `${name}.db`)}`, ...doc }));
    return f;
  };

  test('start-up stops with one line naming the config key and what failed', async () => {
    const dead = { DISTRIBUTED_STORAGE_CONFIG: { s3main: ['S3Storage', { ...s3.storageConfig(), port: deadPort }] } };
    const config = loadConfig({ file: writeConfig('dead.yaml', dead), data: path.join(tmp, 'dead-data'), listen: '127.0.0.1:0' });
    await assert.rejects(
      createBerth(config),
      /DISTRIBUTED_STORAGE_CONFIG\.s3main \(bucket "berth-test" at http:\/\/127\.0\.0\.1:\d+\): HeadBucket failed: .*ECONNREFUSED/,
    );
    const wrongBucket = {
      DISTRIBUTED_STORAGE_CONFIG: { default: ['RadosGWStorage', { ...s3.storageConfig('RadosGWStorage'), bucket_name: 'no-such-bucket' }] },
    };
    const r = spawnSync(
      process.execPath,
      [
        BERTH_BIN,
        'serve',
        '--config',
        writeConfig('nobucket.yaml', wrongBucket),
        '--listen',
        '127.0.0.1:0',
        '--data',
        path.join(tmp, 'nb'),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^berth: cannot start: DISTRIBUTED_STORAGE_CONFIG\.default \(bucket "no-such-bucket" at http:\/\/127\.0\.0\.1:\d+\): HeadBucket failed: (NotFound|NoSuchBucket)/m,
    );
    assert.doesNotMatch(r.stderr, /S3RVER/, 'no credentials in the message');
  });

  test('berth config validate --check-connections tries the bucket, the database and Redis once and says what failed', async () => {
    const validate = (f: string) =>
      spawnSync(process.execPath, [BERTH_BIN, 'config', 'validate', '--check-connections', f], { encoding: 'utf8', timeout: 30_000 });
    const good = validate(
      writeConfig('good.yaml', {
        ...storageOf(s3, '/check'),
        DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: { host: '127.0.0.1', port: 6379 } } },
      }),
    );
    assert.equal(good.status, 0, good.stderr);
    assert.match(
      good.stdout,
      /^storage \(DISTRIBUTED_STORAGE_CONFIG\.default, S3Storage bucket berth-test at http:\/\/127\.0\.0\.1:\d+\/check\): ok/m,
    );
    assert.match(good.stdout, /^database \(DB_URI, SQLite .*good\.yaml\.db\): ok/m);
    assert.match(good.stdout, /^redis \(DATA_MODEL_CACHE_CONFIG\.redis_config\.primary, 127\.0\.0\.1:6379\): ok: PING answered/m);
    assert.match(good.stdout, /valid; 3 connections work/);
    // Nothing is left in the bucket by the check.
    const bad = validate(
      writeConfig('bad.yaml', {
        DISTRIBUTED_STORAGE_CONFIG: {
          default: ['S3Storage', { ...s3.storageConfig(), s3_access_key: 'NOBODY', s3_secret_key: 'wrong-secret' }],
        },
        DB_URI: `postgresql://postgres@127.0.0.1:${deadPort}/none`,
        DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: { host: '127.0.0.1', port: deadPort } } },
      }),
    );
    assert.equal(bad.status, 1);
    assert.match(
      bad.stderr,
      /^storage \(DISTRIBUTED_STORAGE_CONFIG\.default, .*\): FAILED: HeadBucket failed: .*(Forbidden|InvalidAccessKeyId|403)/m,
    );
    assert.match(bad.stderr, /^database \(DB_URI, PostgreSQL 127\.0\.0\.1:\d+\/none\): FAILED: ECONNREFUSED/m);
    assert.match(bad.stderr, /^redis \(DATA_MODEL_CACHE_CONFIG\.redis_config\.primary, 127\.0\.0\.1:\d+\): FAILED: ECONNREFUSED/m);
    assert.match(bad.stderr, /valid, but 3 of 3 connections failed/);
    assert.doesNotMatch(bad.stdout + bad.stderr, /wrong-secret/);
    // A config problem is still reported as such, before any connection.
    const invalid = validate(
      writeConfig('invalid.yaml', { DISTRIBUTED_STORAGE_CONFIG: { default: ['S3Storage', { s3_bucket: 'b', port: 'http' }] } }),
    );
    assert.equal(invalid.status, 1);
    assert.match(invalid.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.default\.port: must be a port number/m);
  });
});
