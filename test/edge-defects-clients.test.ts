// Defects of issue 13 seen by a new user or behind a load balancer, with real servers and clients:
//   1  without SERVER_HOSTNAME the Bearer realm and service follow the address Berth listens on / the Host
//   6  TRUSTED_PROXIES: X-Forwarded-For counts only from the listed proxies (login throttling per real client)
//  13  the first administrator needs the one-time setup code from the console unless created from loopback
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { BERTH_BIN, freePort, startServer, type TestServer } from './helpers/server.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { basic } from './helpers/accounts.ts';
import { buildWebIfStale, launchChromium, noChromium } from './helpers/ui.ts';

const have = (bin: string) => spawnSync(bin, ['--version']).status === 0;
const ADMIN: [string, string] = ['admin', 'admin-password-1'];

/** Runs a client without blocking the event loop. */
function run(bin: string, args: string[], input = ''): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
    c.stdin.end(input);
  });
}

interface Served {
  url: string;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

/** `berth serve --listen host:port` with a config file (no SERVER_HOSTNAME unless given); waits for its console line. */
async function serve(listen: string, config: Record<string, unknown>): Promise<Served> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-edge-'));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, stringifyYaml({ AUTHENTICATION_TYPE: 'Database', PBKDF2_ITERATIONS: 1000, ...config }));
  const proc = spawn(process.execPath, [BERTH_BIN, 'serve', '--config', file, '--data', path.join(dir, 'data'), '--listen', listen], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d) => (out += d));
    proc.on('exit', (code) => reject(new Error(`berth serve exited ${code}: ${out}`)));
  });
  return {
    url,
    dir,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('defect 1: without SERVER_HOSTNAME the token realm follows the listen address', () => {
  let s: Served;
  let hostPort: string;
  before(async () => {
    hostPort = `127.0.0.1:${await freePort()}`;
    s = await serve(hostPort, { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } });
  });
  after(() => s?.stop());

  test('the challenge names this port, the token endpoint issues tokens for it, and they work', async () => {
    const r = await fetch(`http://${hostPort}/v2/`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="http://${hostPort}/v2/auth",service="${hostPort}"`);
    const t = await fetch(`http://${hostPort}/v2/auth?service=${hostPort}&scope=repository:admin/x:pull,push`, {
      headers: { authorization: basic(...ADMIN) },
    });
    assert.equal(t.status, 200, await t.clone().text());
    const { token } = (await t.json()) as { token: string };
    const aud = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).aud;
    assert.equal(aud, hostPort);
    assert.equal((await fetch(`http://${hostPort}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    // A client that reached the server by another name gets a realm with that name.
    const port = hostPort.split(':')[1];
    const challenge = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v2/', headers: { host: `localhost:${port}` } }, (res) => {
          res.resume();
          resolve(String(res.headers['www-authenticate']));
        })
        .on('error', reject);
    });
    assert.equal(challenge, `Bearer realm="http://localhost:${port}/v2/auth",service="localhost:${port}"`);
  });

  test('skopeo logs in, pushes and pulls on a non-default port', { skip: !have('skopeo') && 'skopeo is not installed' }, async () => {
    const layout = makeOciLayout('edge-defect-1');
    const auth = path.join(s.dir, 'auth.json');
    const login = await run(
      'skopeo',
      ['login', '--tls-verify=false', '--authfile', auth, '-u', ADMIN[0], '--password-stdin', hostPort],
      `${ADMIN[1]}\n`,
    );
    assert.equal(login.status, 0, login.out);
    const push = await run('skopeo', [
      'copy',
      '--authfile',
      auth,
      '--dest-tls-verify=false',
      `oci:${layout}:latest`,
      `docker://${hostPort}/admin/app:1.0`,
    ]);
    assert.equal(push.status, 0, push.out);
    const pull = await run('skopeo', [
      'copy',
      '--authfile',
      auth,
      '--src-tls-verify=false',
      `docker://${hostPort}/admin/app:1.0`,
      `oci:${path.join(s.dir, 'pulled')}:1.0`,
    ]);
    assert.equal(pull.status, 0, pull.out);
    const index = JSON.parse(readFileSync(path.join(s.dir, 'pulled', 'index.json'), 'utf8')) as { manifests: unknown[] };
    assert.equal(index.manifests.length, 1);
  });
});

