// The proxy cache configuration across replicas: two Berth servers on one PostgreSQL database sharing a
// real Redis cache. A configuration created through one is in force on the other at its next request
// (a push there is DENIED), and once deleted through one, the other accepts pushes at once.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api } from './helpers/accounts.ts';
import { createPostgresDatabase, postgresAvailable } from './helpers/databases.ts';
import { redisServerMissing, startRedis, type TestRedis } from './helpers/redis.ts';
import { replicaToken, startReplica, type Replica } from './helpers/replicas.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const skip = redisServerMissing() ?? ((await postgresAvailable()) ? undefined : 'PostgreSQL is not reachable at 127.0.0.1:5432');

describe('proxy cache configuration on two replicas (one PostgreSQL, one Redis)', () => {
  let redis: TestRedis;
  let db: { uri: string; drop(): Promise<void> };
  let dir: string;
  let a: Replica;
  let b: Replica;

  before(async () => {
    if (skip) return; // the test is skipped, with the reason
    dir = mkdtempSync(path.join(tmpdir(), 'berth-pc-replicas-'));
    redis = await startRedis();
    db = await createPostgresDatabase();
    a = await startReplica(dir, db.uri, redis, ADMIN, { FEATURE_PROXY_CACHE: true });
    b = await startReplica(dir, db.uri, redis, ADMIN, { FEATURE_PROXY_CACHE: true });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts an upload on replica B: the status and the first error. */
  async function pushOnB(): Promise<{ status: number; code?: string; message?: string }> {
    const t = await replicaToken(b, ['repository:pcorg/app:pull,push'], ADMIN);
    const r = await fetch(`${b.url}/v2/pcorg/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
    const text = await r.text();
    const err = r.status >= 400 ? (JSON.parse(text) as { errors: { code: string; message: string }[] }).errors[0] : undefined;
    return { status: r.status, code: err?.code, message: err?.message };
  }

  test('created on A: B refuses a push at once; deleted on A: B accepts at once', { skip }, async () => {
    assert.equal((await api(a, 'POST', '/organization/', ADMIN, { name: 'pcorg' })).status, 201);
    // B has looked at the organization (no configuration) before A configures it.
    assert.equal((await pushOnB()).status, 202);
    assert.equal((await pushOnB()).status, 202);

    const c = await api(a, 'POST', '/organization/pcorg/proxycache', ADMIN, { upstream_registry: 'upstream.example:5000/library' });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    const refused = await pushOnB();
    assert.equal(refused.status, 403, 'B still pushes with the old (absent) configuration');
    assert.equal(refused.code, 'DENIED');
    assert.match(refused.message ?? '', /"pcorg" is a proxy cache organization \(of upstream\.example:5000\/library\)/);
    assert.equal((await api(b, 'GET', '/organization/pcorg/proxycache', ADMIN)).json.upstream_registry, 'upstream.example:5000/library');

    assert.equal((await api(a, 'DELETE', '/organization/pcorg/proxycache', ADMIN)).status, 201);
    assert.equal((await pushOnB()).status, 202, 'B still refuses with the deleted configuration');
    assert.equal((await api(b, 'GET', '/organization/pcorg/proxycache', ADMIN)).json.upstream_registry, '');

    // And again the other way round: configured on B, A refuses at once.
    assert.equal((await api(b, 'POST', '/organization/pcorg/proxycache', ADMIN, { upstream_registry: 'other.example' })).status, 201);
    const t = await replicaToken(a, ['repository:pcorg/app:pull,push'], ADMIN);
    const r = await fetch(`${a.url}/v2/pcorg/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
    assert.equal(r.status, 403);
  });
});
