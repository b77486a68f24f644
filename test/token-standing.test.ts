// A registry token stops working as soon as its standing changes, whether the standing comes from the data-model
// cache (invalidated by the write) or from the one statement per request without it (engine none): a revoked
// permission, a deleted account and a regenerated robot token all refuse the very next request, on SQLite and
// PostgreSQL. (Across replicas the cache's invalidation travels through Redis: test/redis-cache.test.ts.)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, registryToken } from './helpers/accounts.ts';
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
    });
  }
}
