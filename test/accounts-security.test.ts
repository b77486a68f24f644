// Brute force and bad input: oversized credentials, malformed JWTs, alg none, foreign keys, path tricks,
// secrets at rest and in logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SignJWT, generateKeyPair, decodeProtectedHeader } from 'jose';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, basic, host, registryToken } from './helpers/accounts.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
let s: TestServer;
let log = '';

before(async () => {
  const stream = new Writable({ write(chunk, _enc, cb) { log += chunk; cb(); } });
  s = await startServer('sqlite', {}, {
    auth: true,
    config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 3, LOGIN_BACKOFF_SECONDS: 60 },
    logger: { level: 'info', stream },
  });
  assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: 'victim', password: 'victim-password-1' })).status, 201);
  assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: 'app', visibility: 'private' })).status, 201);
});
after(async () => { await s?.stop(); });

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
  const apiBig = await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${'a'.repeat(9000)}` } });
  assert.equal(apiBig.status, 401);
  assert.ok((await apiBig.json() as { error_message: string }).error_message);
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
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm=".*\/v2\/auth",service=".*",scope="repository:admin\/app:pull"/, what);
  }
  assert.equal((await v2('/v2/admin/app/tags/list', `Bearer ${good.token}`)).status, 200);
});

test('path tricks in repository names are refused and change nothing', async () => {
  const t = await registryToken(s, ['repository:admin/app:pull,push'], ADMIN);
  for (const path of ['/v2/admin/../victim/x/tags/list', '/v2/admin/%2e%2e/victim/tags/list', '/v2/admin//app/tags/list', '/v2/Admin/app/tags/list']) {
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
  const badJson = await fetch(`${s.url}/api/v1/organization/`, { method: 'POST', headers: { authorization: basic(...ADMIN), 'content-type': 'application/json' }, body: '{"name":' });
  assert.equal(badJson.status, 400);
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
  await new Promise((r) => setTimeout(r, 50));
  assert.match(log, /login_failed/);
  assert.match(log, /token_refused/);
  for (const secret of [ADMIN[1], 'wrong-secret-in-log-check', 'victim-password-1', robot.json.token, app.json.token.token_code, Buffer.from(`${ADMIN[0]}:${ADMIN[1]}`).toString('base64')]) {
    assert.ok(!log.includes(secret), 'a secret reached the log');
  }
});

test('UI sessions need the CSRF header for changes; signout ends them', async () => {
  const r = await fetch(`${s.url}/api/v1/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN[0], password: ADMIN[1] }) });
  assert.equal(r.status, 200);
  const cookie = r.headers.get('set-cookie')!.split(';')[0];
  assert.match(r.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
  const { csrf_token } = await r.json() as { csrf_token: string };
  assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie } })).status, 200);
  const noCsrf = await fetch(`${s.url}/api/v1/organization/`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"name":"viaui"}' });
  assert.equal(noCsrf.status, 403);
  const withCsrf = await fetch(`${s.url}/api/v1/organization/`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf_token, 'content-type': 'application/json' }, body: '{"name":"viaui"}' });
  assert.equal(withCsrf.status, 201);
  assert.equal((await fetch(`${s.url}/api/v1/signout`, { method: 'POST', headers: { cookie } })).status, 403);
  assert.equal((await fetch(`${s.url}/api/v1/signout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf_token } })).status, 200);
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
