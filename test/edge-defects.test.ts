// Defects of issue 13 at the /v2 edge, each with the request that showed it:
//   2  a refused push never creates the repository (accounts mode, both dialects)
//   3  every /v2 error body is OCI JSON, also for bad percent-encoding and Node's HTTP parser errors
//   4  manifest Content-Type against the body's mediaType; not UTF-8; "mediaType": ""
//   5  unknown methods on known routes get 405 UNSUPPORTED + Allow; CR/LF in a name is NAME_INVALID
//  12  with the defaults every well-formed artifact is accepted; ALLOWED_OCI_ARTIFACT_TYPES restricts
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, basic, host, registryToken } from './helpers/accounts.ts';
import { imageManifest, pushBlob, putManifest, sha256, type Pushed } from './helpers/registry-client.ts';

/** The error codes of the OCI distribution spec (and Docker's TOOMANYREQUESTS). */
const OCI_CODES = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
]);

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Writes raw bytes to the server and reads the whole response (the server closes the connection). */
function raw(url: string, text: string | Buffer): Promise<{ status: number; headers: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => sock.write(text));
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      const out = Buffer.concat(chunks).toString('latin1');
      const split = out.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d+)/.exec(out)?.[1] ?? 0),
        headers: out.slice(0, split),
        body: split >= 0 ? out.slice(split + 4) : '',
      });
    });
  });
}

/** The body as OCI error JSON: asserts the shape and returns the first code and message. */
function ociError(body: string, where: string): { code: string; message: string } {
  let parsed: { errors?: { code?: string; message?: string }[] };
  try {
    parsed = JSON.parse(body);
  } catch {
    assert.fail(`${where}: body is not JSON: ${JSON.stringify(body.slice(0, 300))}`);
  }
  assert.ok(Array.isArray(parsed.errors) && parsed.errors.length > 0, `${where}: no "errors" array: ${body}`);
  const [e] = parsed.errors!;
  assert.ok(OCI_CODES.has(e.code ?? ''), `${where}: "${e.code}" is not an OCI error code: ${body}`);
  assert.ok((e.message ?? '').length > 10, `${where}: the message says what is wrong: ${body}`);
  return { code: e.code!, message: e.message! };
}

async function expectOci(r: Response | Promise<Response>, status: number, code: string, where: string): Promise<string> {
  const res = await r;
  const body = await res.text();
  assert.equal(res.status, status, `${where}: expected ${status} ${code}, got ${res.status}: ${body}`);
  const e = ociError(body, where);
  assert.equal(e.code, code, `${where}: ${body}`);
  return e.message;
}

