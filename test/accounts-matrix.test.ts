// The authorization matrix: every route (registry and API) x every kind of caller -> the exact status code.
// Runs on SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, basic, registryToken } from './helpers/accounts.ts';
import { RegistryTokenService } from '../src/services/accounts/tokens.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'user-password-1';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

type Level = 'any' | 'read' | 'write' | 'admin' | 'super';
const RANK: Record<Level, number> = { any: 0, read: 1, write: 2, admin: 3, super: 4 };
type Caller = 'anonymous' | 'no-rights' | 'read' | 'write' | 'admin' | 'robot' | 'superuser' | 'wrong-password' | 'expired-token' | 'other-repo-token';
const CALLERS: Caller[] = ['anonymous', 'no-rights', 'read', 'write', 'admin', 'robot', 'superuser', 'wrong-password', 'expired-token', 'other-repo-token'];
const LEVEL_OF: Partial<Record<Caller, Level>> = { read: 'read', write: 'write', admin: 'admin', robot: 'write', superuser: 'super' };

function expected(caller: Caller, kind: 'v2' | 'api', need: Level, ok: number): number {
  if (caller === 'anonymous' && need === 'any' && kind === 'api') return ok;
  if (caller === 'anonymous' || caller === 'wrong-password' || caller === 'expired-token') return 401;
  if (caller === 'other-repo-token') return kind === 'api' ? 401 : need === 'any' ? ok : 403;
  const level = LEVEL_OF[caller];
  return level && RANK[level] >= RANK[need] ? ok : need === 'any' ? ok : 403;
}

interface Route { kind: 'v2' | 'api'; method: string; path: string; need: Level; ok: number; body?: unknown; raw?: { type: string; data: Buffer } }

const manifestFor = (config: Buffer) => Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [],
}));

