// FIPS mode (issue 8). Runs in every test process:
//   - FEATURE_FIPS in a process without a FIPS provider refuses to start, printing the exact fix;
//   - configuration that needs a non-approved algorithm is refused with a clear message;
//   - TLS options of FIPS mode refuse ChaCha20 and TLS < 1.2 (a real handshake);
//   - secrets in the database (token-signing private keys) are AES-256-GCM sealed, old plaintext rows are sealed in place;
//   - certificates from berth certs init are ECDSA P-256 with SHA-256 key identifiers.
// With a FIPS provider (BERTH_FIPS_OPENSSL_CONF, or OPENSSL_CONF when this process is itself in FIPS mode;
// scripts/fips-provider.sh builds one), end to end in a real FIPS process: berth certs init, berth serve --fips over
// HTTPS, push and pull (sha256 and sha512 digests), sign-in (PBKDF2), an ES256 token, /api/v1/status, and the
// refusals: MD5, ChaCha20, RSA-1024 keys, TLS 1.1.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, getFips, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Agent, fetch as ufetch } from 'undici';
import { stringify as stringifyYaml } from 'yaml';
import { validateConfig } from '../src/config/load.ts';
import { tlsOptions, tlsKeyProblems, SecretBox } from '../src/crypto/index.ts';
import { initCertificates } from '../src/startup/certs.ts';
import { BERTH_BIN, freePort, startServer } from './helpers/server.ts';
import { registryToken } from './helpers/accounts.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'berth-fips-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The environment of a process that is NOT in FIPS mode (whatever this test process runs with). */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.OPENSSL_CONF;
  delete env.NODE_OPTIONS;
  delete env.FEATURE_FIPS;
  return env;
}

/** An RSA-1024 key and self-signed certificate, made by the system openssl outside FIPS mode. */
function weakRsaPair(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, 'weak.crt');
  const key = path.join(dir, 'weak.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-subj', '/CN=weak', '-days', '2', '-keyout', key, '-out', cert],
    { env: plainEnv(), stdio: 'pipe' },
  );
  return { cert, key };
}

