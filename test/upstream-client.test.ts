// The upstream registry client (src/upstream) against real registries: Debian's docker-registry
// anonymous and with htpasswd Basic auth, and a Berth with accounts (Docker token auth).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  digestVerifier,
  parseImageReference,
  parseUpstreamRegistry,
  TokenCache,
  UpstreamClient,
  UpstreamDigestError,
  UpstreamError,
  UpstreamNotFoundError,
  UpstreamReferenceError,
  UpstreamUnauthorizedError,
  UpstreamUnreachableError,
} from '../src/upstream/index.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { pushImageTo, type PushedImage } from './helpers/push.ts';
import { sha256 } from './helpers/registry-client.ts';
import { freePort, startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, basic, host, registryToken } from './helpers/accounts.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => UpstreamError, re?: RegExp): Promise<UpstreamError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error).constructor.name}: ${(e as Error).message}`);
    if (re) assert.match((e as Error).message, re);
    return e as UpstreamError;
  }
  assert.fail(`expected ${cls.name}, but it succeeded`);
}

describe('upstream references', () => {
  test('registries with and without a namespace prefix; docker.io goes to its API host', () => {
    assert.deepEqual(parseUpstreamRegistry('docker.io/library'), { host: 'docker.io', apiHost: 'registry-1.docker.io', prefix: 'library' });
    assert.deepEqual(parseUpstreamRegistry('127.0.0.1:5001'), { host: '127.0.0.1:5001', apiHost: '127.0.0.1:5001', prefix: '' });
    assert.deepEqual(parseUpstreamRegistry('quay.io/org/sub/'), { host: 'quay.io', apiHost: 'quay.io', prefix: 'org/sub' });
    assert.throws(() => parseUpstreamRegistry(''), UpstreamReferenceError);
    assert.throws(() => parseUpstreamRegistry('https://quay.io'), /without a scheme/);
    assert.throws(() => parseUpstreamRegistry('quay.io/Upper'), /not a valid repository name component/);
    assert.throws(() => parseUpstreamRegistry('host:99999'), /out of range/);
    assert.throws(() => parseUpstreamRegistry('bad host'), /not a valid registry host/);
  });

  test('image references: tag, digest, port, and refusals', () => {
    assert.deepEqual(parseImageReference('localhost:5000/a/b:1.0'), {
      host: 'localhost:5000',
      apiHost: 'localhost:5000',
      prefix: '',
      repository: 'a/b',
      reference: '1.0',
    });
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(parseImageReference(`quay.io/x/y@${d}`).reference, d);
    assert.equal(parseImageReference('docker.io/library/postgres').apiHost, 'registry-1.docker.io');
    assert.throws(() => parseImageReference('library/postgres:16'), /not a registry host/);
    assert.throws(() => parseImageReference('quay.io'), /host\[:port\]\/repository/);
    assert.throws(() => parseImageReference('quay.io/x@nodigest'), /not a valid digest/);
  });

  test('the token cache keeps a token per scope until shortly before it expires', () => {
    let now = 1_000_000;
    const c = new TokenCache(() => now);
    c.set('repository:a:pull', 't1', 300);
    c.set('repository:b:pull', 't2');
    assert.equal(c.get('repository:a:pull'), 't1');
    assert.equal(c.get('repository:b:pull'), 't2');
    now += 56_000; // default 60 s minus the 5 s margin
    assert.equal(c.get('repository:b:pull'), undefined);
    assert.equal(c.get('repository:a:pull'), 't1');
    now += 300_000;
    assert.equal(c.get('repository:a:pull'), undefined);
  });

  test('digestVerifier passes right bytes and fails wrong ones without ending the stream', async () => {
    const data = Buffer.from('hello upstream');
    const ok = await collect(Readable.from([data.subarray(0, 5), data.subarray(5)]).pipe(digestVerifier(sha256(data), data.length)));
    assert.deepEqual(ok, data);
    const seen: Buffer[] = [];
    const sink = () =>
      new Writable({
        write(c, _e, cb) {
          seen.push(c);
          cb();
        },
      });
    await assert.rejects(
      pipeline(Readable.from([Buffer.from('hello'), Buffer.from(' wrong!!')]), digestVerifier(sha256(data)), sink()),
      UpstreamDigestError,
    );
    assert.ok(Buffer.concat(seen).length < 13, 'the last chunk of a wrong stream is held back');
    await assert.rejects(pipeline(Readable.from([data]), digestVerifier(sha256(data), 99), sink()), /14 bytes for blob/);
  });
});

