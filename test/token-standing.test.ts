// A registry token stops working as soon as its standing changes, whether the standing comes from the data-model
// cache (invalidated by the write) or from the one statement per request without it (engine none): a revoked
// permission, a deleted account, a regenerated robot token and a revoked app-specific token all refuse the very
// next request, on SQLite and PostgreSQL. (Across replicas the cache's invalidation travels through Redis: test/redis-cache.test.ts.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, basic, registryToken } from './helpers/accounts.ts';
import { sha256 } from './helpers/registry-client.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const REPO = 'acme/app';
const DATA = 'standing-blob-content';
const DIGEST = sha256(DATA);

for (const dialect of await testDialects()) {
  for (const engine of ['inmemory', 'none'] as const) {
    describe(`token standing (${dialect}, cache ${engine})`, () => {
      let s: TestServer;

      before(async () => {
        s = await startServer(
          dialect,
          {},
          {
            auth: true,
            config: {
              BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
              FEATURE_SECURITY_SCANNER: false,
              ...(engine === 'none' ? { DATA_MODEL_CACHE_CONFIG: { engine: 'none' } } : {}),
            },
          },
        );
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
        assert.equal(
          (await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: 'app', visibility: 'private' })).status,
          201,
        );
        const t = await registryToken(s, [`repository:${REPO}:pull,push`], ADMIN);
        const r = await fetch(`${s.url}/v2/${REPO}/blobs/uploads/?digest=${DIGEST}`, {
          method: 'POST',
          body: DATA,
          headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/octet-stream' },
        });
        assert.equal(r.status, 201, await r.text());
      });
      after(async () => {
        await s?.stop();
      });

      const head = async (token: string) =>
        (await fetch(`${s.url}/v2/${REPO}/blobs/${DIGEST}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } })).status;

      async function pullToken(creds: [string, string]): Promise<string> {
        const t = await registryToken(s, [`repository:${REPO}:pull`], creds);
        assert.ok(t.token, `token: HTTP ${t.status}`);
        return t.token!;
      }

      test('a revoked permission refuses the next request', async () => {
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: 'carol', password: 'carol-password-1' })).status, 201);
        assert.equal((await api(s, 'PUT', `/repository/${REPO}/permissions/user/carol`, ADMIN, { role: 'read' })).status, 200);
        const token = await pullToken(['carol', 'carol-password-1']);
        assert.equal(await head(token), 200);
        assert.equal(await head(token), 200, 'served again (from the cache when there is one)');
        assert.equal((await api(s, 'DELETE', `/repository/${REPO}/permissions/user/carol`, ADMIN)).status, 204);
        assert.equal(await head(token), 403);
      });

      test('a deleted account refuses the next request', async () => {
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: 'dave', password: 'dave-password-1' })).status, 201);
        assert.equal((await api(s, 'PUT', `/repository/${REPO}/permissions/user/dave`, ADMIN, { role: 'read' })).status, 200);
        const token = await pullToken(['dave', 'dave-password-1']);
        assert.equal(await head(token), 200);
        assert.equal((await api(s, 'DELETE', '/superuser/users/dave', ADMIN)).status, 204);
        assert.equal(await head(token), 403);
      });

      test('a regenerated robot token refuses registry tokens issued for the old one', async () => {
        const robot = await api(s, 'PUT', '/organization/acme/robots/bot', ADMIN);
        assert.ok(robot.status === 200 || robot.status === 201, `robot: ${robot.status}`);
        assert.equal((await api(s, 'PUT', `/repository/${REPO}/permissions/user/acme+bot`, ADMIN, { role: 'read' })).status, 200);
        const token = await pullToken(['acme+bot', robot.json.token]);
        assert.equal(await head(token), 200);
        assert.equal((await api(s, 'POST', '/organization/acme/robots/bot/regenerate', ADMIN)).status, 200);
        assert.equal(await head(token), 401);
      });

      test('a revoked app-specific token refuses the registry tokens obtained with it at the next pull', async () => {
        const made = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'ci' });
        assert.equal(made.status, 200);
        const kept = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'laptop' });
        assert.equal(kept.status, 200);
        // The client's flow: an anonymous request, the challenge, the token exchange with "$app" and the app token.
        const pull = (bearer?: string) =>
          fetch(`${s.url}/v2/${REPO}/blobs/${DIGEST}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
        const challenge = (await pull()).headers.get('www-authenticate') ?? '';
        const param = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(challenge)?.[1];
        assert.ok(param('realm') && param('service') && param('scope'), challenge);
        const exchange = async (code: string) => {
          const q = new URLSearchParams({ service: param('service')!, scope: param('scope')! });
          const r = await fetch(`${param('realm')}?${q}`, { headers: { authorization: basic('$app', code) } });
          assert.equal(r.status, 200);
          return ((await r.json()) as { token: string }).token;
        };
        const bearer = await exchange(made.json.token.token_code);
        const other = await exchange(kept.json.token.token_code);
        const ok = await pull(bearer);
        assert.equal(ok.status, 200);
        assert.equal(await ok.text(), DATA);
        assert.equal((await pull(bearer)).status, 200, 'served again (from the cache when there is one)');

        assert.equal((await api(s, 'DELETE', `/user/apptoken/${made.json.token.uuid}`, ADMIN)).status, 204);
        const refused = await pull(bearer);
        assert.equal(refused.status, 401);
        const body = (await refused.json()) as { errors: { code: string; message: string }[] };
        assert.equal(body.errors[0].code, 'UNAUTHORIZED');
        assert.match(body.errors[0].message, /app-specific token this registry token was issued for has been revoked/);
        assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assert.equal((await pull(other)).status, 200, 'a registry token from another app token still works');
        const again = await fetch(`${param('realm')}?service=${param('service')}`, {
          headers: { authorization: basic('$app', made.json.token.token_code) },
        });
        assert.equal(again.status, 401, 'the revoked app token no longer logs in');
      });
    });
  }
}
