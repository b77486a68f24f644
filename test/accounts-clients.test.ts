// Real clients against Berth with accounts: skopeo, podman and buildah log in; a robot pushes; skopeo over HTTPS
// with the CA from `berth certs init` in its certificate directory (no insecure flag).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, BERTH_BIN, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { api, host } from './helpers/accounts.ts';

const have = (bin: string) => spawnSync(bin, ['--version']).status === 0;
const tmp = mkdtempSync(path.join(tmpdir(), 'berth-clients-'));
const ADMIN: [string, string] = ['admin', 'admin-password-1'];
let layout: string;

/** Runs a client without blocking the event loop (the server runs in this process). */
function run(bin: string, args: string[], input?: string): Promise<{ status: number | null; out: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => {
      out += d;
      stderr += d;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out, stderr });
    });
    c.stdin.end(input ?? '');
  });
}

for (const dialect of await testDialects()) {
  describe(`real clients with accounts (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      layout ??= makeOciLayout();
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    });
    after(async () => {
      await s?.stop();
    });

    test('skopeo login with the wrong password fails, with the right one works, and a push then pull succeeds', {
      skip: !have('skopeo'),
    }, async () => {
      const auth = path.join(tmp, `skopeo-auth-${dialect}.json`);
      const bad = await run(
        'skopeo',
        ['login', '--tls-verify=false', '--authfile', auth, '-u', 'admin', '--password-stdin', host(s)],
        'wrong-password\n',
      );
      assert.notEqual(bad.status, 0, bad.out);
      assert.match(bad.stderr, /invalid username\/password|unauthorized/i, 'the wrong password is the reason');
      const ok = await run(
        'skopeo',
        ['login', '--tls-verify=false', '--authfile', auth, '-u', 'admin', '--password-stdin', host(s)],
        `${ADMIN[1]}\n`,
      );
      assert.equal(ok.status, 0, ok.out);
      const push = await run('skopeo', [
        'copy',
        '--authfile',
        auth,
        '--dest-tls-verify=false',
        `oci:${layout}:latest`,
        `docker://${host(s)}/acme/app:1.0`,
      ]);
      assert.equal(push.status, 0, push.out);
      const pull = await run('skopeo', ['inspect', '--authfile', auth, '--tls-verify=false', `docker://${host(s)}/acme/app:1.0`]);
      assert.equal(pull.status, 0, pull.out);
      // Anonymous pull of a private repository is refused.
      const anon = await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${host(s)}/acme/app:1.0`]);
      assert.notEqual(anon.status, 0, anon.out);
      assert.match(
        anon.stderr,
        /requested access to .{0,2}acme\/app.{0,2} is denied|unauthorized|authentication required/i,
        'missing credentials are the reason',
      );
    });

    test('a robot account with write permission pushes; without it, it is denied', { skip: !have('skopeo') }, async () => {
      const robot = await api(s, 'PUT', '/organization/acme/robots/ci', ADMIN);
      assert.equal(robot.status, 201);
      const creds = `${robot.json.name}:${robot.json.token}`;
      const denied = await run('skopeo', [
        'copy',
        '--dest-creds',
        creds,
        '--dest-tls-verify=false',
        `oci:${layout}:latest`,
        `docker://${host(s)}/acme/app:robot`,
      ]);
      assert.notEqual(denied.status, 0, denied.out);
      assert.match(denied.stderr, /denied|unauthorized|forbidden/i, 'the missing permission is the reason');
      assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/acme+ci', ADMIN, { role: 'write' })).status, 200);
      const pushed = await run('skopeo', [
        'copy',
        '--dest-creds',
        creds,
        '--dest-tls-verify=false',
        `oci:${layout}:latest`,
        `docker://${host(s)}/acme/app:robot`,
      ]);
      assert.equal(pushed.status, 0, pushed.out);
      // A regenerated token replaces the old one.
      const regen = await api(s, 'POST', '/organization/acme/robots/ci/regenerate', ADMIN);
      const stale = await run('skopeo', ['inspect', '--creds', creds, '--tls-verify=false', `docker://${host(s)}/acme/app:robot`]);
      assert.notEqual(stale.status, 0, stale.out);
      assert.match(stale.stderr, /invalid username\/password|unauthorized/i, 'the replaced token is the reason');
      const fresh = await run('skopeo', [
        'inspect',
        '--creds',
        `${regen.json.name}:${regen.json.token}`,
        '--tls-verify=false',
        `docker://${host(s)}/acme/app:robot`,
      ]);
      assert.equal(fresh.status, 0, fresh.out);
    });

    test('podman login and buildah login work, with an app-specific token too', { skip: !have('podman') || !have('buildah') }, async () => {
      const store = (n: string) => [
        '--root',
        path.join(tmp, dialect, n, 'root'),
        '--runroot',
        path.join(tmp, dialect, n, 'run'),
        '--storage-driver',
        'vfs',
      ];
      const auth = path.join(tmp, `podman-auth-${dialect}.json`);
      const p = await run(
        'podman',
        [...store('podman'), 'login', '--tls-verify=false', '--authfile', auth, '-u', 'admin', '--password-stdin', host(s)],
        `${ADMIN[1]}\n`,
      );
      assert.equal(p.status, 0, p.out);
      const tok = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'buildah' });
      assert.equal(tok.status, 200);
      const b = await run(
        'buildah',
        [
          ...store('buildah'),
          'login',
          '--tls-verify=false',
          '--authfile',
          path.join(tmp, `buildah-auth-${dialect}.json`),
          '-u',
          '$app',
          '--password-stdin',
          host(s),
        ],
        `${tok.json.token.token_code}\n`,
      );
      assert.equal(b.status, 0, b.out);
      const wrong = await run(
        'podman',
        [...store('podman'), 'login', '--tls-verify=false', '--authfile', auth, '-u', 'admin', '--password-stdin', host(s)],
        'nope-nope\n',
      );
      assert.notEqual(wrong.status, 0, wrong.out);
      assert.match(wrong.stderr, /invalid username\/password|unauthorized/i, 'the wrong password is the reason');
    });

    // TLS does not depend on the database: this one runs once, on SQLite (test/tls.test.ts covers reload and HTTP_LISTEN).
    test('skopeo pushes and pulls over HTTPS with the CA from berth certs init and no insecure flag', {
      skip: !have('skopeo') || (dialect !== 'sqlite' && 'TLS is database-independent; run on SQLite'),
    }, async () => {
      const dir = path.join(tmp, `https-${dialect}`);
      mkdirSync(dir);
      const cfg = path.join(dir, 'config.yaml');
      writeFileSync(cfg, 'SERVER_HOSTNAME: localhost:1\n');
      const init = spawnSync(process.execPath, [BERTH_BIN, 'certs', 'init', '--config', cfg, '--data', dir], { encoding: 'utf8' });
      assert.equal(init.status, 0, init.stderr);
      assert.match(init.stdout, /update-ca-certificates/);
      const tlsDir = path.join(dir, 'tls');
      const hs = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            PREFERRED_URL_SCHEME: 'https',
            TLS_CERT_FILE: path.join(tlsDir, 'server.crt'),
            TLS_KEY_FILE: path.join(tlsDir, 'server.key'),
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
          },
        },
      );
      try {
        const hostPort = host(hs);
        assert.match(hs.url, /^https:/);
        const certDir = path.join(dir, 'certs.d');
        mkdirSync(certDir);
        copyFileSync(path.join(tlsDir, 'ca.crt'), path.join(certDir, 'ca.crt'));
        const push = await run('skopeo', [
          'copy',
          '--dest-cert-dir',
          certDir,
          '--dest-creds',
          `${ADMIN[0]}:${ADMIN[1]}`,
          `oci:${layout}:latest`,
          `docker://${hostPort}/admin/secure:1`,
        ]);
        assert.equal(push.status, 0, push.out);
        const pull = await run('skopeo', [
          'copy',
          '--src-cert-dir',
          certDir,
          '--src-creds',
          `${ADMIN[0]}:${ADMIN[1]}`,
          `docker://${hostPort}/admin/secure:1`,
          `oci:${path.join(dir, 'pulled')}:1`,
        ]);
        assert.equal(pull.status, 0, pull.out);
        // Without the CA the same client refuses the certificate.
        const untrusted = await run('skopeo', ['inspect', '--creds', `${ADMIN[0]}:${ADMIN[1]}`, `docker://${hostPort}/admin/secure:1`]);
        assert.notEqual(untrusted.status, 0);
        assert.match(untrusted.stderr, /certificate signed by unknown authority|x509|certificate/);
      } finally {
        await hs.stop();
      }
    });
  });
}
