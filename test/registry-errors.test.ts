// Every bad input on /v2 gets its spec error code, a clear message, and changes nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { errorCode, imageManifest, pushBlob, pushImage, putManifest, sha256 } from './helpers/registry-client.ts';
import { waitFor } from './helpers/wait.ts';

/** Sends raw bytes over TCP and returns the status line's code and the whole response text. */
function rawRequest(url: string, text: string, closeAfterWrite = false): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(text);
      if (closeAfterWrite) sock.end();
    });
    let out = '';
    sock.on('data', (d) => (out += d));
    sock.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0), text: out }));
    sock.on('error', reject);
    setTimeout(() => {
      sock.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0), text: out });
    }, 3000);
  });
}

async function expectError(r: Response | Promise<Response>, status: number, code: string) {
  const res = await r;
  const body = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${body}`);
  const parsed = JSON.parse(body) as { errors: { code: string; message: string }[] };
  assert.equal(parsed.errors[0].code, code, body);
  assert.ok(parsed.errors[0].message.length > 10, 'the message says what is wrong');
  return parsed.errors[0].message;
}

for (const dialect of await testDialects()) {
  describe(`registry errors (${dialect})`, () => {
    let s: TestServer;
    let u: string;
    before(async () => {
      s = await startServer(dialect);
      u = s.url;
    });
    after(() => s.stop());

    test('repository names: uppercase, traversal, empty components and overlong names are NAME_INVALID', async () => {
      const digest = sha256('x');
      for (const name of ['Upper/case', 'a//b', '-a/b', 'a__-b/c', `${'a'.repeat(256)}`, 'a%2f..%2fb', 'a/b%00c']) {
        await expectError(fetch(`${u}/v2/${name}/blobs/${digest}`), 400, 'NAME_INVALID');
      }
      // A raw request with ../ in the path (which fetch would normalise) must not escape anything.
      for (const p of ['/v2/../../etc/passwd/blobs/', '/v2/a/../b/blobs/', '/v2/a/./b/blobs/', '/v2/a/%2e%2e/b/blobs/']) {
        const r = await rawRequest(u, `GET ${p}${digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(r.status, 400, r.text);
        assert.match(r.text, /NAME_INVALID/);
      }
    });

    test('blob reads: unknown blob, unknown repository, malformed and unsupported digests', async () => {
      await pushImage(u, 'err/blobs', 'v1');
      await expectError(fetch(`${u}/v2/err/blobs/blobs/${sha256('nothing')}`), 404, 'BLOB_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/nope/blobs/${sha256('nothing')}`), 404, 'NAME_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/blobs/blobs/sha256:abc`), 400, 'DIGEST_INVALID');
      const msg = await expectError(fetch(`${u}/v2/err/blobs/blobs/md5:d41d8cd98f00b204e9800998ecf8427e`), 400, 'DIGEST_INVALID');
      assert.match(msg, /unsupported digest algorithm "md5"/);
      await expectError(fetch(`${u}/v2/err/blobs/blobs/sha256:${'G'.repeat(64)}`), 400, 'DIGEST_INVALID');
    });

    test('Range: partial reads, suffix ranges, and 416 outside the blob', async () => {
      const b = await pushBlob(u, 'err/range', '0123456789');
      const r1 = await fetch(`${u}/v2/err/range/blobs/${b.digest}`, { headers: { range: 'bytes=2-4' } });
      assert.equal(r1.status, 206);
      assert.equal(r1.headers.get('content-range'), 'bytes 2-4/10');
      assert.equal(await r1.text(), '234');
      const r2 = await fetch(`${u}/v2/err/range/blobs/${b.digest}`, { headers: { range: 'bytes=-3' } });
      assert.equal(await r2.text(), '789');
      const r3 = await fetch(`${u}/v2/err/range/blobs/${b.digest}`, { headers: { range: 'bytes=7-' } });
      assert.equal(await r3.text(), '789');
      const r4 = await fetch(`${u}/v2/err/range/blobs/${b.digest}`, { headers: { range: 'bytes=10-20' } });
      assert.equal(r4.status, 416);
      assert.equal(r4.headers.get('content-range'), 'bytes */10');
      await r4.text();
      const r5 = await fetch(`${u}/v2/err/range/blobs/${b.digest}`, { headers: { range: 'bytes=1-2,4-5' } });
      assert.equal(r5.status, 416);
      await r5.text();
    });

    test('a monolithic upload with the wrong digest is DIGEST_INVALID and leaves nothing behind', async () => {
      const wrong = sha256('something else');
      const msg = await expectError(
        fetch(`${u}/v2/err/wrongdigest/blobs/uploads/?digest=${wrong}`, {
          method: 'POST',
          body: 'actual bytes',
          headers: { 'content-type': 'application/octet-stream' },
        }),
        400,
        'DIGEST_INVALID',
      );
      assert.match(msg, /not sha256:/);
      await expectError(
        fetch(`${u}/v2/err/wrongdigest/blobs/${wrong}`, { method: 'HEAD' }).then(async (r) => {
          assert.equal(r.status, 404);
          return fetch(`${u}/v2/err/wrongdigest/blobs/${wrong}`);
        }),
        404,
        'NAME_UNKNOWN',
      );
      const cat = (await (await fetch(`${u}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.ok(!cat.repositories.includes('err/wrongdigest'), 'a refused push creates no repository');
      assert.deepEqual(readdirSync(path.join(s.dataDir, 'blobs', 'uploads')).length, 0, 'no upload file is left');
    });

    test('chunked uploads: out-of-order chunk is 416 with the current Range; unknown and foreign upload ids are BLOB_UPLOAD_UNKNOWN', async () => {
      const start = await fetch(`${u}/v2/err/chunks/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const loc = start.headers.get('location')!;
      const p1 = await fetch(`${u}${loc}`, {
        method: 'PATCH',
        body: 'abcde',
        headers: { 'content-range': '0-4', 'content-type': 'application/octet-stream' },
      });
      assert.equal(p1.status, 202);
      assert.equal(p1.headers.get('range'), '0-4');
      const bad = await fetch(`${u}${loc}`, {
        method: 'PATCH',
        body: 'xyz',
        headers: { 'content-range': '7-9', 'content-type': 'application/octet-stream' },
      });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers.get('range'), '0-4');
      await bad.text();
      const id = loc.split('/').pop()!;
      await expectError(fetch(`${u}/v2/err/other/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      await expectError(
        fetch(`${u}/v2/err/chunks/blobs/uploads/00000000-0000-0000-0000-000000000000`, { method: 'PATCH', body: 'x' }),
        404,
        'BLOB_UPLOAD_UNKNOWN',
      );
      await expectError(fetch(`${u}/v2/err/chunks/blobs/uploads/not-a-uuid`), 404, 'BLOB_UPLOAD_UNKNOWN');
      // A chunk whose body is shorter than its Content-Range is refused and not kept.
      await expectError(
        fetch(`${u}${loc}`, {
          method: 'PATCH',
          body: 'fg',
          headers: { 'content-range': '5-9', 'content-type': 'application/octet-stream' },
        }),
        400,
        'SIZE_INVALID',
      );
      const st = await fetch(`${u}${loc}`);
      assert.equal(st.status, 204);
      assert.equal(st.headers.get('range'), '0-4');
      // Completing without a digest, then with the wrong one (which discards the upload).
      await expectError(fetch(`${u}${loc}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      await expectError(fetch(`${u}${loc}?digest=${sha256('abcdX')}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      await expectError(fetch(`${u}${loc}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    });

    test('a body cut short by the client keeps nothing of it; the upload resumes at the last good offset', async () => {
      const start = await fetch(`${u}/v2/err/truncated/blobs/uploads/`, { method: 'POST' });
      const loc = start.headers.get('location')!;
      await fetch(`${u}${loc}`, { method: 'PATCH', body: 'first-', headers: { 'content-type': 'application/octet-stream' } });
      const r = await rawRequest(
        u,
        `PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nonly-part-of-it`,
        true,
      );
      assert.ok(r.status === 0 || r.status === 400, `a cut body is not accepted: ${r.text}`);
      const st = await fetch(`${u}${loc}`);
      assert.equal(st.headers.get('range'), '0-5', 'the cut chunk was not recorded');
      // The server may still be unwinding the cut request when the socket closes: until it lets go of the upload, a
      // PATCH gets 416 "already receiving data". Wait for that (the event), not a guessed time; then the resume at
      // offset 6 must be accepted, which says the cut chunk was dropped.
      const resume = () =>
        fetch(`${u}${loc}`, {
          method: 'PATCH',
          body: 'second',
          headers: { 'content-range': '6-11', 'content-type': 'application/octet-stream' },
        });
      let p = await resume();
      let busy = '';
      await waitFor(
        async () => {
          if (p.status !== 416) return true;
          busy = await p.text();
          if (!/already receiving data/.test(busy)) return true;
          p = await resume();
          return false;
        },
        { what: 'the cut request to let go of the upload', detail: () => busy },
      );
      assert.equal(p.status, 202, busy);
      assert.equal(p.headers.get('range'), '0-11', 'resumed at the last good offset');
      const done = await fetch(`${u}${loc}?digest=${sha256('first-second')}`, { method: 'PUT' });
      assert.equal(done.status, 201, await done.text());
      const got = await fetch(`${u}/v2/err/truncated/blobs/${sha256('first-second')}`);
      assert.equal(await got.text(), 'first-second');
    });

    test('a POST with a body but no digest is refused', async () => {
      await expectError(
        fetch(`${u}/v2/err/nodigest/blobs/uploads/`, {
          method: 'POST',
          body: 'data',
          headers: { 'content-type': 'application/octet-stream' },
        }),
        400,
        'BLOB_UPLOAD_INVALID',
      );
    });

    test('manifests: malformed JSON, wrong mediaType, schema 1, bad tag, wrong digest, size mismatch, missing blobs', async () => {
      const img = await pushImage(u, 'err/man', 'ok');
      const repo = 'err/man';
      await expectError(putManifest(u, repo, 'm1', Buffer.from('{"schemaVersion": 2,')), 400, 'MANIFEST_INVALID');
      await expectError(putManifest(u, repo, 'm1', Buffer.from('[1,2,3]')), 400, 'MANIFEST_INVALID');
      await expectError(
        putManifest(
          u,
          repo,
          'm1',
          Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-nope' })),
          'application/x-nope',
        ),
        400,
        'MANIFEST_INVALID',
      );
      await expectError(
        putManifest(
          u,
          repo,
          'm1',
          Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })),
          'application/vnd.docker.distribution.manifest.v1+prettyjws',
        ),
        400,
        'MANIFEST_INVALID',
      );
      const msg = await expectError(
        putManifest(u, repo, 'm1', img.manifest, 'application/vnd.docker.distribution.manifest.v2+json'),
        400,
        'MANIFEST_INVALID',
      );
      assert.match(msg, /does not match/);
      for (const tag of ['-lead', '.dot', 'x'.repeat(129), 'sp ace']) {
        await expectError(putManifest(u, repo, encodeURIComponent(tag), img.manifest), 400, 'MANIFEST_INVALID');
      }
      await expectError(putManifest(u, repo, sha256('different'), img.manifest), 400, 'DIGEST_INVALID');
      const lying = imageManifest(img.config, [{ ...img.layer, size: img.layer.size + 1 }]);
      await expectError(putManifest(u, repo, 'm2', lying), 400, 'MANIFEST_INVALID');
      const missing = imageManifest(img.config, [{ digest: sha256('not pushed'), size: 10, bytes: Buffer.alloc(0) }]);
      const m = await expectError(putManifest(u, repo, 'm3', missing), 400, 'MANIFEST_BLOB_UNKNOWN');
      assert.match(m, /push it before the manifest/);
      await expectError(putManifest(u, 'err/fresh', 'm3', missing), 400, 'MANIFEST_BLOB_UNKNOWN');
      const tags = (await (await fetch(`${u}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['ok'], 'no refused manifest left a tag');
      const cat = (await (await fetch(`${u}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.ok(!cat.repositories.includes('err/fresh'));
    });

    test('manifests: over 4 MiB is 413 SIZE_INVALID; deeply nested JSON is refused without a crash', async () => {
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      await expectError(putManifest(u, 'err/big', 'v1', big), 413, 'SIZE_INVALID');
      const deep = Buffer.from(`{"schemaVersion":2,"x":${'['.repeat(100000)}${']'.repeat(100000)}}`);
      const r = await putManifest(u, 'err/big', 'v1', deep);
      assert.ok(r.status === 400, `deep JSON: ${r.status}`);
      assert.equal(await errorCode(r), 'MANIFEST_INVALID');
      assert.equal((await fetch(`${u}/v2/`)).status, 200, 'server still up');
    });

    test('manifest reads: unknown tag, unknown digest, unknown repository', async () => {
      await pushImage(u, 'err/read', 'v1');
      await expectError(fetch(`${u}/v2/err/read/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/read/manifests/${sha256('nope')}`), 404, 'MANIFEST_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/unknown/manifests/v1`), 404, 'NAME_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/read/manifests/sha256:short`), 400, 'DIGEST_INVALID');
      // A reference no tag could ever have is not found (the conformance suite reads `.INVALID_MANIFEST_NAME`).
      await expectError(fetch(`${u}/v2/err/read/manifests/.INVALID_MANIFEST_NAME`), 404, 'MANIFEST_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/read/manifests/.INVALID_MANIFEST_NAME`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      const head = await fetch(`${u}/v2/err/read/manifests/v1`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.ok(Number(head.headers.get('content-length')) > 0);
      assert.equal(await head.text(), '');
    });

    test('content negotiation: an index is served as the linux/amd64 image to a client that cannot take indexes', async () => {
      const repo = 'err/multi';
      const children: { digest: string; size: number; arch: string }[] = [];
      for (const arch of ['amd64', 'arm64']) {
        const config = await pushBlob(u, repo, JSON.stringify({ architecture: arch, os: 'linux' }));
        const layer = await pushBlob(u, repo, `layer-${arch}`);
        const body = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config.digest, size: config.size },
            layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer.digest, size: layer.size }],
          }),
        );
        const r = await putManifest(u, repo, sha256(body), body, 'application/vnd.docker.distribution.manifest.v2+json');
        assert.equal(r.status, 201, await r.text());
        children.push({ digest: sha256(body), size: body.length, arch });
      }
      const list = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
          manifests: children.map((c) => ({
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            digest: c.digest,
            size: c.size,
            platform: { os: 'linux', architecture: c.arch },
          })),
        }),
      );
      assert.equal((await putManifest(u, repo, 'multi', list, 'application/vnd.docker.distribution.manifest.list.v2+json')).status, 201);
      const asList = await fetch(`${u}/v2/${repo}/manifests/multi`, {
        headers: {
          accept: 'application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json',
        },
      });
      assert.equal(asList.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.list.v2+json');
      assert.equal(asList.headers.get('docker-content-digest'), sha256(list));
      const single = await fetch(`${u}/v2/${repo}/manifests/multi`, {
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      assert.equal(single.status, 200);
      assert.equal(single.headers.get('docker-content-digest'), children[0].digest, 'the amd64 image');
      await single.text();
      // An index pointing at a manifest the repository lacks is refused.
      const dangling = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('nope'), size: 3 }],
        }),
      );
      await expectError(
        putManifest(u, repo, 'dangling', dangling, 'application/vnd.oci.image.index.v1+json'),
        400,
        'MANIFEST_BLOB_UNKNOWN',
      );
      // An OCI manifest asked for by a client that only takes Docker types: not acceptable.
      await pushImage(u, repo, 'oci');
      await expectError(
        fetch(`${u}/v2/${repo}/manifests/oci`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } }),
        404,
        'MANIFEST_UNKNOWN',
      );
    });

    test('listing: n must be a number; pages follow Link headers in lexical order', async () => {
      const repo = 'err/tags';
      const first = await pushImage(u, repo, 'b');
      for (const t of ['a', 'C', 'c', 'a1', 'Z']) assert.equal((await putManifest(u, repo, t, first.manifest)).status, 201);
      await expectError(fetch(`${u}/v2/${repo}/tags/list?n=abc`), 400, 'PAGINATION_NUMBER_INVALID');
      await expectError(fetch(`${u}/v2/${repo}/tags/list?n=-1`), 400, 'PAGINATION_NUMBER_INVALID');
      const zero = (await (await fetch(`${u}/v2/${repo}/tags/list?n=0`)).json()) as { tags: string[] };
      assert.deepEqual(zero.tags, []);
      const seen: string[] = [];
      let next: string | null = `/v2/${repo}/tags/list?n=2`;
      while (next) {
        const r: Response = await fetch(`${u}${next}`);
        seen.push(...((await r.json()) as { tags: string[] }).tags);
        next = r.headers.get('link')?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
      }
      assert.deepEqual(seen, ['C', 'Z', 'a', 'a1', 'b', 'c']);
      await expectError(fetch(`${u}/v2/err/none/tags/list`), 404, 'NAME_UNKNOWN');
      await expectError(fetch(`${u}/v2/_catalog?n=x`), 400, 'PAGINATION_NUMBER_INVALID');
    });

    test('referrers: a malformed digest is DIGEST_INVALID; an unknown subject has an empty index', async () => {
      await expectError(fetch(`${u}/v2/err/ref/referrers/sha256:nope`), 400, 'DIGEST_INVALID');
      const r = await fetch(`${u}/v2/err/ref/referrers/${sha256('none')}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(((await r.json()) as { manifests: unknown[] }).manifests, []);
    });

    test('unsupported methods and unknown endpoints answer with the error JSON, never 500', async () => {
      const r = await fetch(`${u}/v2/err/x/tags/list`, { method: 'DELETE' });
      assert.equal(r.status, 405);
      assert.equal(await errorCode(r), 'UNSUPPORTED');
      const r2 = await fetch(`${u}/v2/err/x/unknown/thing`);
      assert.equal(r2.status, 404);
      assert.ok(await errorCode(r2));
      const r3 = await fetch(`${u}/v2/err/x/blobs/${sha256('y')}`, { method: 'PUT', body: 'x' });
      assert.equal(r3.status, 405);
      await r3.text();
    });

    test('deleting: tags, manifests and blob links; unknown ones are 404 with their codes', async () => {
      const img = await pushImage(u, 'err/del', 'v1');
      await expectError(fetch(`${u}/v2/err/del/manifests/nope`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
      await expectError(fetch(`${u}/v2/err/del/blobs/${sha256('nope')}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
      assert.equal((await fetch(`${u}/v2/err/del/manifests/v1`, { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(`${u}/v2/err/del/manifests/${img.digest}`)).status, 200, 'deleting a tag keeps the manifest');
      assert.equal((await fetch(`${u}/v2/err/del/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      await expectError(fetch(`${u}/v2/err/del/manifests/${img.digest}`), 404, 'MANIFEST_UNKNOWN');
      assert.equal((await fetch(`${u}/v2/err/del/blobs/${img.layer.digest}`, { method: 'DELETE' })).status, 202);
      await expectError(fetch(`${u}/v2/err/del/blobs/${img.layer.digest}`), 404, 'BLOB_UNKNOWN');
    });
  });
}
