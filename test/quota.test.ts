// Storage quotas (FEATURE_QUOTA_MANAGEMENT, docs/QUOTAS.md): usage counted per namespace and per repository with
// shared layers once, kept by skopeo pushes, deletes and gc, equal to a from-scratch recount after many concurrent
// pushes; a Reject limit refuses a real client's push with OCI DENIED (and nothing of it is kept), a Warning limit is
// logged and audited; the quota API in Quay's shapes refuses bad input and unauthorized callers. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testDialects } from './helpers/databases.ts';
import { BERTH_BIN, startServer, type TestServer } from './helpers/server.ts';
import { api, host, registryToken } from './helpers/accounts.ts';
import { buildImage, writeOciLayout, type BuiltImage } from './helpers/images.ts';
import { run, which } from './helpers/exec.ts';
import { waitFor } from './helpers/wait.ts';
import { collectGarbage } from '../src/services/gc.ts';
import { formatBytes } from '../src/services/quota/format.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const MEMBER: [string, string] = ['member', 'member-password-1'];
const OUTSIDER: [string, string] = ['outsider', 'outsider-password-1'];
const BOB: [string, string] = ['bob', 'bob-password-1'];
const NO_SKOPEO = !which('skopeo') && 'skopeo is not installed (Debian package skopeo)';

const layer = (n: number) => ({ [`f${n}.bin`]: randomBytes(n) });
const image = (layers: Record<string, Buffer>[]) => buildImage({ format: 'oci', layers, compression: 'gzip' });
const blobBytes = (imgs: BuiltImage[]) => {
  const all = new Map<string, number>();
  for (const i of imgs) for (const [d, b] of i.blobs) all.set(d, b.length);
  return [...all.values()].reduce((a, b) => a + b, 0);
};

