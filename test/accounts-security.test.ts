// Brute force and bad input: oversized credentials, malformed JWTs, alg none, foreign keys, path tricks,
// secrets at rest and in logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SignJWT, generateKeyPair, decodeProtectedHeader } from 'jose';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { RegistryTokenService } from '../src/services/accounts/tokens.ts';
import { api, basic, host, registryToken } from './helpers/accounts.ts';
import { waitFor } from './helpers/wait.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
/** Every secret a test sends; none may reach the server log. */
const secrets = new Set<string>();

for (const dialect of await testDialects()) {
  describe(`bad input and secrets (${dialect})`, () => {
    let s: TestServer;
    let log = '';

    before(async () => {
      const stream = new Writable({
        write(chunk, _enc, cb) {
          log += chunk;
          cb();
        },
      });
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 3, LOGIN_BACKOFF_SECONDS: 60 },
          logger: { level: 'info', stream },
        },
      );
      assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: 'victim', password: 'victim-password-1' })).status, 201);
      assert.equal(
        (await api(s, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: 'app', visibility: 'private' })).status,
        201,
      );
    });
    after(async () => {
      await s?.stop();
    });

    const v2 = (path: string, authorization?: string) => fetch(`${s.url}${path}`, { headers: authorization ? { authorization } : {} });

    test('repeated failed logins are slowed down per account (429 with Retry-After), even for the right password', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await registryToken(s, [], ['victim', `guess-${i}`])).status, 401);
      const r = await fetch(`${s.url}/v2/auth?service=${host(s)}`, { headers: { authorization: basic('victim', 'victim-password-1') } });
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      assert.match(await r.text(), /TOOMANYREQUESTS/);
      // Another account from the same address is not locked out yet.
      assert.equal((await registryToken(s, [], ADMIN)).status, 200);
    });

    test('oversized and malformed credentials are refused with 401', async () => {
      const big = await fetch(`${s.url}/v2/auth`, { headers: { authorization: basic('x'.repeat(600), 'y') } });
      assert.equal(big.status, 401);
      const huge = await fetch(`${s.url}/v2/auth`, { headers: { authorization: basic('admin', 'p'.repeat(5000)) } });
      assert.equal(huge.status, 401);
      const notB64 = await fetch(`${s.url}/v2/auth`, { headers: { authorization: 'Basic !!!' } });
      assert.equal(notB64.status, 401);
      const longToken = `${'a'.repeat(600)}`;
      const apiLong = await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${longToken}` } });
      assert.equal(apiLong.status, 401);
      const apiHugeBasic = await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: basic('admin', 'q'.repeat(5000)) } });
      assert.equal(apiHugeBasic.status, 400);
      const hugeCookie = await fetch(`${s.url}/api/v1/user/`, { headers: { cookie: `berth_session=${'c'.repeat(10_000)}` } });
      assert.equal(hugeCookie.status, 401);
      const v2Huge = await v2('/v2/admin/app/tags/list', `Bearer ${'b'.repeat(9000)}`);
      assert.equal(v2Huge.status, 401);
      for (const x of ['p'.repeat(5000), 'q'.repeat(5000), longToken, 'b'.repeat(9000)]) secrets.add(x);
      const apiBig = await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${'a'.repeat(9000)}` } });
      assert.equal(apiBig.status, 401);
      assert.ok(((await apiBig.json()) as { error_message: string }).error_message);
    });

    test('malformed JWTs, alg none, foreign keys and forged claims get 401 with a fresh challenge', async () => {
      const good = await registryToken(s, ['repository:admin/app:pull'], ADMIN);
      const [h, p] = good.token!.split('.');
      const kid = decodeProtectedHeader(good.token!).kid!;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const none = `${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(claims)}.`;
      const { privateKey } = await generateKeyPair('ES256');
      const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
      const hs256 = `${b64({ alg: 'HS256', kid })}.${p}.${'A'.repeat(43)}`;
      const tampered = `${h}.${b64({ ...claims, access: [{ type: 'repository', name: 'admin/app', actions: ['pull', 'push'] }] })}.${good.token!.split('.')[2]}`;
      for (const [what, token] of Object.entries({ garbage: 'not-a-jwt', none, foreign, hs256, tampered, empty: '' })) {
        const r = await v2('/v2/admin/app/tags/list', `Bearer ${token}`);
        assert.equal(r.status, 401, what);
        assert.match(
          r.headers.get('www-authenticate') ?? '',
          /^Bearer realm=".*\/v2\/auth",service=".*",scope="repository:admin\/app:pull"/,
          what,
        );
      }
      assert.equal((await v2('/v2/admin/app/tags/list', `Bearer ${good.token}`)).status, 200);
      for (const t of [good.token!, none, foreign, hs256, tampered]) secrets.add(t);
    });

    test('expired registry tokens and expired app tokens are refused (401), fresh ones work', async () => {
      // Issued two hours ago with the server's own key: past its lifetime and the 30 s clock tolerance.
      const past = new RegistryTokenService({ ...s.berth.accounts.ctx, now: () => Date.now() - 2 * 3600_000 });
      const old = await past.issue('admin', [{ type: 'repository', name: 'admin/app', actions: ['pull'] }]);
      secrets.add(old.token);
      const r = await v2('/v2/admin/app/tags/list', `Bearer ${old.token}`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.match(await r.text(), /"UNAUTHORIZED"/);
      const app = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'short-lived', expiration_seconds: 1 });
      assert.equal(app.status, 200);
      secrets.add(app.json.token.token_code);
      const bearer = { authorization: `Bearer ${app.json.token.token_code}` };
      assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: bearer })).status, 200);
      // Time-based on purpose: 1 s is the shortest app-token lifetime; 1.1 s is the least wait past it.
      await new Promise((res) => setTimeout(res, 1100));
      const expired = await fetch(`${s.url}/api/v1/user/`, { headers: bearer });
      assert.equal(expired.status, 401);
      assert.match(((await expired.json()) as { error_message: string }).error_message, /not valid/);
      // The same expired token as a "$app" password at the token endpoint.
      assert.equal((await registryToken(s, [], ['$app', app.json.token.token_code])).status, 401);
    });

    test('path tricks in repository names are refused and change nothing', async () => {
      const db = s.berth.ctx.db;
      const state = async () =>
        JSON.stringify([
          await db.selectFrom('repository').select(['name', 'visibility']).orderBy('name').execute(),
          await db.selectFrom('account').select(['name', 'kind']).orderBy('name').execute(),
          await db.selectFrom('upload').select(['repository']).orderBy('repository').execute(),
        ]);
      const before = await state();
      const t = await registryToken(s, ['repository:admin/app:pull,push'], ADMIN);
      for (const path of [
        '/v2/admin/../victim/x/blobs/uploads/',
        '/v2/admin/%2e%2e/victim/blobs/uploads/',
        '/v2/admin//app/blobs/uploads/',
        '/v2/Admin/app/blobs/uploads/',
        '/v2/admin/app%2f..%2fx/blobs/uploads/',
      ]) {
        const r = await fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${t.token}` } });
        assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
      }
      for (const path of [
        '/v2/admin/../victim/x/tags/list',
        '/v2/admin/%2e%2e/victim/tags/list',
        '/v2/admin//app/tags/list',
        '/v2/Admin/app/tags/list',
      ]) {
        const r = await v2(path, `Bearer ${t.token}`);
        assert.ok([400, 403, 404].includes(r.status), `${path}: ${r.status}`);
        assert.notEqual(r.status, 200);
      }
      for (const path of ['/api/v1/repository/admin/..%2Fvictim', '/api/v1/repository/admin/%2e%2e/x', '/api/v1/repository/..']) {
        const r = await fetch(`${s.url}${path}`, { headers: { authorization: basic(...ADMIN) } });
        assert.ok([400, 404].includes(r.status), `${path}: ${r.status}`);
      }
      const badOrg = await api(s, 'POST', '/organization/', ADMIN, { name: '../etc' });
      assert.equal(badOrg.status, 400);
      const badRobot = await api(s, 'PUT', '/user/robots/Bad+Name', ADMIN);
      assert.equal(badRobot.status, 400);
      const badJson = await fetch(`${s.url}/api/v1/organization/`, {
        method: 'POST',
        headers: { authorization: basic(...ADMIN), 'content-type': 'application/json' },
        body: '{"name":',
      });
      assert.equal(badJson.status, 400);
      for (const repository of ['../victim', 'x/../../y', '..', 'UPPER']) {
        const r = await api(s, 'POST', '/repository', ADMIN, { namespace: 'admin', repository });
        assert.equal(r.status, 400, repository);
      }
      assert.equal(await state(), before, 'nothing was created, renamed or left behind');
    });

    test('passwords and tokens are not stored in clear, and never reach the log', async () => {
      const robot = await api(s, 'PUT', '/user/robots/deploy', ADMIN);
      const app = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'ci' });
      const rows = await s.berth.ctx.db.selectFrom('account').selectAll().execute();
      const tokens = await s.berth.ctx.db.selectFrom('app_token').selectAll().execute();
      const dump = JSON.stringify([rows, tokens]);
      assert.ok(!dump.includes(ADMIN[1]) && !dump.includes(robot.json.token) && !dump.includes(app.json.token.token_code));
      assert.match(rows.find((r) => r.name === 'admin')!.password_hash!, /^pbkdf2-sha256\$1000\$/);
      await registryToken(s, [], ['admin', 'wrong-secret-in-log-check']);
      await v2('/v2/admin/app/tags/list', 'Bearer not.a.jwt');
      await waitFor(() => /login_failed/.test(log) && /token_refused/.test(log), {
        what: 'login_failed and token_refused in the log',
        detail: () => log.slice(-2000),
      });
      for (const secret of [
        ADMIN[1],
        'wrong-secret-in-log-check',
        'victim-password-1',
        robot.json.token,
        app.json.token.token_code,
        Buffer.from(`${ADMIN[0]}:${ADMIN[1]}`).toString('base64'),
      ]) {
        secrets.add(secret);
      }
      for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret reached the log');
    });

    test('UI sessions need the CSRF header for changes; signout ends them', async () => {
      const r = await fetch(`${s.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: ADMIN[0], password: ADMIN[1] }),
      });
      assert.equal(r.status, 200);
      const cookie = r.headers.get('set-cookie')!.split(';')[0];
      assert.match(r.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
      const { csrf_token } = (await r.json()) as { csrf_token: string };
      assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie } })).status, 200);
      const noCsrf = await fetch(`${s.url}/api/v1/organization/`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: '{"name":"viaui"}',
      });
      assert.equal(noCsrf.status, 403);
      const withCsrf = await fetch(`${s.url}/api/v1/organization/`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrf_token, 'content-type': 'application/json' },
        body: '{"name":"viaui"}',
      });
      assert.equal(withCsrf.status, 201);
      assert.equal((await fetch(`${s.url}/api/v1/signout`, { method: 'POST', headers: { cookie } })).status, 403);
      assert.equal(
        (await fetch(`${s.url}/api/v1/signout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf_token } })).status,
        200,
      );
      assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie } })).status, 401);
    });

    test('signing keys rotate with a new kid; tokens of the old key stay valid until they expire', async () => {
      const before = await registryToken(s, ['repository:admin/app:pull'], ADMIN);
      const oldKid = decodeProtectedHeader(before.token!).kid;
      await s.berth.ctx.db.updateTable('signing_key').set({ created_at: 0 }).execute();
      const tokens = s.berth.accounts.tokens as unknown as { current?: unknown };
      tokens.current = undefined;
      const after = await registryToken(s, ['repository:admin/app:pull'], ADMIN);
      assert.notEqual(decodeProtectedHeader(after.token!).kid, oldKid);
      assert.equal((await v2('/v2/admin/app/tags/list', `Bearer ${before.token}`)).status, 200);
      assert.equal((await v2('/v2/admin/app/tags/list', `Bearer ${after.token}`)).status, 200);
    });

    test('after everything above: the captured log holds none of the passwords and tokens used', async () => {
      // Every request above has been logged to its end (a response can reach the client before its log line).
      const lines = (msg: string) => log.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
      await waitFor(() => lines('request completed') >= lines('incoming request'), { what: 'every request logged to its end' });
      assert.ok(log.length > 1000, 'the log was captured');
      assert.ok(secrets.size >= 15, `${secrets.size} secrets tracked`);
      const leaked = [...secrets].filter((x) => x.length >= 8 && log.includes(x));
      assert.deepEqual(
        leaked.map((x) => `${x.slice(0, 6)}… (${x.length} chars)`),
        [],
      );
    });
  });
}