describe('defect 3: every /v2 error is OCI JSON', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('sqlite');
  });
  after(() => s.stop());

  test('malformed percent-encoding in the path gets 400 with an OCI error body', async () => {
    for (const p of ['/v2/a/%zz/manifests/x', '/v2/a/b/manifests/x%', '/v2/a%/tags/list', '/v2/%E0%A4%A/blobs/uploads/']) {
      const r = await raw(s.url, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 400, `${p}: ${r.headers}\n${r.body}`);
      assert.match(r.headers, /content-type: application\/json/i, p);
      assert.equal(ociError(r.body, p).code, 'NAME_INVALID', p);
    }
  });

  test("Node's HTTP parser errors (chunk size, CL with TE, control bytes, oversized headers) get OCI error bodies", async () => {
    const cases: [string, string | Buffer, number][] = [
      [
        'bad chunk size',
        'POST /v2/a/b/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
        400,
      ],
      [
        'Content-Length with Transfer-Encoding',
        'POST /v2/a/b/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
        400,
      ],
      ['control byte in a header', Buffer.from('GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Odd: a\x01b\r\n\r\n', 'latin1'), 400],
      ['headers over 16 KB', `GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['garbage request line', 'GET\x7f /v2/ HTTP/1.1\r\n\r\n', 400],
    ];
    for (const [what, text, status] of cases) {
      const r = await raw(s.url, text);
      assert.equal(r.status, status, `${what}: ${r.headers}\n${r.body}`);
      assert.match(r.headers, /content-type: application\/json/i, what);
      assert.match(r.headers, /docker-distribution-api-version: registry\/2\.0/i, what);
      ociError(r.body, what);
    }
    // The server is still there.
    assert.equal((await fetch(`${s.url}/v2/`)).status, 200);
  });
});

describe('defect 4: manifest Content-Type, mediaType and encoding', () => {
  let s: TestServer;
  let config: Pushed;
  let layer: Pushed;
  let image: Buffer;
  let imageDigest: string;
  before(async () => {
    s = await startServer('sqlite');
    config = await pushBlob(s.url, 'ct/repo', JSON.stringify({ architecture: 'amd64', os: 'linux' }));
    layer = await pushBlob(s.url, 'ct/repo', 'layer bytes for the content-type test');
    image = imageManifest(config, [layer]);
    const r = await putManifest(s.url, 'ct/repo', 'base', image);
    assert.equal(r.status, 201);
    imageDigest = r.headers.get('docker-content-digest')!;
  });
  after(() => s.stop());

  const put = (body: Buffer, contentType: string | undefined, ref = 'x') =>
    fetch(`${s.url}/v2/ct/repo/manifests/${ref}`, {
      method: 'PUT',
      body: new Uint8Array(body),
      headers: contentType === undefined ? {} : { 'content-type': contentType },
    });

  test('an empty or missing Content-Type is MANIFEST_INVALID (400), not BLOB_UPLOAD_INVALID', async () => {
    await expectOci(put(image, ''), 400, 'MANIFEST_INVALID', 'empty Content-Type');
    const r = await raw(
      s.url,
      Buffer.concat([
        Buffer.from(`PUT /v2/ct/repo/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: ${image.length}\r\nConnection: close\r\n\r\n`),
        image,
      ]),
    );
    assert.equal(r.status, 400, r.body);
    assert.equal(ociError(r.body, 'no Content-Type').code, 'MANIFEST_INVALID');
  });

  test('a Content-Type that contradicts the body is refused for every type', async () => {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: imageDigest, size: image.length }],
      }),
    );
    const indexNoType = Buffer.from(
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: imageDigest, size: image.length }] }),
    );
    for (const [what, body, ct] of [
      ['index as text/plain', index, 'text/plain'],
      ['index as schema1 prettyjws', index, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
      ['index as application/json', index, 'application/json'],
      ['index as an OCI manifest', index, OCI_MANIFEST],
      ['image as an index', image, OCI_INDEX],
      ['image as text/plain', image, 'text/plain'],
      ['index without mediaType sent as an image manifest', indexNoType, OCI_MANIFEST],
    ] as const) {
      await expectOci(put(body, ct), 400, 'MANIFEST_INVALID', what);
    }
    // The same bodies with their own types are accepted.
    assert.equal((await put(index, `${OCI_INDEX}; charset=utf-8`, 'idx')).status, 201);
    assert.equal((await put(indexNoType, OCI_INDEX, 'idx2')).status, 201);
  });

  test('"mediaType": "" is not taken as absent', async () => {
    const doc = JSON.parse(image.toString()) as Record<string, unknown>;
    doc.mediaType = '';
    const msg = await expectOci(put(Buffer.from(JSON.stringify(doc)), OCI_MANIFEST), 400, 'MANIFEST_INVALID', 'empty mediaType');
    assert.match(msg, /mediaType/);
  });

  test('a manifest that is not valid UTF-8 JSON is refused', async () => {
    const doc = JSON.parse(image.toString()) as Record<string, unknown>;
    doc.annotations = { note: 'PLACEHOLDER' };
    const text = JSON.stringify(doc);
    const [before, after] = text.split('PLACEHOLDER');
    for (const [what, bad] of [
      ['a lone continuation byte', Buffer.from([0x80])],
      ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
      ['a truncated sequence', Buffer.from([0xe2, 0x82])],
      ['a UTF-16 surrogate encoded as UTF-8', Buffer.from([0xed, 0xa0, 0x80])],
    ] as const) {
      const body = Buffer.concat([Buffer.from(before), bad, Buffer.from(after)]);
      const msg = await expectOci(put(body, OCI_MANIFEST), 400, 'MANIFEST_INVALID', what);
      assert.match(msg, /UTF-8/, what);
    }
    await expectOci(put(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), image]), OCI_MANIFEST), 400, 'MANIFEST_INVALID', 'byte order mark');
    // Valid multi-byte UTF-8 is fine.
    doc.annotations = { note: 'grüße ✓ 🚢' };
    assert.equal((await put(Buffer.from(JSON.stringify(doc)), OCI_MANIFEST, 'utf8')).status, 201);
  });
});

describe('defect 5: methods and names', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('sqlite');
  });
  after(() => s.stop());

  test('OPTIONS, TRACE and other unknown methods on /v2 routes get 405 UNSUPPORTED with Allow', async () => {
    const digest = sha256('x');
    for (const [method, p, allow] of [
      ['OPTIONS', '/v2/', /GET, HEAD/],
      ['TRACE', '/v2/', /GET, HEAD/],
      ['OPTIONS', '/v2/a/b/manifests/latest', /GET, HEAD, PUT, DELETE/],
      ['TRACE', `/v2/a/b/blobs/${digest}`, /GET, HEAD, DELETE/],
      ['PROPFIND', '/v2/_catalog', /GET/],
      ['POST', '/v2/a/b/tags/list', /GET/],
    ] as const) {
      const r = await raw(s.url, `${method} ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 405, `${method} ${p}: ${r.headers}\n${r.body}`);
      assert.match(r.headers, /\r\nallow: [^\r]+/i, `${method} ${p}`);
      assert.match(/\r\nallow: ([^\r]+)/i.exec(r.headers)![1], allow, `${method} ${p}`);
      assert.equal(ociError(r.body, `${method} ${p}`).code, 'UNSUPPORTED');
    }
  });

  test('a name with CR or LF (percent-encoded) is NAME_INVALID, not NAME_UNKNOWN', async () => {
    for (const name of ['a%0Ab', 'a/b%0D%0Ac', 'a%0D/b', '%0A']) {
      await expectOci(fetch(`${s.url}/v2/${name}/manifests/latest`), 400, 'NAME_INVALID', name);
      await expectOci(fetch(`${s.url}/v2/${name}/tags/list`), 400, 'NAME_INVALID', name);
      await expectOci(fetch(`${s.url}/v2/${name}/blobs/uploads/`, { method: 'POST' }), 400, 'NAME_INVALID', name);
    }
  });
});