async function skopeoPush(s: TestServer, img: BuiltImage, ref: string, creds = ADMIN) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-quota-layout-'));
  try {
    writeOciLayout(dir, { t: img });
    return await run('skopeo', [
      'copy',
      '--retry-times',
      '0',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${creds[0]}:${creds[1]}`,
      `oci:${dir}:t`,
      `docker://${host(s)}/${ref}`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A push over raw HTTP: every blob (monolithic POST ?digest=), then the manifest. */
async function httpPush(s: TestServer, repo: string, tag: string, img: BuiltImage): Promise<Response> {
  const t = await registryToken(s, [`repository:${repo}:pull,push,delete`], ADMIN);
  const auth = { authorization: `Bearer ${t.token}` };
  for (const [digest, bytes] of img.blobs) {
    const r = await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(bytes),
    });
    if (r.status !== 201) return r;
  }
  return fetch(`${s.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': img.mediaType },
    body: new Uint8Array(img.manifest),
  });
}

async function orgReport(s: TestServer, org: string) {
  const r = await api(s, 'GET', `/organization/${org}`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.quota_report as { quota_bytes: number; configured_quota: number | null; severity_level: string | null };
}

async function repoSizes(s: TestServer, ns: string): Promise<Record<string, number>> {
  const r = await api(s, 'GET', `/repository?namespace=${ns}`, ADMIN);
  assert.equal(r.status, 200);
  return Object.fromEntries(
    r.json.repositories.filter((x: { namespace: string }) => x.namespace === ns).map((x: any) => [x.name, x.quota_report.quota_bytes]),
  );
}

/** The stored usage, then a from-scratch recount: both must agree. */
async function assertMatchesRecount(s: TestServer, ns: string) {
  const stored = await orgReport(s, ns);
  const repos = await repoSizes(s, ns);
  const r = await s.berth.ctx.quota!.recountNamespace(ns);
  assert.equal(r.previousBytes, stored.quota_bytes, `namespace ${ns}: stored usage equals the recount`);
  assert.equal(r.sizeBytes, stored.quota_bytes);
  assert.deepEqual(await repoSizes(s, ns), repos, `repositories of ${ns}: stored sizes equal the recount`);
  return stored.quota_bytes;
}

async function createQuota(s: TestServer, org: string, limit: number, limits: [string, number][]): Promise<number> {
  assert.equal((await api(s, 'POST', `/organization/${org}/quota`, ADMIN, { limit_bytes: limit })).status, 201);
  const q = (await api(s, 'GET', `/organization/${org}/quota`, ADMIN)).json[0];
  for (const [type, pct] of limits)
    assert.equal((await api(s, 'POST', `/organization/${org}/quota/${q.id}/limit`, ADMIN, { type, threshold_percent: pct })).status, 201);
  return q.id;
}

for (const dialect of await testDialects()) {
  describe(`storage quotas (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
            LOGIN_FAILURE_LIMIT: 10000,
            FEATURE_QUOTA_MANAGEMENT: true,
            AUDIT_LOG_FLUSH_MS: 50,
          },
        },
      );
      for (const u of [MEMBER, OUTSIDER, BOB])
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u[0], password: u[1] })).status, 201);
      for (const org of ['acme', 'beta', 'conc', 'warn', 'api'])
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: org })).status, 201);
      assert.equal((await api(s, 'PUT', '/organization/api/team/readers', ADMIN, { role: 'member' })).status, 200);
      assert.equal((await api(s, 'PUT', '/organization/api/team/readers/members/member', ADMIN)).status, 200);
    });
    after(() => s?.stop());

    test('skopeo pushes: shared layers count once per namespace and once per repository; deletes and gc lower usage', {
      skip: NO_SKOPEO,
    }, async () => {
      const base = layer(40_000);
      const a = await image([base, layer(30_000)]);
      const b = await image([base, layer(20_000)]);
      for (const [img, ref] of [
        [a, 'acme/one:1'],
        [b, 'acme/two:1'],
        [a, 'acme/two:a'],
      ] as const) {
        const r = await skopeoPush(s, img, ref);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      const report = await orgReport(s, 'acme');
      assert.equal(report.quota_bytes, blobBytes([a, b]), 'the base layer counts once for the namespace');
      assert.equal(report.configured_quota, null);
      assert.deepEqual(await repoSizes(s, 'acme'), { one: blobBytes([a]), two: blobBytes([a, b]) });
      const repo = await api(s, 'GET', '/repository/acme/two', ADMIN);
      assert.equal(repo.json.quota_report.quota_bytes, blobBytes([a, b]));
      await assertMatchesRecount(s, 'acme');

      // A tag delete alone keeps the manifest (time machine); gc of untagged manifests then lowers the repository's size.
      assert.equal((await api(s, 'DELETE', '/repository/acme/two/tag/a', ADMIN)).status, 204);
      assert.deepEqual(await repoSizes(s, 'acme'), { one: blobBytes([a]), two: blobBytes([a, b]) });
      const later = { ...s.berth.ctx, now: () => Date.now() + 30 * 86400_000 };
      const gc = await collectGarbage(later, { deleteUntagged: true, graceSeconds: 0 });
      assert.ok(gc.manifestsRemoved >= 1);
      assert.deepEqual(await repoSizes(s, 'acme'), { one: blobBytes([a]), two: blobBytes([b]) });
      assert.equal((await orgReport(s, 'acme')).quota_bytes, blobBytes([a, b]), 'acme/one still holds image a');

      // DELETE of a manifest by digest over /v2 takes its blobs off at once.
      const t = await registryToken(s, ['repository:acme/one:pull,push,delete'], ADMIN);
      const del = await fetch(`${s.url}/v2/acme/one/manifests/${a.descriptor.digest}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${t.token}` },
      });
      assert.equal(del.status, 202);
      assert.equal((await orgReport(s, 'acme')).quota_bytes, blobBytes([b]));
      assert.deepEqual(await repoSizes(s, 'acme'), { one: 0, two: blobBytes([b]) });
      await assertMatchesRecount(s, 'acme');

      // Deleting a repository takes what only it held off the namespace.
      assert.equal((await api(s, 'DELETE', '/repository/acme/two', ADMIN)).status, 204);
      assert.equal((await orgReport(s, 'acme')).quota_bytes, 0);
    });

    test('a Reject limit refuses a skopeo push with DENIED naming the namespace and the quota; nothing of it is kept', {
      skip: NO_SKOPEO,
    }, async () => {
      const small = await image([layer(10_000)]);
      assert.equal((await skopeoPush(s, small, 'beta/app:small')).code, 0);
      const before = (await orgReport(s, 'beta')).quota_bytes;
      assert.equal(before, blobBytes([small]));
      await createQuota(s, 'beta', 50_000, [['Reject', 100]]);

      // One layer larger than what is left: refused when the blob is committed, before it is stored.
      const big = await image([layer(60_000)]);
      const r1 = await skopeoPush(s, big, 'beta/app:big');
      assert.notEqual(r1.code, 0);
      assert.match(r1.stderr, /quota exceeded for namespace beta: .* of 50 KB \(Reject limit 100%\)/, r1.stderr);
      assert.match(r1.stderr, /denied/i);
      const rows = await s.berth.ctx.db.selectFrom('blob').select('digest').where('digest', '=', big.layers[0].descriptor.digest).execute();
      assert.equal(rows.length, 0, 'the refused layer has no blob row');

      // Layers that each fit but together do not: the manifest is refused, no tag and no manifest are stored.
      const many = await image([layer(15_000), layer(15_000), layer(15_000)]);
      const r2 = await skopeoPush(s, many, 'beta/app:many');
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /quota exceeded for namespace beta: \d.* of 50 KB \(Reject limit 100%\)/, r2.stderr);
      const tags = await api(s, 'GET', '/repository/beta/app/tag/', ADMIN);
      assert.deepEqual(
        tags.json.tags.map((x: { name: string }) => x.name),
        ['small'],
      );
      const m = await s.berth.ctx.db.selectFrom('manifest').select('id').where('digest', '=', many.descriptor.digest).execute();
      assert.equal(m.length, 0, 'the refused manifest is not stored');
      assert.equal((await orgReport(s, 'beta')).quota_bytes, before, 'usage unchanged');
      await assertMatchesRecount(s, 'beta');

      // A push of content the namespace already holds adds nothing and is accepted at the limit.
      assert.equal((await skopeoPush(s, small, 'beta/other:again')).code, 0);
      assert.equal((await orgReport(s, 'beta')).quota_bytes, before);
    });

    test('a Warning limit lets the push through, logs it in the audit log and shows it in quota_report', async () => {
      await createQuota(s, 'warn', 100_000, [
        ['Warning', 50],
        ['Reject', 100],
      ]);
      const first = await image([layer(30_000)]);
      assert.equal((await httpPush(s, 'warn/app', 'one', first)).status, 201);
      assert.equal((await orgReport(s, 'warn')).severity_level, null);
      const second = await image([layer(30_000)]);
      assert.equal((await httpPush(s, 'warn/app', 'two', second)).status, 201);
      const report = await orgReport(s, 'warn');
      assert.equal(report.severity_level, 'Warning');
      assert.equal(report.configured_quota, 100_000);
      await waitFor(
        async () =>
          (
            await s.berth.ctx.db
              .selectFrom('audit_log')
              .select('id')
              .where('kind', '=', 'quota_warning')
              .where('namespace', '=', 'warn')
              .execute()
          ).length === 1,
        { what: 'one quota_warning audit entry' },
      );
      const logs = await api(s, 'GET', '/organization/warn/logs', ADMIN);
      const entry = logs.json.logs.find((l: { kind: string }) => l.kind === 'quota_warning');
      assert.ok(entry, JSON.stringify(logs.json));
      assert.equal(entry.metadata.threshold_percent, 50);
      // Over the Reject limit: refused over raw HTTP with the OCI error body.
      const third = await image([layer(45_000)]);
      const refused = await httpPush(s, 'warn/app', 'three', third);
      assert.equal(refused.status, 403);
      const body = (await refused.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0].code, 'DENIED');
      assert.match(body.errors[0].message, /^quota exceeded for namespace warn: /);
    });

    test('24 concurrent pushes sharing layers across repositories leave usage equal to a from-scratch recount', async () => {
      const pool = [layer(5000), layer(6000), layer(7000), layer(8000), layer(9000), layer(10_000)];
      const imgs: BuiltImage[] = [];
      for (let i = 0; i < 24; i++) imgs.push(await image([pool[i % 6], pool[(i * 5 + 1) % 6], layer(1000 + i)]));
      const results = await Promise.all(imgs.map((img, i) => httpPush(s, `conc/r${i % 4}`, `t${i}`, img)));
      assert.deepEqual(
        results.map((r) => r.status),
        imgs.map(() => 201),
      );
      const used = await assertMatchesRecount(s, 'conc');
      assert.equal(used, blobBytes(imgs), 'every distinct blob once');
      const sizes = await repoSizes(s, 'conc');
      for (let r = 0; r < 4; r++) assert.equal(sizes[`r${r}`], blobBytes(imgs.filter((_, i) => i % 4 === r)));
      // Concurrent deletes by digest and re-pushes keep it right too.
      const t = await registryToken(s, ['repository:conc/r0:pull,push,delete', 'repository:conc/r1:pull,push,delete'], ADMIN);
      await Promise.all([
        ...imgs
          .filter((_, i) => i % 4 < 2 && i < 12)
          .map((img, k) =>
            fetch(`${s.url}/v2/conc/r${k % 2 === 0 ? 0 : 1}/manifests/${img.descriptor.digest}`, {
              method: 'DELETE',
              headers: { authorization: `Bearer ${t.token}` },
            }),
          ),
        ...imgs.slice(0, 6).map((img, i) => httpPush(s, 'conc/r9', `x${i}`, img)),
      ]);
      await assertMatchesRecount(s, 'conc');
    });

    test('berth admin quota-recount puts wrong stored usage right and says what it was', async () => {
      const right = (await orgReport(s, 'conc')).quota_bytes;
      await s.berth.ctx.db.updateTable('quota_namespace_size').set({ size_bytes: 7 }).where('namespace', '=', 'conc').execute();
      await s.berth.ctx.db.updateTable('quota_repository_size').set({ size_bytes: 0 }).execute();
      assert.equal((await orgReport(s, 'conc')).quota_bytes, 7);
      const cfg = path.join(s.dataDir, 'quota-cli.yaml');
      writeFileSync(cfg, 'FEATURE_QUOTA_MANAGEMENT: true\n');
      const r = await run('node', [BERTH_BIN, 'admin', 'quota-recount', 'conc', '--config', cfg, '--data', s.dataDir], {
        env: { ...process.env, BERTH_TSX: '1', ...(s.dbUri ? { DB_URI: s.dbUri } : {}) },
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^conc: ${right} bytes \\(.*\\) in 5 repositories, was 7 bytes$`, 'm'));
      assert.match(r.stdout, /^recounted 1 namespace$/m);
      assert.equal((await orgReport(s, 'conc')).quota_bytes, right);
      assert.ok(Object.values(await repoSizes(s, 'conc')).every((n) => n > 0));
    });

    test('quota API: Quay shapes; superusers write, members read; bad input and unknown names change nothing', async () => {
      assert.equal((await api(s, 'GET', '/organization/api/quota')).status, 401);
      assert.equal((await api(s, 'GET', '/organization/api/quota', OUTSIDER)).status, 403);
      assert.deepEqual((await api(s, 'GET', '/organization/api/quota', MEMBER)).json, []);
      assert.equal((await api(s, 'POST', '/organization/api/quota', MEMBER, { limit_bytes: 1000 })).status, 403);
      assert.equal((await api(s, 'POST', '/organization/api/quota', undefined, { limit_bytes: 1000 })).status, 401);
      assert.equal((await api(s, 'GET', '/organization/nosuch/quota', ADMIN)).status, 404);
      assert.equal((await api(s, 'POST', '/organization/nosuch/quota', ADMIN, { limit_bytes: 1000 })).status, 404);
      for (const [bad, msg] of [
        [{ limit_bytes: -5 }, /Invalid quota size limit value: '-5'/],
        [{ limit_bytes: 0 }, /Invalid quota size limit value: '0'/],
        [{ limit_bytes: 1.5 }, /whole number/],
        [{ limit_bytes: '1000' }, /whole number/],
        [{ limit_bytes: 2 ** 60 }, /Unsupported quota size limit/],
        [{}, /limit_bytes is required/],
        [[1000], /JSON object/],
      ] as const) {
        const r = await api(s, 'POST', '/organization/api/quota', ADMIN, bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.match(r.json.error_message, msg);
      }
      assert.deepEqual((await api(s, 'GET', '/organization/api/quota', ADMIN)).json, [], 'nothing was created');

      assert.equal((await api(s, 'POST', '/organization/api/quota', ADMIN, { limit_bytes: 10_000_000 })).status, 201);
      const again = await api(s, 'POST', '/organization/api/quota', ADMIN, { limit_bytes: 5 });
      assert.equal(again.status, 400);
      assert.match(again.json.error_message, /Organization quota for 'api' already exists/);
      const [q] = (await api(s, 'GET', '/organization/api/quota', MEMBER)).json;
      assert.deepEqual(
        { ...q, id: 0 },
        { id: 0, limit_bytes: 10_000_000, limit: '9.5 MiB', default_config: false, limits: [], default_config_exists: false },
      );
      const base = `/organization/api/quota/${q.id}`;
      assert.equal((await api(s, 'POST', `${base}/limit`, ADMIN, { type: 'Warning', threshold_percent: 80 })).status, 201);
      assert.equal((await api(s, 'POST', `${base}/limit`, ADMIN, { type: 'reject', threshold_percent: 100 })).status, 201);
      const snapshot = (await api(s, 'GET', base, MEMBER)).json;
      assert.deepEqual(
        snapshot.limits.map((l: { type: string; limit_percent: number }) => [l.type, l.limit_percent]),
        [
          ['Warning', 80],
          ['Reject', 100],
        ],
      );
      for (const [bad, msg] of [
        [{ type: 'Warning', threshold_percent: 80 }, /Quota limit already exists/],
        [{ type: 'Reject', threshold_percent: 90 }, /Only one quota limit of type 'Reject' allowed/],
        [{ type: 'Warning', threshold_percent: 0 }, /between 1 and 100/],
        [{ type: 'Warning', threshold_percent: 101 }, /between 1 and 100/],
        [{ type: 'Warning', threshold_percent: 50.5 }, /between 1 and 100/],
        [{ type: 'Bogus', threshold_percent: 50 }, /Quota type must be one of/],
        [{ threshold_percent: 50 }, /Quota type must be one of/],
      ] as const) {
        const r = await api(s, 'POST', `${base}/limit`, ADMIN, bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.match(r.json.error_message, msg);
      }
      const warning = snapshot.limits[0];
      const put = await api(s, 'PUT', `${base}/limit/${warning.id}`, ADMIN, { type: 'Reject' });
      assert.equal(put.status, 400, 'a second Reject limit by update is refused too');
      assert.equal((await api(s, 'PUT', `${base}/limit/${warning.id}`, MEMBER, { threshold_percent: 70 })).status, 403);
      assert.equal((await api(s, 'PUT', `${base}`, ADMIN, { limit_bytes: -1 })).status, 400);
      assert.equal((await api(s, 'GET', '/organization/api/quota/999999', ADMIN)).status, 404);
      assert.equal((await api(s, 'GET', '/organization/api/quota/abc', ADMIN)).status, 404);
      assert.equal((await api(s, 'GET', `${base}/limit/999999`, ADMIN)).status, 404);
      assert.equal((await api(s, 'DELETE', `${base}/limit/${warning.id}`, MEMBER)).status, 403);
      assert.equal((await api(s, 'DELETE', base, OUTSIDER)).status, 403);
      assert.deepEqual((await api(s, 'GET', base, MEMBER)).json, snapshot, 'nothing changed');

      const changed = await api(s, 'PUT', `${base}/limit/${warning.id}`, ADMIN, { threshold_percent: 70 });
      assert.equal(changed.status, 200);
      assert.equal(changed.json.limits[0].limit_percent, 70);
      assert.equal((await api(s, 'PUT', base, ADMIN, { limit_bytes: 20_000_000 })).json.limit_bytes, 20_000_000);
      assert.equal((await api(s, 'GET', `${base}/limit/${warning.id}`, MEMBER)).json.limit_percent, 70);
      assert.equal((await api(s, 'DELETE', `${base}/limit/${warning.id}`, ADMIN)).status, 204);
      assert.equal((await api(s, 'GET', `${base}/limit`, MEMBER)).json.length, 1);
      assert.equal((await orgReport(s, 'api')).configured_quota, 20_000_000);
      assert.equal((await api(s, 'DELETE', base, ADMIN)).status, 204);
      assert.deepEqual((await api(s, 'GET', '/organization/api/quota', ADMIN)).json, []);
      await waitFor(
        async () =>
          (
            await s.berth.ctx.db
              .selectFrom('audit_log')
              .select('kind')
              .where('namespace', '=', 'api')
              .where('kind', 'like', 'org_%quota%')
              .execute()
          ).length === 7,
        { what: 'the quota changes in the audit log' },
      );
    });

    test('per-user quotas: superusers set them (Quay superuser paths), the user reads their own', async () => {
      assert.equal((await api(s, 'POST', '/superuser/users/bob/quota', BOB, { limit_bytes: 1000 })).status, 403);
      assert.equal((await api(s, 'POST', '/superuser/users/bob/quota', undefined, { limit_bytes: 1000 })).status, 401);
      assert.equal((await api(s, 'GET', '/superuser/users/bob/quota', BOB)).status, 403);
      assert.equal((await api(s, 'POST', '/superuser/users/nosuch/quota', ADMIN, { limit_bytes: 1000 })).status, 404);
      assert.equal((await api(s, 'POST', '/superuser/users/bob/quota', ADMIN, { limit: '20 KiB' })).status, 201);
      const again = await api(s, 'POST', '/superuser/users/bob/quota', ADMIN, { limit_bytes: 5 });
      assert.match(again.json.error_message, /Quota for 'bob' already exists/);
      const bad = await api(s, 'POST', '/superuser/organization/beta/quota', ADMIN, { limit: 'lots' });
      assert.equal(bad.status, 400);
      const [q] = (await api(s, 'GET', '/user/quota', BOB)).json;
      assert.equal(q.limit_bytes, 20 * 1024);
      assert.equal(
        (await api(s, 'POST', `/superuser/users/bob/quota/${q.id}/limit`, ADMIN, { type: 'Reject', threshold_percent: 100 })).status,
        201,
      );
      assert.equal((await api(s, 'GET', `/user/quota/${q.id}/limit`, BOB)).json[0].type, 'Reject');
      assert.equal((await api(s, 'GET', '/user/quota', OUTSIDER)).json.length, 0, 'another user sees only their own');
      assert.equal((await api(s, 'GET', `/user/quota/${q.id}`, OUTSIDER)).status, 404);
      assert.equal((await api(s, 'GET', '/user/quota')).status, 401);
      // Bob's pushes count against his own namespace and are refused past it.
      const img = await image([layer(25_000)]);
      const r = await httpPush(s, 'bob/app', '1', img);
      assert.equal(r.status, 403);
      assert.match(await r.text(), /quota exceeded for namespace bob: .* of 20.5 KB \(Reject limit 100%\)/);
      const me = await api(s, 'GET', '/user/', BOB);
      assert.equal(me.json.quota_report.configured_quota, 20 * 1024);
      assert.equal((await api(s, 'PUT', `/superuser/users/bob/quota/${q.id}`, ADMIN, { limit_bytes: 100_000 })).status, 200);
      assert.equal((await httpPush(s, 'bob/app', '1', img)).status, 201);
      assert.equal((await api(s, 'GET', '/user/', BOB)).json.quota_report.quota_bytes, blobBytes([img]));
      assert.equal((await api(s, 'DELETE', `/superuser/users/bob/quota/${q.id}`, ADMIN)).status, 204);
    });
  });
}

test('quota messages read as people write sizes', () => {
  assert.equal(formatBytes(1_200_000_000), '1.2 GB');
  assert.equal(formatBytes(1_000_000_000), '1 GB');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(50_000), '50 KB');
});

test('FEATURE_QUOTA_MANAGEMENT off: the quota API answers 404 and responses carry no quota_report', async () => {
  const s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
  try {
    assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    const r = await api(s, 'GET', '/organization/acme/quota', ADMIN);
    assert.equal(r.status, 404);
    assert.match(r.json.error_message, /FEATURE_QUOTA_MANAGEMENT/);
    assert.equal((await api(s, 'GET', '/organization/acme', ADMIN)).json.quota_report, undefined);
    assert.equal(s.berth.ctx.quota, undefined);
  } finally {
    await s.stop();
  }
});
