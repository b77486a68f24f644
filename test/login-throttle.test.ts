// The login throttle is shared through the database: two Berth servers on one PostgreSQL database see each
// other's failures, per account and per client address; a success clears the account; idle rows are pruned.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postgresAvailable } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { basic, host, registryToken } from './helpers/accounts.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const LIMIT = 2;
const BACKOFF_S = 3;
const config = {
  BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
  LOGIN_FAILURE_LIMIT: LIMIT,
  LOGIN_BACKOFF_SECONDS: BACKOFF_S,
};

// (the skip is on each test: Node 20 does not count a skipped describe)
const pgSkip = !(await postgresAvailable()) && 'PostgreSQL is not reachable';
describe('login throttle across two replicas on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  /** Failed logins sent from 127.0.0.1 so far (the address counter both servers share). */
  let addressFailures = 0;

  before(async () => {
    if (pgSkip) return; // the tests are skipped, with the reason
    a = await startServer('postgres', {}, { auth: true, config });
    // The second replica: same database, its own data directory and port.
    b = await startServer('sqlite', { DB_URI: a.dbUri! }, { auth: true, config });
    for (const u of ['alice', 'bob', 'carol']) {
      const r = await fetch(`${a.url}/api/v1/user/`, {
        method: 'POST',
        headers: { authorization: basic(...ADMIN), 'content-type': 'application/json' },
        body: JSON.stringify({ username: u, password: `${u}-password-1` }),
      });
      assert.equal(r.status, 201);
    }
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  const fail = async (s: TestServer, user: string) => {
    addressFailures++;
    assert.equal((await registryToken(s, [], [user, 'wrong-password'])).status, 401);
  };
  const tokenRequest = (s: TestServer, user: string) =>
    fetch(`${s.url}/v2/auth?service=${host(s)}`, { headers: { authorization: basic(user, `${user}-password-1`) } });

  test('failures against one server throttle the account on the other (/v2/auth and /api/v1)', { skip: pgSkip }, async () => {
    for (let i = 0; i < LIMIT; i++) await fail(a, 'alice');
    const r = await tokenRequest(b, 'alice');
    assert.equal(r.status, 429);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= BACKOFF_S, `Retry-After ${wait}`);
    assert.match(await r.text(), /"TOOMANYREQUESTS"/);
    const viaApi = await fetch(`${b.url}/api/v1/user/`, { headers: { authorization: basic('alice', 'alice-password-1') } });
    assert.equal(viaApi.status, 429);
    assert.ok(Number(viaApi.headers.get('retry-after')) >= 1);
    const body = (await viaApi.json()) as { status: number; error_message: string };
    assert.equal(body.status, 429);
    assert.match(body.error_message, /too many failed logins/);
    // Another account from the same address is not locked by alice's failures.
    assert.equal((await tokenRequest(b, 'bob')).status, 200);
  });

  test('a success clears the account counter on every replica', { skip: pgSkip }, async () => {
    // Time-based on purpose: alice's backoff window (BACKOFF_S, enforced by the replicas' own clocks) has to run out.
    await new Promise((r) => setTimeout(r, BACKOFF_S * 1000 + 200));
    assert.equal((await tokenRequest(b, 'alice')).status, 200);
    // Without the reset, this failure would be alice's third and block her again.
    await fail(a, 'alice');
    assert.equal((await tokenRequest(b, 'alice')).status, 200);
  });

  test('failures from one client address across many accounts throttle that address on the other server', { skip: pgSkip }, async () => {
    // Distinct unknown names: no single account reaches its limit, only the address does (4x the account limit).
    let n = 0;
    while (addressFailures < LIMIT * 4) await fail(a, `ghost${n++}`);
    const r = await tokenRequest(b, 'carol');
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    const viaApi = await fetch(`${b.url}/api/v1/user/`, { headers: { authorization: basic('carol', 'carol-password-1') } });
    assert.equal(viaApi.status, 429);
  });

  test('counters idle for an hour are pruned, blocking ones are kept', { skip: pgSkip }, async () => {
    const db = a.berth.ctx.db;
    const now = Date.now();
    await db
      .insertInto('login_throttle')
      .values([
        { key: 'a:stale', failures: 3, blocked_until: 0, last_failure_at: now - 2 * 3600_000 },
        { key: 'a:still-blocked', failures: 30, blocked_until: now + 600_000, last_failure_at: now - 2 * 3600_000 },
      ])
      .execute();
    await b.berth.accounts.throttle.pruneNow(now, true);
    const keys = (await db.selectFrom('login_throttle').select('key').execute()).map((r) => r.key);
    assert.ok(!keys.includes('a:stale'), 'the idle row is gone');
    assert.ok(keys.includes('a:still-blocked'));
    assert.ok(keys.includes('i:127.0.0.1'), 'the recent address row stays');
  });
});
