// quay_authentication_attempts_total counts every credential check: Basic logins, bearer tokens on /v2, app tokens
// (Authorization: Bearer) and session cookies on /api/v1; requests without credentials are no attempt.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { parseExposition, sampleValue, type Sample } from './helpers/prometheus.ts';
import { api, registryToken } from './helpers/accounts.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const NAME = 'quay_authentication_attempts_total';

for (const dialect of await testDialects()) {
  describe(`authentication attempts in /metrics (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
      assert.equal(
        (await api(s, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: 'app', visibility: 'private' })).status,
        201,
      );
    });
    after(async () => {
      await s?.stop();
    });

    const scrape = async (): Promise<Sample[]> => {
      const r = await fetch(`${s.url}/metrics`);
      assert.equal(r.status, 200);
      return parseExposition(await r.text());
    };
    /** Runs `work` and returns how much each auth_kind/success series grew meanwhile. */
    async function delta(work: () => Promise<void>): Promise<Record<string, number>> {
      const before = await scrape();
      await work();
      const after = await scrape();
      const out: Record<string, number> = {};
      for (const kind of ['basic', 'bearer', 'cookie']) {
        for (const success of ['True', 'False']) {
          const d =
            (sampleValue(after, NAME, { auth_kind: kind, success }) ?? 0) - (sampleValue(before, NAME, { auth_kind: kind, success }) ?? 0);
          if (d) out[`${kind}/${success}`] = d;
        }
      }
      return out;
    }

    test('bearer tokens checked on /v2 count as bearer attempts, good and bad', async () => {
      const t = await registryToken(s, ['repository:admin/app:pull'], ADMIN);
      const d = await delta(async () => {
        for (let i = 0; i < 2; i++)
          assert.equal((await fetch(`${s.url}/v2/admin/app/tags/list`, { headers: { authorization: `Bearer ${t.token}` } })).status, 200);
        assert.equal((await fetch(`${s.url}/v2/admin/app/tags/list`, { headers: { authorization: 'Bearer not.a.jwt' } })).status, 401);
        // No credentials at all: a challenge, not an attempt.
        assert.equal((await fetch(`${s.url}/v2/admin/app/tags/list`)).status, 401);
      });
      assert.deepEqual(d, { 'bearer/True': 2, 'bearer/False': 1 });
    });

    test('app tokens and session cookies on /api/v1 count as bearer and cookie attempts', async () => {
      const app = await api(s, 'POST', '/user/apptoken', ADMIN, { title: 'metrics' });
      assert.equal(app.status, 200);
      const signin = await fetch(`${s.url}/api/v1/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: ADMIN[0], password: ADMIN[1] }),
      });
      assert.equal(signin.status, 200);
      const cookie = signin.headers.get('set-cookie')!.split(';')[0];
      const d = await delta(async () => {
        assert.equal(
          (await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${app.json.token.token_code}` } })).status,
          200,
        );
        assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: 'Bearer no-such-app-token' } })).status, 401);
        assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie } })).status, 200);
        assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie } })).status, 200);
        assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { cookie: 'berth_session=forged-session-value' } })).status, 401);
        // Anonymous API calls are no attempt.
        assert.equal((await fetch(`${s.url}/api/v1/organization/admin`)).status, 404);
      });
      assert.deepEqual(d, { 'bearer/True': 1, 'bearer/False': 1, 'cookie/True': 2, 'cookie/False': 1 });
    });

    test('Basic credentials on /api/v1 still count once each as basic', async () => {
      const d = await delta(async () => {
        assert.equal((await api(s, 'GET', '/user/', ADMIN)).status, 200);
        assert.equal((await api(s, 'GET', '/user/', [ADMIN[0], 'wrong'])).status, 401);
      });
      assert.deepEqual(d, { 'basic/True': 1, 'basic/False': 1 });
    });
  });
}