describe('upstream client against docker-registry (anonymous)', () => {
  let reg: Distribution;
  let img: PushedImage;
  before(async () => {
    reg = await startDistribution();
    img = await pushImageTo(reg.url, 'library/alpine', '3.20');
    for (const t of ['a', 'b', 'c', 'd']) await pushImageTo(reg.url, 'library/alpine', t, { seed: '3.20' });
  });
  after(async () => {
    await reg?.cleanup();
  });

  test('ping, HEAD and GET by tag and by digest, blob stream, tag pages', async () => {
    const c = new UpstreamClient({ registry: `${reg.host}/library`, insecure: true });
    try {
      await c.ping();
      const repo = c.repository('alpine');
      assert.equal(repo, 'library/alpine');
      const head = await c.headManifest(repo, '3.20');
      assert.equal(head.digest, img.digest);
      assert.equal(head.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(head.size, img.manifest.length);
      const byTag = await c.getManifest(repo, '3.20');
      assert.deepEqual(byTag.bytes, img.manifest);
      assert.equal(byTag.digest, img.digest);
      const byDigest = await c.getManifest(repo, img.digest);
      assert.equal(byDigest.digest, img.digest);
      const blob = await c.getBlob(repo, img.layers[0].digest);
      assert.equal(blob.size, img.layers[0].size);
      assert.deepEqual(await collect(blob.stream.pipe(digestVerifier(img.layers[0].digest, blob.size))), img.layers[0].bytes);
      const tags = await c.listTags(repo, { pageSize: 2 });
      assert.deepEqual([...tags].sort(), ['3.20', 'a', 'b', 'c', 'd']);
    } finally {
      c.close();
    }
  });

  test('missing things are UpstreamNotFoundError with the upstream OCI error', async () => {
    const c = new UpstreamClient({ registry: reg.host, scheme: 'http' });
    try {
      const e = await rejectsWith(c.getManifest('library/alpine', 'nope'), UpstreamNotFoundError);
      assert.equal(e.status, 404);
      assert.equal(e.errors[0]?.code, 'MANIFEST_UNKNOWN');
      await rejectsWith(c.headManifest('library/alpine', `sha256:${'0'.repeat(64)}`), UpstreamNotFoundError);
      await rejectsWith(c.getBlob('library/alpine', `sha256:${'0'.repeat(64)}`), UpstreamNotFoundError, /blob/);
      await rejectsWith(c.listTags('library/none'), UpstreamNotFoundError, /tag list/);
    } finally {
      c.close();
    }
  });

  test('https without insecure against a plain-HTTP registry, and a closed port, are unreachable with the reason', async () => {
    const strict = new UpstreamClient({ registry: reg.host });
    await rejectsWith(strict.ping(), UpstreamUnreachableError, /does not speak HTTPS.*insecure/);
    strict.close();
    const closed = new UpstreamClient({ registry: `127.0.0.1:${await freePort()}`, insecure: true });
    await rejectsWith(closed.ping(), UpstreamUnreachableError, /connection refused/);
    closed.close();
  });
});

describe('upstream client against docker-registry with htpasswd', () => {
  let reg: Distribution;
  let img: PushedImage;
  before(async () => {
    reg = await startDistribution({ users: { alice: 'alice-secret' } });
    img = await pushImageTo(reg.url, 'team/app', 'v1', { authorization: basic('alice', 'alice-secret') });
  });
  after(async () => {
    await reg?.cleanup();
  });

  test('no credentials and wrong ones are refused; the right ones read', async () => {
    const anon = new UpstreamClient({ registry: reg.host, scheme: 'http' });
    await rejectsWith(anon.ping(), UpstreamUnauthorizedError, /requires a username and password/);
    await rejectsWith(anon.getManifest('team/app', 'v1'), UpstreamUnauthorizedError, /none configured/);
    anon.close();
    const wrong = new UpstreamClient({ registry: reg.host, scheme: 'http', username: 'alice', password: 'nope' });
    await rejectsWith(wrong.ping(), UpstreamUnauthorizedError, /refused the credentials of "alice"/);
    await rejectsWith(wrong.getManifest('team/app', 'v1'), UpstreamUnauthorizedError, /alice/);
    wrong.close();
    const ok = new UpstreamClient({ registry: reg.host, insecure: true, username: 'alice', password: 'alice-secret' });
    try {
      await ok.ping();
      const m = await ok.getManifest('team/app', 'v1');
      assert.equal(m.digest, img.digest);
      const b = await ok.getBlob('team/app', img.config.digest);
      assert.deepEqual(await collect(b.stream), img.config.bytes);
      assert.deepEqual(await ok.listTags('team/app'), ['v1']);
    } finally {
      ok.close();
    }
  });
});

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
for (const dialect of await testDialects()) {
  describe(`upstream client against Berth with accounts: token auth (${dialect})`, () => {
    let s: TestServer;
    let img: PushedImage;
    before(async () => {
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
      const t = await registryToken(s, ['repository:acme/app:pull,push'], ADMIN);
      assert.ok(t.token);
      img = await pushImageTo(s.url, 'acme/app', '1.0', { authorization: `Bearer ${t.token}` });
    });
    after(async () => {
      await s?.stop();
    });

    test('the right password gets a token per scope and reads; anonymous and a wrong password are refused', async () => {
      const ok = new UpstreamClient({ registry: `${host(s)}/acme`, insecure: true, username: ADMIN[0], password: ADMIN[1] });
      try {
        await ok.ping();
        const m = await ok.getManifest(ok.repository('app'), '1.0');
        assert.equal(m.digest, img.digest);
        const h = await ok.headManifest('acme/app', img.digest);
        assert.equal(h.digest, img.digest);
        const b = await ok.getBlob('acme/app', img.layers[0].digest);
        assert.deepEqual(await collect(b.stream.pipe(digestVerifier(img.layers[0].digest))), img.layers[0].bytes);
        assert.deepEqual(await ok.listTags('acme/app'), ['1.0']);
      } finally {
        ok.close();
      }
      const wrong = new UpstreamClient({ registry: host(s), insecure: true, username: ADMIN[0], password: 'wrong' });
      await rejectsWith(wrong.ping(), UpstreamUnauthorizedError, /token endpoint .* refused the credentials of "admin"/);
      await rejectsWith(wrong.getManifest('acme/app', '1.0'), UpstreamUnauthorizedError);
      wrong.close();
      const anon = new UpstreamClient({ registry: host(s), insecure: true });
      const e = await rejectsWith(anon.getManifest('acme/app', '1.0'), UpstreamUnauthorizedError);
      assert.ok(e.status === 401 || e.status === 403, String(e.status));
      anon.close();
    });
  });
}