describe('FIPS mode without a FIPS provider', () => {
  for (const how of ['--fips', 'FEATURE_FIPS: true'] as const) {
    test(`berth serve with ${how} refuses to start and prints the exact fix`, () => {
      const dir = mkdtempSync(path.join(tmp, 'refuse-'));
      const args = [BERTH_BIN, 'serve', '--listen', '127.0.0.1:0', '--data', dir];
      if (how === '--fips') args.push('--fips');
      else {
        writeFileSync(path.join(dir, 'config.yaml'), 'FEATURE_FIPS: true\nAUTHENTICATION_TYPE: None\n');
        args.push('--config', path.join(dir, 'config.yaml'));
      }
      const r = spawnSync(process.execPath, args, { env: plainEnv(), encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /listening/);
      assert.match(
        r.stderr,
        /FEATURE_FIPS is on, but this process is not in FIPS mode \(crypto\.getFips\(\) = 0, OpenSSL 3\.\d+\.\d+\): node was not started with --enable-fips/,
      );
      assert.match(r.stderr, /scripts\/fips-provider\.sh/);
      assert.match(
        r.stderr,
        new RegExp(
          `OPENSSL_CONF=/var/cache/berth-fips/openssl.cnf ${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --enable-fips .*bin/berth\\.js serve`,
        ),
      );
      assert.match(r.stderr, /docs\/FIPS\.md/);
      assert.ok(!existsSync(path.join(dir, 'berth.db')), 'nothing was opened before the refusal');
    });
  }
});

describe('FIPS configuration policy', () => {
  test('non-approved TLS suites and protocols are refused in FIPS mode with a clear message, accepted otherwise', () => {
    const chacha = { SSL_CIPHERS: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'] };
    assert.deepEqual(validateConfig(chacha).problems, []);
    const p = validateConfig({ ...chacha, FEATURE_FIPS: true }).problems;
    assert.equal(p.length, 1);
    assert.match(p[0], /^SSL_CIPHERS: FIPS mode refuses "ECDHE-RSA-CHACHA20-POLY1305": ChaCha20-Poly1305 is not a FIPS-approved cipher/);
    assert.match(validateConfig({ FEATURE_FIPS: true, SSL_CIPHERS: ['DES-CBC3-SHA'] }).problems[0], /DES-CBC3-SHA.*not FIPS-approved/);
    assert.match(validateConfig({ FEATURE_FIPS: true, SSL_CIPHERS: ['ECDHE-RSA-AES128-SHA'] }).problems[0], /HMAC-SHA1/);
    assert.deepEqual(
      validateConfig({
        FEATURE_FIPS: true,
        SSL_CIPHERS: ['TLS_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
        SSL_PROTOCOLS: ['TLSv1.2', 'TLSv1.3'],
      }).problems,
      [],
    );
    assert.deepEqual(validateConfig({ FEATURE_FIPS: true, SSL_PROTOCOLS: ['TLSv1.1', 'TLSv1.2'] }).problems, [
      'SSL_PROTOCOLS: FIPS mode refuses TLSv1.1: only TLSv1.2 and TLSv1.3 are allowed',
    ]);
    assert.match(validateConfig({ SSL_PROTOCOLS: ['TLSv1', 'TLSv1.3'] }).problems[0], /contiguous/);
    assert.match(validateConfig({ DATABASE_SECRET_KEY: 'short' }).problems[0], /^DATABASE_SECRET_KEY: must be at least 32 characters/);
  });

  test('an RSA key under 2048 bits is refused, ECDSA P-256 and RSA-2048 are accepted', async () => {
    const weak = weakRsaPair(mkdtempSync(path.join(tmp, 'weak-')));
    const problems = tlsKeyProblems(readFileSync(weak.cert), readFileSync(weak.key), 'server.crt');
    assert.ok(problems.length >= 1);
    assert.match(problems[0], /^server\.crt: FIPS mode refuses the certificate: an RSA key of 1024 bits \(at least 2048 are required/);
    const dir = mkdtempSync(path.join(tmp, 'certs-'));
    const made = await initCertificates(dir, ['localhost']);
    assert.deepEqual(tlsKeyProblems(readFileSync(made.serverCert), readFileSync(made.serverKey), 'x'), []);
  });

  test('berth certs init makes ECDSA P-256 keys signed with SHA-256 and SHA-256 key identifiers (no SHA-1)', async () => {
    const dir = mkdtempSync(path.join(tmp, 'certs-'));
    const made = await initCertificates(dir, ['registry.example', '127.0.0.1']);
    for (const f of [made.caCert, made.serverCert]) {
      const c = new X509Certificate(readFileSync(f));
      assert.equal(c.publicKey.asymmetricKeyType, 'ec');
      assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', f], { env: plainEnv(), encoding: 'utf8' });
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      // RFC 7093 method 1: the leftmost 160 bits of SHA-256 over the public key bits (an uncompressed P-256 point).
      const point = c.publicKey.export({ format: 'der', type: 'spki' }).subarray(-65);
      const ski = createHash('sha256').update(point).digest('hex').slice(0, 40).toUpperCase().match(/../g)!.join(':');
      assert.match(text, new RegExp(`Subject Key Identifier: *\\n *${ski}`));
    }
    const server = execFileSync('openssl', ['x509', '-noout', '-text', '-in', made.serverCert], { env: plainEnv(), encoding: 'utf8' });
    const caSki = /Subject Key Identifier: *\n *(\S+)/.exec(
      execFileSync('openssl', ['x509', '-noout', '-text', '-in', made.caCert], { env: plainEnv(), encoding: 'utf8' }),
    )![1];
    assert.match(server, new RegExp(`Authority Key Identifier: *\\n *(keyid:)?${caSki}`));
  });

  test('FIPS TLS options: a real handshake refuses ChaCha20 and TLS 1.1, accepts AES-GCM over TLS 1.2 and 1.3', async () => {
    const dir = mkdtempSync(path.join(tmp, 'tls-'));
    const made = await initCertificates(dir, ['localhost']);
    const server = tls.createServer(
      { cert: readFileSync(made.serverCert), key: readFileSync(made.serverKey), ...tlsOptions({ fips: true }) },
      (s) => s.end('ok'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const hello = (o: tls.ConnectionOptions) =>
        new Promise<string>((resolve) => {
          const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(made.caCert), servername: 'localhost', ...o }, () => {
            resolve(`${s.getProtocol()} ${s.getCipher().standardName}`);
            s.destroy();
          });
          s.on('error', (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
        });
      assert.match(await hello({}), /^TLSv1\.3 TLS_AES_(256_GCM_SHA384|128_GCM_SHA256)$/);
      assert.equal(await hello({ maxVersion: 'TLSv1.2' }), 'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
      if (getFips() !== 1) {
        // A client that offers only ChaCha20 (possible only outside FIPS mode) gets no handshake.
        assert.match(
          await hello({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }),
          /^refused: .*(HANDSHAKE_FAILURE|NO_SHARED_CIPHER|ECONNRESET)/i,
        );
        assert.match(await hello({ minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }), /^refused/);
      }
      assert.match(await hello({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }), /^refused/);
    } finally {
      server.close();
    }
  });
});

describe('database secrets at rest (AES-256-GCM)', () => {
  test('signing keys are stored sealed; a plaintext row from before is read and sealed in place; a wrong key says so', async () => {
    const s = await startServer(
      'sqlite',
      {},
      { auth: true, config: { BOOTSTRAP_ADMIN: { username: 'admin', password: 'admin-password-1' } } },
    );
    try {
      const t = await registryToken(s, ['repository:admin/x:pull'], ['admin', 'admin-password-1']);
      assert.equal(t.status, 200);
      const db = s.berth.database.db;
      const rows = await db.selectFrom('signing_key').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.match(rows[0].private_pem, /^aes256gcm\.v1\.[0-9a-f]{16}\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
      assert.doesNotMatch(rows[0].private_pem, /PRIVATE KEY/);
      assert.match(readFileSync(path.join(s.dataDir, 'database-secret.key'), 'utf8'), /^[0-9a-f]{64}\n$/);
      // A value sealed for one row cannot be moved to another.
      const box = new SecretBox(Buffer.from(readFileSync(path.join(s.dataDir, 'database-secret.key'), 'utf8').trim()));
      const pem = box.open(rows[0].private_pem, `signing_key:${rows[0].kid}`);
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
      assert.throws(() => box.open(rows[0].private_pem, 'signing_key:other'), /failed authentication/);
      assert.throws(
        () => new SecretBox(Buffer.from('b'.repeat(64))).open(rows[0].private_pem, `signing_key:${rows[0].kid}`),
        /sealed with another database secret key/,
      );
      // An old plaintext row (before sealing) still works and is sealed on first use.
      await db.updateTable('signing_key').set({ private_pem: pem }).execute();
      const again = await s.berth.accounts.tokens.issue('admin', []);
      assert.ok(again.token);
      const fresh = new (s.berth.accounts.tokens.constructor as new (c: unknown) => typeof s.berth.accounts.tokens)(s.berth.accounts.ctx);
      await fresh.issue('admin', []);
      assert.match((await db.selectFrom('signing_key').select('private_pem').executeTakeFirstOrThrow()).private_pem, /^aes256gcm\.v1\./);
      assert.deepEqual((await fresh.verify(again.token)).sub, 'admin');
    } finally {
      await s.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// With a real FIPS provider.
// They run whenever a provider is there: the one named by BERTH_FIPS_OPENSSL_CONF, this process's own
// (in FIPS mode), or the one scripts/fips-provider.sh caches; no switch is needed to turn them on.
const CACHED_FIPS_CONF = '/var/cache/berth-fips/openssl.cnf';
const fipsConf =
  process.env.BERTH_FIPS_OPENSSL_CONF ??
  (getFips() === 1 ? process.env.OPENSSL_CONF : undefined) ??
  (existsSync(CACHED_FIPS_CONF) ? CACHED_FIPS_CONF : undefined);
const skip =
  fipsConf && existsSync(fipsConf)
    ? false
    : `no OpenSSL FIPS provider: ${fipsConf ?? CACHED_FIPS_CONF} is missing (run scripts/fips-provider.sh once; CI does)`;

function fipsEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...plainEnv(extra), OPENSSL_CONF: fipsConf!, NODE_OPTIONS: '--enable-fips' };
}

// (the skip is on each test: Node 20 does not count a skipped describe)
describe('in a FIPS process (OpenSSL FIPS provider)', () => {
  test('the provider is really active, and non-approved algorithms fail in the process', { skip }, () => {
    const script = `
      const c = require('node:crypto');
      const tryIt = (f) => { try { f(); return 'ok'; } catch (e) { return 'refused'; } };
      const key = c.randomBytes(32), iv = c.randomBytes(12);
      console.log(JSON.stringify({
        fips: c.getFips(),
        sha256: tryIt(() => c.createHash('sha256').update('x').digest()),
        sha512: tryIt(() => c.createHash('sha512').update('x').digest()),
        pbkdf2: tryIt(() => c.pbkdf2Sync('password', c.randomBytes(16), 1000, 32, 'sha256')),
        aesgcm: tryIt(() => c.createCipheriv('aes-256-gcm', key, iv).final()),
        p256: tryIt(() => c.generateKeyPairSync('ec', { namedCurve: 'P-256' })),
        md5: tryIt(() => c.createHash('md5').update('x').digest()),
        md5hmac: tryIt(() => c.createHmac('md5', 'k').update('x').digest()),
        chacha20: tryIt(() => c.createCipheriv('chacha20-poly1305', key, iv, { authTagLength: 16 }).final()),
        rsa1024: tryIt(() => c.generateKeyPairSync('rsa', { modulusLength: 1024 })),
        rc4: tryIt(() => c.createCipheriv('rc4', key.subarray(0, 16), null).final()),
      }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: fipsEnv(), encoding: 'utf8' }));
    assert.deepEqual(out, {
      fips: 1,
      sha256: 'ok',
      sha512: 'ok',
      pbkdf2: 'ok',
      aesgcm: 'ok',
      p256: 'ok',
      md5: 'refused',
      md5hmac: 'refused',
      chacha20: 'refused',
      rsa1024: 'refused',
      rc4: 'refused',
    });
  });

  test('berth certs init, serve --fips over HTTPS: push, pull, sign-in, ES256 token, status; refusals', {
    skip,
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmp, 'e2e-'));
    const port = await freePort();
    const hostPort = `127.0.0.1:${port}`;
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(
      cfg,
      stringifyYaml({
        SERVER_HOSTNAME: hostPort,
        PBKDF2_ITERATIONS: 1000,
        BOOTSTRAP_ADMIN: { username: 'admin', password: 'fips-admin-pw' },
      }),
    );
    // berth certs init in FIPS mode.
    const certs = spawnSync(process.execPath, [BERTH_BIN, 'certs', 'init', '--config', cfg, '--data', dir], {
      env: fipsEnv(),
      encoding: 'utf8',
    });
    assert.equal(certs.status, 0, certs.stderr);
    const tlsDir = path.join(dir, 'tls');
    writeFileSync(
      cfg,
      `${readFileSync(cfg, 'utf8')}${stringifyYaml({ PREFERRED_URL_SCHEME: 'https', TLS_CERT_FILE: path.join(tlsDir, 'server.crt'), TLS_KEY_FILE: path.join(tlsDir, 'server.key') })}`,
    );

    const proc = spawn(process.execPath, [BERTH_BIN, 'serve', '--fips', '--config', cfg, '--data', dir, '--listen', hostPort], {
      env: fipsEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => proc.on('exit', r));
    try {
      const deadline = Date.now() + 60_000;
      while (!/FIPS mode: on/.test(out) && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, /Berth listening on https:\/\/127\.0\.0\.1:\d+/, out);
      assert.match(
        out,
        new RegExp(
          `FIPS mode: on: only FIPS provider algorithms \\(OpenSSL 3\\.\\d+\\.\\d+ core, OPENSSL_CONF=${fipsConf!.replace(/[.]/g, '\\.')}, module \\S+fips\\.so\\)`,
        ),
        out,
      );

      const dispatcher = new Agent({ connect: { ca: readFileSync(path.join(tlsDir, 'ca.crt')) } });
      const base = `https://${hostPort}`;
      const call = (p: string, init: Parameters<typeof ufetch>[1] = {}) => ufetch(`${base}${p}`, { dispatcher, ...init });
      const basicAuth = `Basic ${Buffer.from('admin:fips-admin-pw').toString('base64')}`;

      // Sign in (PBKDF2-HMAC-SHA256) and read the FIPS status.
      const signin = await call('/api/v1/signin', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'fips-admin-pw' }),
      });
      assert.equal(signin.status, 200, await signin.clone().text());
      const bad = await call('/api/v1/signin', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'wrong-password' }),
      });
      assert.equal(bad.status, 401);
      const status = (await (await call('/api/v1/status', { headers: { authorization: basicAuth } })).json()) as {
        fips_mode: boolean;
        fips: Record<string, unknown>;
      };
      assert.equal(status.fips_mode, true);
      assert.equal(status.fips.process_fips, true);
      assert.equal(status.fips.openssl_conf, fipsConf);
      const anon = (await (await call('/api/v1/status')).json()) as { fips_mode: boolean; fips: Record<string, unknown> };
      assert.deepEqual(anon, { fips_mode: true, fips: { feature_fips: true, process_fips: true } });

      // A registry token (ES256) for push and pull.
      const tr = await call(`/v2/auth?service=${encodeURIComponent(hostPort)}&scope=repository:admin/fips:push,pull`, {
        headers: { authorization: basicAuth },
      });
      assert.equal(tr.status, 200);
      const { token } = (await tr.json()) as { token: string };
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg, 'ES256');
      const auth = { authorization: `Bearer ${token}` };

      // Push: a sha256 layer, a sha512 layer (digest as a client may send it), a config, a manifest.
      const blobs: { digest: string; size: number; bytes: Buffer }[] = [];
      for (const [alg, bytes] of [
        ['sha256', Buffer.from('{"architecture":"amd64","os":"linux"}')],
        ['sha256', Buffer.from('fips layer one '.repeat(1000))],
        ['sha512', Buffer.from('fips layer two '.repeat(1000))],
      ] as const) {
        const digest = `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
        const r = await call(`/v2/admin/fips/blobs/uploads/?digest=${digest}`, {
          method: 'POST',
          body: bytes,
          headers: { ...auth, 'content-type': 'application/octet-stream' },
        });
        assert.equal(r.status, 201, await r.text());
        assert.equal(r.headers.get('docker-content-digest'), digest);
        blobs.push({ digest, size: bytes.length, bytes });
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0].digest, size: blobs[0].size },
          layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.size })),
        }),
      );
      const put = await call('/v2/admin/fips/manifests/v1', {
        method: 'PUT',
        body: manifest,
        headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(put.status, 201, await put.text());
      const mdigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
      assert.equal(put.headers.get('docker-content-digest'), mdigest);

      // Pull it back and verify every digest.
      const got = await call('/v2/admin/fips/manifests/v1', { headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(got.status, 200);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), manifest);
      for (const b of blobs) {
        const r = await call(`/v2/admin/fips/blobs/${b.digest}`, { headers: auth });
        assert.equal(r.status, 200);
        const body = Buffer.from(await r.arrayBuffer());
        assert.deepEqual(body, b.bytes);
      }
      // MD5 digests are not a thing Berth accepts (in or out of FIPS mode).
      const md5 = await call('/v2/admin/fips/blobs/md5:d41d8cd98f00b204e9800998ecf8427e', { headers: auth });
      assert.equal(md5.status, 400);

      // TLS of the running server: a non-FIPS client offering only ChaCha20 or TLS 1.1 gets no handshake.
      const probe = `
        const tls = require('node:tls');
        const hello = (o) => new Promise((res) => { const s = tls.connect({ host: '127.0.0.1', port: ${port}, rejectUnauthorized: false, ...o }, () => { res(s.getProtocol() + ' ' + s.getCipher().standardName); s.destroy(); }); s.on('error', (e) => res('refused')); });
        (async () => console.log(JSON.stringify([
          await hello({}),
          await hello({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }),
          await hello({ minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }),
          await hello({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
          await hello({ maxVersion: 'TLSv1.2', ecdhCurve: 'X25519' }),
        ])))();`;
      const tlsOut = JSON.parse(execFileSync(process.execPath, ['-e', probe], { env: plainEnv(), encoding: 'utf8' })) as string[];
      assert.match(tlsOut[0], /^TLSv1\.3 TLS_AES_(256_GCM_SHA384|128_GCM_SHA256)$/);
      assert.deepEqual(tlsOut.slice(1), ['refused', 'refused', 'refused', 'refused']);
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
    assert.match(out, /Berth stopped/);
    assert.doesNotMatch(out, /fips-admin-pw/);
  });

  test('serve --fips refuses an RSA-1024 certificate and a ChaCha20 cipher list with clear messages', { skip }, async () => {
    const dir = mkdtempSync(path.join(tmp, 'refuse-fips-'));
    const weak = weakRsaPair(dir);
    const run = (doc: Record<string, unknown>) => {
      writeFileSync(path.join(dir, 'config.yaml'), stringifyYaml({ AUTHENTICATION_TYPE: 'None', ...doc }));
      return spawnSync(
        process.execPath,
        [BERTH_BIN, 'serve', '--fips', '--config', path.join(dir, 'config.yaml'), '--data', dir, '--listen', '127.0.0.1:0'],
        { env: fipsEnv(), encoding: 'utf8', timeout: 60_000 },
      );
    };
    const rsa = run({ TLS_CERT_FILE: weak.cert, TLS_KEY_FILE: weak.key });
    assert.equal(rsa.status, 1, rsa.stdout + rsa.stderr);
    assert.match(
      rsa.stderr,
      /FIPS mode refuses this configuration:\n .*weak\.crt.*: FIPS mode refuses the certificate: an RSA key of 1024 bits \(at least 2048 are required/,
    );
    const chacha = run({ SSL_CIPHERS: ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'] });
    assert.equal(chacha.status, 1);
    assert.match(
      chacha.stderr,
      /SSL_CIPHERS: FIPS mode refuses "TLS_CHACHA20_POLY1305_SHA256": ChaCha20-Poly1305 is not a FIPS-approved cipher/,
    );
    assert.doesNotMatch(rsa.stdout + chacha.stdout, /listening/);
  });
});