for (const dialect of await testDialects()) {
  describe(`authorization matrix (${dialect})`, () => {
    let s: TestServer;
    const headers: Record<Caller, { v2: Record<string, string>; api: Record<string, string> }> = {} as never;
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = manifestFor(config);
    const mdigest = sha(manifest);

    before(async () => {
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 1000 } });
      for (const u of ['owner', 'nobody', 'reader', 'writer', 'repoadmin', 'dummy']) {
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
      }
      assert.equal((await api(s, 'POST', '/organization/', ['owner', PW], { name: 'acme' })).status, 201);
      assert.equal((await api(s, 'POST', '/repository', ['owner', PW], { namespace: 'acme', repository: 'private', visibility: 'private' })).status, 201);
      assert.equal((await api(s, 'POST', '/repository', ['owner', PW], { namespace: 'acme', repository: 'public', visibility: 'public' })).status, 201);
      const robot = await api(s, 'PUT', '/organization/acme/robots/bot', ['owner', PW]);
      assert.equal(robot.status, 201);
      for (const [who, role] of [['reader', 'read'], ['writer', 'write'], ['repoadmin', 'admin'], ['acme+bot', 'write']]) {
        assert.equal((await api(s, 'PUT', `/repository/acme/private/permissions/user/${who}`, ['owner', PW], { role })).status, 200);
      }
      // Content: a config blob and a manifest tagged v1, pushed by the owner.
      const t = await registryToken(s, ['repository:acme/private:pull,push'], ['owner', PW]);
      const auth = { authorization: `Bearer ${t.token}` };
      assert.equal((await fetch(`${s.url}/v2/acme/private/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: config })).status, 201);
      assert.equal((await fetch(`${s.url}/v2/acme/private/manifests/v1`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest })).status, 201);

      const scopes = ['repository:acme/private:pull,push,delete,*', 'registry:catalog:*'];
      const creds: Partial<Record<Caller, [string, string]>> = {
        'no-rights': ['nobody', PW], read: ['reader', PW], write: ['writer', PW], admin: ['repoadmin', PW], robot: [robot.json.name, robot.json.token], superuser: ADMIN,
      };
      for (const c of CALLERS) {
        const cr = creds[c];
        if (cr) {
          const tok = await registryToken(s, scopes, cr);
          assert.equal(tok.status, 200, c);
          headers[c] = { v2: { authorization: `Bearer ${tok.token}` }, api: { authorization: basic(...cr) } };
        }
      }
      headers.anonymous = { v2: {}, api: {} };
      headers['wrong-password'] = { v2: { authorization: basic('writer', 'not-the-password') }, api: { authorization: basic('writer', 'not-the-password') } };
      // An expired registry token (issued two hours ago) and an expired app token.
      const past = new RegistryTokenService({ ...s.berth.accounts.ctx, now: () => Date.now() - 2 * 3600_000 });
      const old = await past.issue('writer', [{ type: 'repository', name: 'acme/private', actions: ['pull', 'push', 'delete'] }]);
      const app = await api(s, 'POST', '/user/apptoken', ['writer', PW], { title: 'short', expiration_seconds: 1 });
      assert.equal(app.status, 200);
      headers['expired-token'] = { v2: { authorization: `Bearer ${old.token}` }, api: { authorization: `Bearer ${app.json.token.token_code}` } };
      const other = await registryToken(s, ['repository:acme/public:pull', 'registry:catalog:*'], ['writer', PW]);
      headers['other-repo-token'] = { v2: { authorization: `Bearer ${other.token}` }, api: { authorization: `Bearer ${other.token}` } };
      await new Promise((r) => setTimeout(r, 1100));
    });
    after(async () => { await s?.stop(); });

    const routes: Route[] = [
      { kind: 'v2', method: 'GET', path: '/v2/', need: 'any', ok: 200 },
      { kind: 'v2', method: 'GET', path: '/v2/_catalog', need: 'any', ok: 200 },
      { kind: 'v2', method: 'GET', path: '/v2/acme/private/tags/list', need: 'read', ok: 200 },
      { kind: 'v2', method: 'GET', path: '/v2/acme/private/manifests/v1', need: 'read', ok: 200 },
      { kind: 'v2', method: 'HEAD', path: '/v2/acme/private/manifests/v1', need: 'read', ok: 200 },
      { kind: 'v2', method: 'GET', path: `/v2/acme/private/blobs/${sha(config)}`, need: 'read', ok: 200 },
      { kind: 'v2', method: 'GET', path: `/v2/acme/private/referrers/${mdigest}`, need: 'read', ok: 200 },
      { kind: 'v2', method: 'POST', path: '/v2/acme/private/blobs/uploads/', need: 'write', ok: 202 },
      { kind: 'v2', method: 'GET', path: '/v2/acme/private/blobs/uploads/00000000-0000-0000-0000-000000000000', need: 'write', ok: 404 },
      { kind: 'v2', method: 'PUT', path: '/v2/acme/private/manifests/v2', need: 'write', ok: 201, raw: { type: 'application/vnd.oci.image.manifest.v1+json', data: manifest } },
      { kind: 'v2', method: 'DELETE', path: '/v2/acme/private/manifests/no-such-tag', need: 'write', ok: 404 },
      { kind: 'v2', method: 'DELETE', path: `/v2/acme/private/blobs/sha256:${'0'.repeat(64)}`, need: 'write', ok: 404 },
      { kind: 'api', method: 'GET', path: '/repository/acme/private', need: 'read', ok: 200 },
      { kind: 'api', method: 'PUT', path: '/repository/acme/private', need: 'write', ok: 200, body: { description: 'matrix' } },
      { kind: 'api', method: 'GET', path: '/repository/acme/private/tag/?limit=10&page=1', need: 'read', ok: 200 },
      { kind: 'api', method: 'PUT', path: '/repository/acme/private/tag/moved', need: 'write', ok: 201, body: { manifest_digest: mdigest } },
      { kind: 'api', method: 'DELETE', path: '/repository/acme/private/tag/no-such-tag', need: 'write', ok: 404 },
      { kind: 'api', method: 'GET', path: '/repository/acme/private/permissions/user/', need: 'admin', ok: 200 },
      { kind: 'api', method: 'PUT', path: '/repository/acme/private/permissions/user/dummy', need: 'admin', ok: 200, body: { role: 'read' } },
      { kind: 'api', method: 'GET', path: '/repository/acme/private/permissions/team/', need: 'admin', ok: 200 },
      { kind: 'api', method: 'POST', path: '/repository/acme/private/changevisibility', need: 'admin', ok: 200, body: { visibility: 'private' } },
      { kind: 'api', method: 'DELETE', path: '/repository/acme/ghost', need: 'super', ok: 404 },
      { kind: 'api', method: 'GET', path: '/organization/acme', need: 'any', ok: 200 },
      { kind: 'api', method: 'GET', path: '/organization/acme/robots', need: 'super', ok: 200 },
      { kind: 'api', method: 'PUT', path: '/organization/acme/team/devs', need: 'super', ok: 200, body: { role: 'member' } },
      { kind: 'api', method: 'GET', path: '/organization/acme/team/owners/members', need: 'super', ok: 200 },
      { kind: 'api', method: 'GET', path: '/repository?namespace=acme', need: 'any', ok: 200 },
    ];

    for (const route of routes) {
      test(`${route.method} ${route.kind === 'api' ? '/api/v1' : ''}${route.path}`, async () => {
        const got: Record<string, number> = {};
        const want: Record<string, number> = {};
        for (const c of CALLERS) {
          const h = { ...headers[c][route.kind] };
          let body: string | Blob | undefined;
          if (route.raw) { h['content-type'] = route.raw.type; body = new Blob([new Uint8Array(route.raw.data)]); }
          if (route.body !== undefined) { h['content-type'] = 'application/json'; body = JSON.stringify(route.body); }
          const url = route.kind === 'api' ? `${s.url}/api/v1${route.path}` : `${s.url}${route.path}`;
          const r = await fetch(url, { method: route.method, headers: h, body });
          const text = await r.text();
          got[c] = r.status;
          want[c] = expected(c, route.kind, route.need, route.ok);
          if (r.status === 401 && route.kind === 'v2') {
            assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/auth",service="127\.0\.0\.1:\d+"/, `${c}: challenge`);
            if (route.method !== 'HEAD') assert.match(text, /"UNAUTHORIZED"/);
          }
          if (r.status === 403 && route.kind === 'v2' && route.method !== 'HEAD') assert.match(text, /"DENIED"/, `${c}: ${text}`);
          if (r.status >= 400 && route.kind === 'api') assert.ok(JSON.parse(text).error_message, `${c}: JSON error with a message`);
        }
        assert.deepEqual(got, want);
      });
    }

    test('the catalog lists only what the caller can read', async () => {
      const list = async (c: Caller) => (await (await fetch(`${s.url}/v2/_catalog`, { headers: headers[c].v2 })).json() as { repositories: string[] }).repositories;
      assert.deepEqual(await list('superuser'), ['acme/private', 'acme/public']);
      assert.deepEqual(await list('read'), ['acme/private', 'acme/public']);
      assert.deepEqual(await list('no-rights'), ['acme/public']);
    });

    test('scopes are cut down, never refused: read gets pull only, and anonymous gets public pull', async () => {
      const r = await registryToken(s, ['repository:acme/private:pull,push', 'repository:acme/public:pull,push', 'repository:other/x:push'], ['reader', PW]);
      assert.equal(r.status, 200);
      assert.deepEqual(r.access, [
        { type: 'repository', name: 'acme/private', actions: ['pull'] },
        { type: 'repository', name: 'acme/public', actions: ['pull'] },
      ]);
      const anon = await registryToken(s, ['repository:acme/private:pull', 'repository:acme/public:pull']);
      assert.deepEqual(anon.access, [{ type: 'repository', name: 'acme/public', actions: ['pull'] }]);
      const pub = await fetch(`${s.url}/v2/acme/public/tags/list`, { headers: { authorization: `Bearer ${(await registryToken(s, ['repository:acme/public:pull'])).token}` } });
      assert.equal(pub.status, 200);
    });

    test('pushing to a new repository creates it (private) only where the caller may create', async () => {
      const own = await registryToken(s, ['repository:writer/fresh:pull,push'], ['writer', PW]);
      assert.deepEqual(own.access, [{ type: 'repository', name: 'writer/fresh', actions: ['pull', 'push'] }]);
      const r = await fetch(`${s.url}/v2/writer/fresh/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${own.token}` } });
      assert.equal(r.status, 202);
      const view = await api(s, 'GET', '/repository/writer/fresh', ['writer', PW]);
      assert.equal(view.status, 200);
      assert.equal(view.json.is_public, false);
      assert.equal((await api(s, 'GET', '/repository/writer/fresh', ['reader', PW])).status, 403);
      const foreign = await registryToken(s, ['repository:acme/new:pull,push'], ['writer', PW]);
      assert.deepEqual(foreign.access, []);
    });
  });
}