describe('defect 6: TRUSTED_PROXIES decides whose X-Forwarded-For counts', () => {
  const limits = { LOGIN_FAILURE_LIMIT: 2, LOGIN_BACKOFF_SECONDS: 60, BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } };
  /** Eight failed logins (the per-address allowance: 4 x LOGIN_FAILURE_LIMIT) from `from`, each on another account. */
  async function attack(s: TestServer, from: string) {
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${s.url}/v2/auth`, { headers: { authorization: basic(`nobody${i}`, 'wrong'), 'x-forwarded-for': from } });
      assert.ok(r.status === 401 || r.status === 429, `attempt ${i}: ${r.status}`);
    }
  }
  const login = (s: TestServer, from: string) =>
    fetch(`${s.url}/v2/auth`, { headers: { authorization: basic(...ADMIN), 'x-forwarded-for': from } });

  test('without TRUSTED_PROXIES a client cannot pick its address with X-Forwarded-For', async () => {
    const s = await startServer('sqlite', {}, { auth: true, config: limits });
    try {
      await attack(s, '203.0.113.7');
      assert.equal((await login(s, '198.51.100.9')).status, 429, 'a forged X-Forwarded-For does not escape the throttle');
    } finally {
      await s.stop();
    }
  });

  test('behind a trusted proxy, two forwarded clients are throttled separately', async () => {
    const s = await startServer('sqlite', {}, { auth: true, config: { ...limits, TRUSTED_PROXIES: ['127.0.0.1/32', '::1/128'] } });
    try {
      await attack(s, '203.0.113.7');
      assert.equal((await login(s, '203.0.113.7')).status, 429, 'the attacker is throttled');
      assert.equal((await login(s, '198.51.100.9')).status, 200, 'another client behind the same proxy is not');
      // The right-most untrusted address counts: a client cannot prepend a forged one.
      assert.equal((await login(s, '198.51.100.9, 203.0.113.7')).status, 429);
    } finally {
      await s.stop();
    }
  });

  test('TRUSTED_PROXIES entries must be addresses or CIDR ranges', async () => {
    await assert.rejects(startServer('sqlite', {}, { config: { TRUSTED_PROXIES: ['10.0.0.0/33'] } }), /TRUSTED_PROXIES/);
    await assert.rejects(startServer('sqlite', {}, { config: { TRUSTED_PROXIES: 'everyone' } }), /TRUSTED_PROXIES/);
  });
});

/** This machine's first non-loopback IPv4 address (the server binds to it so requests come from off-loopback). */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('defect 13: the first administrator needs the setup code from the console', () => {
  const ip = lanAddress();

  test('from the network: no code and a wrong code are refused, the printed code works once', {
    skip: !ip && 'this machine has no non-loopback IPv4 address',
  }, async () => {
    const s = await serve(`${ip}:0`, {});
    try {
      const m = /setup code: ([0-9a-f]{32})/i.exec(s.output());
      assert.ok(m, `the console shows the code: ${s.output()}`);
      const code = m![1];
      const file = path.join(s.dir, 'data', 'setup-code');
      assert.equal(readFileSync(file, 'utf8').trim(), code);
      assert.equal(statSync(file).mode & 0o777, 0o600, 'only the server user may read it');
      const state = (await (await fetch(`${s.url}/api/v1/setup`)).json()) as { needs_admin: boolean; needs_code: boolean };
      assert.deepEqual([state.needs_admin, state.needs_code], [true, true]);
      const post = (body: Record<string, unknown>) =>
        fetch(`${s.url}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const none = await post({ username: 'root', password: 'root-password-1' });
      assert.equal(none.status, 403);
      assert.match(((await none.json()) as { error_message: string }).error_message, /setup code.*console.*setup-code/s);
      const wrong = await post({ username: 'root', password: 'root-password-1', setup_code: 'f'.repeat(32) });
      assert.equal(wrong.status, 403);
      assert.match(((await wrong.json()) as { error_message: string }).error_message, /setup code is not right/);
      const ok = await post({ username: 'root', password: 'root-password-1', setup_code: code });
      assert.equal(ok.status, 201, await ok.clone().text());
      assert.ok(!existsSync(file), 'the code file is removed once used');
      const again = await post({ username: 'root2', password: 'root-password-2', setup_code: code });
      assert.equal(again.status, 409, 'the code is spent and the administrator exists');
      const signin = await fetch(`${s.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'root', password: 'root-password-1' }),
      });
      assert.equal(signin.status, 200);
    } finally {
      await s.stop();
    }
  });

  test('the web UI asks for the setup code from another machine and names what is wrong', {
    skip: !ip ? 'this machine has no non-loopback IPv4 address' : noChromium,
  }, async () => {
    await buildWebIfStale();
    const s = await serve(`${ip}:0`, {});
    const browser = await launchChromium();
    try {
      const code = /setup code: ([0-9a-f]{32})/.exec(s.output())![1];
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(`${s.url}/`);
      await page.getByRole('heading', { name: 'Welcome to Berth' }).waitFor();
      await page.getByLabel('Administrator username').fill('root');
      await page.getByLabel('Password', { exact: true }).fill('root-password-1');
      await page.getByLabel('Repeat the password').fill('root-password-1');
      await page.getByLabel('Setup code').fill('f'.repeat(32));
      await page.getByRole('button', { name: 'Create administrator' }).click();
      await page.getByText(/the setup code is not right/).waitFor();
      assert.equal(await page.getByLabel('Setup code').getAttribute('aria-invalid'), 'true');
      await page.getByLabel('Setup code').fill(code);
      await page.getByRole('button', { name: 'Create administrator' }).click();
      await page.getByText('Signed in as').waitFor();
    } finally {
      await browser.close();
      await s.stop();
    }
  });

  test('from loopback the first administrator is still one step', async () => {
    const s = await startServer('sqlite', {}, { auth: true });
    try {
      const state = (await (await fetch(`${s.url}/api/v1/setup`)).json()) as { needs_admin: boolean; needs_code: boolean };
      assert.deepEqual([state.needs_admin, state.needs_code], [true, false]);
      const r = await fetch(`${s.url}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'root', password: 'root-password-1' }),
      });
      assert.equal(r.status, 201, await r.clone().text());
      assert.ok(!existsSync(path.join(s.dataDir, 'setup-code')));
      // A forwarded request (a proxy on this machine) is not loopback, even when the proxy is not trusted.
      const s2 = await startServer('sqlite', {}, { auth: true });
      try {
        const fwd = await fetch(`${s2.url}/api/v1/setup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.5' },
          body: JSON.stringify({ username: 'root', password: 'root-password-1' }),
        });
        assert.equal(fwd.status, 403);
      } finally {
        await s2.stop();
      }
    } finally {
      await s.stop();
    }
  });
});