describe('defect 12: artifacts of any config type', () => {
  const ACME_CONFIG = 'application/vnd.acme.config.v1+json';
  const ACME_LAYER = 'application/vnd.acme.layer.v1.tar';
  /** Pushes an artifact as `oras push --config cfg.json:application/vnd.acme.config.v1+json` does. */
  async function orasPush(url: string, repo: string, tag: string, configType = ACME_CONFIG, layerType = ACME_LAYER): Promise<Response> {
    const cfg = await pushBlob(url, repo, '{"acme":true}');
    const file = await pushBlob(url, repo, `artifact file ${tag}`);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: configType, digest: cfg.digest, size: cfg.size },
      layers: [
        { mediaType: layerType, digest: file.digest, size: file.size, annotations: { 'org.opencontainers.image.title': 'file.txt' } },
      ],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    };
    return putManifest(url, repo, tag, Buffer.from(JSON.stringify(manifest)));
  }

  test('with the defaults, an artifact with its own config type (oras --config …:application/vnd.acme.config.v1+json) is accepted', async () => {
    const s = await startServer('sqlite');
    try {
      const r = await orasPush(s.url, 'team/tool', 'v1');
      assert.equal(r.status, 201, await r.text());
      const got = await fetch(`${s.url}/v2/team/tool/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(got.status, 200);
      assert.equal(((await got.json()) as { config: { mediaType: string } }).config.mediaType, ACME_CONFIG);
      // The OCI conformance suite's own artifact: its config type with an empty-config layer type.
      const conf = await orasPush(s.url, 'team/conformance', 'a', 'application/vnd.oci.image.config.v1+json', OCI_EMPTY);
      assert.equal(conf.status, 201, await conf.text());
      // Well-formedness still counts: the empty config without artifactType is refused.
      const e = await pushBlob(s.url, 'team/tool', '{}');
      const bad = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_EMPTY, digest: e.digest, size: e.size },
        layers: [],
      };
      await expectOci(
        putManifest(s.url, 'team/tool', 'bad', Buffer.from(JSON.stringify(bad))),
        400,
        'MANIFEST_INVALID',
        'empty config without artifactType',
      );
    } finally {
      await s.stop();
    }
  });

  test('when ALLOWED_OCI_ARTIFACT_TYPES is set, only the listed types pass; FEATURE_GENERAL_OCI_SUPPORT: false refuses them all', async () => {
    const s = await startServer(
      'sqlite',
      {},
      { config: { ALLOWED_OCI_ARTIFACT_TYPES: { 'application/vnd.acme.other.v1+json': [ACME_LAYER] } } },
    );
    try {
      const msg = await expectOci(orasPush(s.url, 'team/tool', 'v1'), 400, 'MANIFEST_INVALID', 'unlisted type');
      assert.match(msg, /application\/vnd\.acme\.config\.v1\+json.*ALLOWED_OCI_ARTIFACT_TYPES/);
      assert.equal((await orasPush(s.url, 'team/tool', 'v2', 'application/vnd.acme.other.v1+json')).status, 201);
    } finally {
      await s.stop();
    }
    const off = await startServer('sqlite', {}, { config: { FEATURE_GENERAL_OCI_SUPPORT: false } });
    try {
      const msg = await expectOci(orasPush(off.url, 'team/tool', 'v1'), 400, 'MANIFEST_INVALID', 'general OCI off');
      assert.match(msg, /FEATURE_GENERAL_OCI_SUPPORT: true/);
    } finally {
      await off.stop();
    }
  });
});

const ADMIN: [string, string] = ['admin', 'admin-password-1'];

for (const dialect of await testDialects()) {
  describe(`defect 2: a refused push creates no repository (${dialect})`, () => {
    let s: TestServer;
    let auth: Record<string, string>;
    before(async () => {
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
      const names = ['admin/badjson', 'admin/baddigest', 'admin/wrongdigest', 'admin/badmount', 'admin/good'];
      const t = await registryToken(s, [...names.map((n) => `repository:${n}:pull,push`), 'registry:catalog:*'], ADMIN);
      assert.ok(t.token, `token: ${t.status}`);
      auth = { authorization: `Bearer ${t.token}` };
    });
    after(() => s.stop());

    const repositories = async () => {
      const cat = await fetch(`${s.url}/v2/_catalog`, { headers: auth });
      assert.equal(cat.status, 200);
      const list = await api(s, 'GET', '/repository?namespace=admin', ADMIN);
      assert.equal(list.status, 200, JSON.stringify(list.json));
      return {
        catalog: ((await cat.json()) as { repositories: string[] }).repositories,
        api: (list.json.repositories as { namespace: string; name: string }[]).map((r) => `${r.namespace}/${r.name}`),
      };
    };

    test('invalid manifest JSON, an invalid ?digest=, a wrong monolithic digest and a failed mount leave no repository behind', async () => {
      await expectOci(
        fetch(`${s.url}/v2/admin/badjson/manifests/v1`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': OCI_MANIFEST },
          body: '{not json',
        }),
        400,
        'MANIFEST_INVALID',
        'bad JSON',
      );
      await expectOci(
        fetch(`${s.url}/v2/admin/baddigest/blobs/uploads/?digest=sha256:nothex`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/octet-stream' },
          body: 'abc',
        }),
        400,
        'DIGEST_INVALID',
        'invalid ?digest=',
      );
      await expectOci(
        fetch(`${s.url}/v2/admin/wrongdigest/blobs/uploads/?digest=${sha256('other')}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/octet-stream' },
          body: 'abc',
        }),
        400,
        'DIGEST_INVALID',
        'wrong digest',
      );
      // A mount of a blob that is nowhere falls back to an upload session: nothing stored, so no repository.
      const m = await fetch(`${s.url}/v2/admin/badmount/blobs/uploads/?mount=${sha256('nowhere')}`, { method: 'POST', headers: auth });
      assert.equal(m.status, 202);
      const after = await repositories();
      for (const name of ['admin/badjson', 'admin/baddigest', 'admin/wrongdigest', 'admin/badmount']) {
        assert.ok(!after.catalog.includes(name), `${name} is in /v2/_catalog: ${after.catalog}`);
        assert.ok(!after.api.includes(name), `${name} is in /api/v1/repository: ${after.api}`);
        assert.equal((await api(s, 'GET', `/repository/${name}`, ADMIN)).status, 404, name);
      }
    });

    test('the first stored blob creates the repository, owned by its namespace and private by default', async () => {
      const blob = Buffer.from('the first blob');
      const r = await fetch(`${s.url}/v2/admin/good/blobs/uploads/?digest=${sha256(blob)}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: blob,
      });
      assert.equal(r.status, 201, await r.text());
      const now = await repositories();
      assert.ok(now.catalog.includes('admin/good'), `${now.catalog}`);
      assert.ok(now.api.includes('admin/good'), `${now.api}`);
      const view = await api(s, 'GET', '/repository/admin/good', ADMIN);
      assert.equal(view.status, 200);
      assert.equal(view.json.is_public, false);
      // Another user may not push into admin's namespace: refused, and still nothing created.
      assert.equal(
        (await api(s, 'POST', '/user/', ADMIN, { username: 'mallory', password: 'mallory-password-1', email: 'm@example.com' })).status <
          300,
        true,
      );
      const t = await fetch(`${s.url}/v2/auth?service=${encodeURIComponent(host(s))}&scope=repository:admin/mine:pull,push`, {
        headers: { authorization: basic('mallory', 'mallory-password-1') },
      });
      const token = ((await t.json()) as { token: string }).token;
      const denied = await fetch(`${s.url}/v2/admin/mine/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(denied.status, 403);
      assert.ok(!(await repositories()).catalog.includes('admin/mine'));
    });
  });
}
