// Audit log: every pull, push and change recorded with Quay's kinds, performer and client address;
// Quay's /logs, /aggregatelogs and exportlogs (JSON lines) for repositories, organizations, the user and
// the superuser; who may read them; time ranges and paging; retention (periodic job and `berth gc`);
// batched writes flushed on shutdown. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { testDialects } from './helpers/databases.ts';
import { BERTH_BIN, startServer, type TestServer } from './helpers/server.ts';
import { api, basic, registryToken } from './helpers/accounts.ts';
import { openContext } from '../src/server.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'user-password-1';
const OWNER: [string, string] = ['owner', PW];
const READER: [string, string] = ['reader', PW];
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const run = promisify(execFile);

type Log = {
  kind: string;
  metadata: Record<string, any>;
  ip: string;
  datetime: string;
  performer?: { name: string; is_robot: boolean };
  namespace?: { name: string; kind: string };
};

async function pushImage(s: TestServer, repo: string, tag: string, creds: [string, string], seed = 'a'): Promise<string> {
  const t = await registryToken(s, [`repository:${repo}:pull,push`], creds);
  assert.ok(t.token, `push token for ${creds[0]}`);
  const auth = { authorization: `Bearer ${t.token}` };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const up = await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${sha(config)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: config,
  });
  assert.equal(up.status, 201);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [],
    }),
  );
  const put = await fetch(`${s.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(put.status, 201, await put.text());
  return sha(manifest);
}

async function pull(s: TestServer, repo: string, ref: string, creds: [string, string]): Promise<void> {
  const t = await registryToken(s, [`repository:${repo}:pull`], creds);
  const r = await fetch(`${s.url}/v2/${repo}/manifests/${ref}`, {
    headers: { authorization: `Bearer ${t.token}`, accept: 'application/vnd.oci.image.manifest.v1+json', 'user-agent': 'audit-test/1' },
  });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
}

/** Every entry of a log endpoint, following next_page. */
async function allLogs(s: TestServer, path: string, creds: [string, string]): Promise<Log[]> {
  const out: Log[] = [];
  let next: string | undefined;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(s, 'GET', `${path}${next ? `${sep}next_page=${encodeURIComponent(next)}` : ''}`, creds);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(r.json.logs.length <= 20, 'Quay pages hold at most 20 entries');
    out.push(...r.json.logs);
    next = r.json.next_page;
    if (!next) return out;
  }
  throw new Error('too many pages');
}

for (const dialect of await testDialects()) {
  describe(`audit log (${dialect})`, () => {
    let s: TestServer;
    let digest: string;
    let robot: { name: string; token: string };

    before(async () => {
      s = await startServer(
        dialect,
        {},
        { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 1000 } },
      );
      for (const u of ['owner', 'reader', 'member'])
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
      assert.equal((await api(s, 'POST', '/organization/', OWNER, { name: 'acme' })).status, 201);
      assert.equal(
        (await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'app', visibility: 'private' })).status,
        201,
      );
      assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/reader', OWNER, { role: 'read' })).status, 200);
      const r = await api(s, 'PUT', '/organization/acme/robots/ci', OWNER);
      assert.equal(r.status, 201);
      robot = { name: r.json.name, token: r.json.token };
      assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/acme+ci', OWNER, { role: 'write' })).status, 200);
      assert.equal((await api(s, 'PUT', '/organization/acme/team/devs', OWNER, { role: 'member' })).status, 200);
      assert.equal((await api(s, 'PUT', '/organization/acme/team/devs/members/member', OWNER)).status, 200);
      assert.equal((await api(s, 'DELETE', '/organization/acme/team/devs/members/member', OWNER)).status, 204);
      digest = await pushImage(s, 'acme/app', 'v1', OWNER);
      await pull(s, 'acme/app', 'v1', READER);
      await pull(s, 'acme/app', digest, [robot.name, robot.token]);
      assert.equal((await api(s, 'PUT', '/repository/acme/app/tag/prod', OWNER, { manifest_digest: digest })).status, 201);
      assert.equal((await api(s, 'PUT', '/repository/acme/app/tag/prod', OWNER, { manifest_digest: digest })).status, 201);
      assert.equal((await api(s, 'DELETE', '/repository/acme/app/tag/prod', OWNER)).status, 204);
      assert.equal((await api(s, 'POST', '/repository/acme/app/tag/prod/restore', OWNER, { manifest_digest: digest })).status, 200);
      assert.equal((await api(s, 'POST', '/repository/acme/app/changevisibility', OWNER, { visibility: 'public' })).status, 200);
      assert.equal((await api(s, 'DELETE', '/repository/acme/app/permissions/user/reader', OWNER)).status, 204);
      assert.equal((await api(s, 'POST', '/user/apptoken', OWNER, { title: 'laptop' })).status, 200);
      // Sign-ins: docker login (token endpoint) right and wrong, UI sign-in wrong.
      assert.equal((await registryToken(s, [], OWNER)).status, 200);
      assert.equal((await registryToken(s, [], ['owner', 'wrong-password'])).status, 401);
      assert.equal((await api(s, 'POST', '/signin', undefined, { username: 'owner', password: 'nope' })).status, 401);
      // A refused change is not recorded as a change.
      assert.equal((await api(s, 'DELETE', '/repository/acme/app', READER)).status, 403);
    });
    after(async () => {
      await s?.stop();
    });

    test('pulls, pushes and changes of a repository are recorded with kind, performer, address and metadata', async () => {
      const logs = await allLogs(s, '/repository/acme/app/logs', OWNER);
      const kinds = logs.map((l) => l.kind);
      for (const k of [
        'create_repo',
        'change_repo_permission',
        'push_repo',
        'pull_repo',
        'create_tag',
        'move_tag',
        'delete_tag',
        'revert_tag',
        'change_repo_visibility',
        'delete_repo_permission',
      ]) {
        assert.ok(kinds.includes(k), `${k} missing from ${kinds.join(',')}`);
      }
      assert.ok(!kinds.includes('delete_repo'), 'a refused delete is not logged');
      // Newest first.
      assert.equal(logs[0].kind, 'delete_repo_permission');
      const push = logs.find((l) => l.kind === 'push_repo')!;
      assert.deepEqual(
        {
          performer: push.performer?.name,
          robot: push.performer?.is_robot,
          tag: push.metadata.tag,
          digest: push.metadata.manifest_digest,
          repo: push.metadata.repo,
          ns: push.metadata.namespace,
        },
        { performer: 'owner', robot: false, tag: 'v1', digest, repo: 'app', ns: 'acme' },
      );
      assert.equal(push.ip, '127.0.0.1');
      assert.match(push.datetime, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} -0000$/);
      const pulls = logs.filter((l) => l.kind === 'pull_repo');
      assert.equal(pulls.length, 2);
      const byReader = pulls.find((l) => l.performer?.name === 'reader')!;
      assert.deepEqual([byReader.performer?.is_robot, byReader.metadata.tag, byReader.metadata.useragent], [false, 'v1', 'audit-test/1']);
      const byRobot = pulls.find((l) => l.performer?.name === 'acme+ci')!;
      assert.deepEqual([byRobot.performer?.is_robot, byRobot.metadata.manifest_digest], [true, digest]);
      const move = logs.find((l) => l.kind === 'move_tag')!;
      assert.deepEqual([move.metadata.tag, move.metadata.original_manifest_digest], ['prod', digest]);
      assert.equal(logs.find((l) => l.kind === 'change_repo_visibility')!.metadata.visibility, 'public');
      assert.deepEqual(logs.find((l) => l.kind === 'delete_repo_permission')!.metadata.username, 'reader');
    });

    test('organization logs hold robots, teams and members; user logs hold sign-ins and app tokens', async () => {
      const org = await allLogs(s, '/organization/acme/logs', OWNER);
      const kinds = new Set(org.map((l) => l.kind));
      for (const k of ['org_create', 'create_robot', 'org_create_team', 'org_add_team_member', 'org_remove_team_member', 'push_repo'])
        assert.ok(kinds.has(k), `${k} in org logs`);
      assert.equal(org.find((l) => l.kind === 'create_robot')!.metadata.robot, 'acme+ci');
      assert.deepEqual(org.find((l) => l.kind === 'org_add_team_member')!.metadata, { member: 'member', team: 'devs' });
      const mine = await allLogs(s, '/user/logs', OWNER);
      const ok = mine.filter((l) => l.kind === 'login_success');
      assert.ok(ok.some((l) => l.metadata.type === 'v2auth' && l.performer?.name === 'owner'));
      const failures = mine.filter((l) => l.kind === 'login_failure');
      assert.deepEqual(failures.map((l) => l.metadata.type).sort(), ['quayauth', 'v2auth']);
      assert.ok(failures.every((l) => l.performer === undefined && l.metadata.username === 'owner' && l.ip === '127.0.0.1'));
      assert.equal(mine.find((l) => l.kind === 'create_app_specific_token')!.metadata.app_specific_token_title, 'laptop');
    });

    test('only repository admins, organization admins and superusers read logs', async () => {
      assert.equal((await api(s, 'GET', '/repository/acme/app/logs', READER)).status, 403);
      assert.equal((await api(s, 'GET', '/repository/acme/app/logs')).status, 401);
      assert.equal((await api(s, 'GET', '/repository/acme/app/logs', [robot.name, robot.token])).status, 403);
      assert.equal((await api(s, 'GET', '/repository/acme/app/logs', ADMIN)).status, 200);
      assert.equal((await api(s, 'GET', '/organization/acme/logs', READER)).status, 403);
      assert.equal((await api(s, 'GET', '/organization/acme/aggregatelogs', READER)).status, 403);
      assert.equal((await api(s, 'GET', '/organization/acme/exportlogs', READER)).status, 403);
      assert.equal((await api(s, 'GET', '/superuser/logs', OWNER)).status, 403);
      assert.equal((await api(s, 'GET', '/organization/nope/logs', ADMIN)).status, 404);
      assert.equal((await api(s, 'GET', '/repository/acme/none/logs', ADMIN)).status, 404);
      const all = await allLogs(s, '/superuser/logs', ADMIN);
      const push = all.find((l) => l.kind === 'push_repo')!;
      assert.deepEqual(push.namespace, { kind: 'org', name: 'acme' });
      assert.ok(all.some((l) => l.kind === 'user_create' && l.metadata.username === 'reader'));
    });

    test('filters: kind, performer, time range (Quay MM/DD/YYYY and ISO 8601); bad input is refused clearly', async () => {
      const pulls = await allLogs(s, '/repository/acme/app/logs?kind=pull_repo', OWNER);
      assert.deepEqual(
        pulls.map((l) => l.kind),
        ['pull_repo', 'pull_repo'],
      );
      const byReader = await allLogs(s, '/repository/acme/app/logs?performer=reader', OWNER);
      assert.deepEqual(
        byReader.map((l) => l.kind),
        ['pull_repo'],
      );
      const day = (d: Date) =>
        `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCDate()).padStart(2, '0')}/${d.getUTCFullYear()}`;
      const today = day(new Date());
      const lastWeek = day(new Date(Date.now() - 7 * 86400_000));
      const twoWeeks = day(new Date(Date.now() - 14 * 86400_000));
      assert.ok(
        (await allLogs(s, `/repository/acme/app/logs?starttime=${encodeURIComponent(today)}&endtime=${encodeURIComponent(today)}`, OWNER))
          .length >= 10,
      );
      assert.equal(
        (
          await allLogs(
            s,
            `/repository/acme/app/logs?starttime=${encodeURIComponent(twoWeeks)}&endtime=${encodeURIComponent(lastWeek)}`,
            OWNER,
          )
        ).length,
        0,
      );
      const future = new Date(Date.now() + 60_000).toISOString();
      assert.equal((await allLogs(s, `/repository/acme/app/logs?starttime=${future}`, OWNER)).length, 0);
      const bad = async (q: string, re: RegExp) => {
        const r = await api(s, 'GET', `/repository/acme/app/logs?${q}`, OWNER);
        assert.equal(r.status, 400, q);
        assert.match(r.json.error_message, re, q);
      };
      await bad('starttime=2026-13-45', /starttime must be a date/);
      await bad('starttime=02/30/2026', /not a real date/);
      await bad(`starttime=${encodeURIComponent(today)}&endtime=${encodeURIComponent(lastWeek)}`, /endtime is before starttime/);
      await bad('starttime=01/01/2020&endtime=01/01/2026', /longer than 366 days/);
      await bad('kind=pull_repo,drop_table', /unknown log kind "drop_table"/);
      await bad('next_page=not-a-token', /next_page is not a page token/);
      // Tokens are keyset positions (time and id, docs/AUDIT.md "Paging"): one of an older Berth (an id only) is
      // told apart; a position that is not one is refused. Reading nothing changes nothing: the log is as it was.
      const tok = (o: object) => encodeURIComponent(Buffer.from(JSON.stringify(o)).toString('base64url'));
      const before = await allLogs(s, '/repository/acme/app/logs', OWNER);
      await bad(`next_page=${tok({ v: 1, before: 10 })}`, /page token of an older Berth .*ask for the first page again/);
      await bad(`next_page=${tok({ v: 2, at: 1.5, id: 3 })}`, /next_page is not a page token/);
      await bad(`next_page=${tok({ v: 2, at: Date.now(), id: 0 })}`, /next_page is not a page token/);
      await bad(`next_page=${tok({ v: 2, at: '1', id: 3 })}`, /next_page is not a page token/);
      await bad(`next_page=${tok([2, 1, 3])}`, /next_page is not a page token/);
      assert.deepEqual(await allLogs(s, '/repository/acme/app/logs', OWNER), before);
    });

    test('paging: 20 per page with next_page, no entry twice or missing; aggregatelogs counts per kind and day', async () => {
      for (let i = 0; i < 23; i++) await pull(s, 'acme/app', 'v1', OWNER);
      const first = await api(s, 'GET', '/repository/acme/app/logs?kind=pull_repo', OWNER);
      assert.equal(first.json.logs.length, 20);
      assert.ok(first.json.next_page);
      assert.match(first.json.start_time, /-0000$/);
      const second = await api(
        s,
        'GET',
        `/repository/acme/app/logs?kind=pull_repo&next_page=${encodeURIComponent(first.json.next_page)}`,
        OWNER,
      );
      assert.equal(second.json.logs.length, 5);
      assert.equal(second.json.next_page, undefined);
      const all = await allLogs(s, '/repository/acme/app/logs', OWNER);
      const agg = await api(s, 'GET', '/repository/acme/app/aggregatelogs', OWNER);
      assert.equal(agg.status, 200);
      const counts: Record<string, number> = {};
      for (const l of all) counts[l.kind] = (counts[l.kind] ?? 0) + 1;
      const got: Record<string, number> = {};
      for (const a of agg.json.aggregated as { kind: string; count: number; datetime: string }[]) {
        got[a.kind] = (got[a.kind] ?? 0) + a.count;
        assert.match(a.datetime, / 00:00:00 -0000$/);
      }
      assert.deepEqual(got, counts);
      assert.equal(got.pull_repo, 25);
    });

    test('exportlogs: the range as JSON lines, as a download', async () => {
      const r = await fetch(`${s.url}/api/v1/organization/acme/exportlogs`, { headers: { authorization: basic(...OWNER) } });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/x-ndjson/);
      assert.match(
        r.headers.get('content-disposition') ?? '',
        /attachment; filename="acme-logs-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.jsonl"/,
      );
      const lines = (await r.text())
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      const paged = await allLogs(s, '/organization/acme/logs', OWNER);
      assert.equal(lines.length, paged.length);
      assert.deepEqual(
        lines.map((l) => l.kind),
        paged.map((l) => l.kind),
      );
      assert.ok(lines.every((l) => typeof l.id === 'number' && l.datetime && l.namespace?.name === 'acme'));
    });

    test('retention: entries older than LOGS_RETENTION_DAYS are pruned by the job, newer ones kept', async () => {
      const db = s.berth.ctx.db;
      const old = Date.now() - 91 * 86400_000;
      await db
        .insertInto('audit_log')
        .values({
          kind: 'pull_repo',
          namespace: 'acme',
          repository: 'acme/app',
          performer_kind: 'anonymous',
          performer: null,
          ip: '10.0.0.1',
          metadata: '{}',
          created_at: old,
        })
        .execute();
      const before = Number(
        (
          await db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
      assert.equal(await s.berth.audit.log.prune(), 1);
      const afterN = Number(
        (
          await db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
      assert.equal(afterN, before - 1);
    });
  });

  describe(`audit log: team sync and OpenID sign-in (${dialect})`, () => {
    test('linking and unlinking a team to a directory group, and a refused OpenID callback, are recorded', async () => {
      const s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
            FEATURE_TEAM_SYNCING: true,
            OIDC_LOGIN_CONFIG: { OIDC_SERVER: 'http://127.0.0.1:9/', CLIENT_ID: 'audit', CLIENT_SECRET: 'audit' },
          },
        },
      );
      try {
        assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
        assert.equal((await api(s, 'PUT', '/organization/acme/team/devs', ADMIN, { role: 'member' })).status, 200);
        assert.equal((await api(s, 'POST', '/organization/acme/team/devs/syncing', ADMIN, { group_name: 'developers' })).status, 200);
        assert.equal((await api(s, 'DELETE', '/organization/acme/team/devs/syncing', ADMIN)).status, 204);
        const cb = await fetch(`${s.url}/oauth2/oidc/callback?state=forged&code=x`, { redirect: 'manual' });
        assert.equal(cb.status, 302);
        const org = await allLogs(s, '/organization/acme/logs', ADMIN);
        assert.deepEqual(
          org.filter((l) => l.kind.endsWith('team_sync')).map((l) => [l.kind, l.metadata.team, l.performer?.name]),
          [
            ['disable_team_sync', 'devs', 'admin'],
            ['enable_team_sync', 'devs', 'admin'],
          ],
        );
        assert.equal(org.find((l) => l.kind === 'enable_team_sync')!.metadata.group_dn, 'developers');
        const all = await allLogs(s, '/superuser/logs?kind=login_failure', ADMIN);
        assert.ok(
          all.some((l) => l.metadata.type === 'oauth' && l.metadata.service === 'oidc' && l.ip === '127.0.0.1'),
          JSON.stringify(all),
        );
      } finally {
        await s.stop();
      }
    });
  });

  describe(`audit log writes are batched and flushed on shutdown; berth gc prunes (${dialect})`, () => {
    test('entries buffered for a long flush interval reach the database at close; berth gc removes expired ones', async () => {
      const s = await startServer(
        dialect,
        {},
        { config: { AUDIT_LOG_FLUSH_MS: 60_000, AUDIT_LOG_BATCH_SIZE: 2000, LOGS_RETENTION_DAYS: 30 } },
      );
      try {
        const config = Buffer.from('{}');
        assert.equal(
          (await fetch(`${s.url}/v2/open/app/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', body: config })).status,
          201,
        );
        const manifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: 2 },
          layers: [],
        });
        assert.equal(
          (
            await fetch(`${s.url}/v2/open/app/manifests/v1`, {
              method: 'PUT',
              body: manifest,
              headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
            })
          ).status,
          201,
        );
        for (let i = 0; i < 7; i++) assert.equal((await fetch(`${s.url}/v2/open/app/manifests/v1`)).status, 200);
        // Still in the buffer: the flush interval is a minute.
        assert.equal(
          Number(
            (
              await s.berth.ctx.db
                .selectFrom('audit_log')
                .select((eb) => eb.fn.countAll().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
          0,
        );
        const cfg = s.berth.ctx.config;
        await s.berth.close();
        const { ctx, database } = await openContext(cfg);
        try {
          const rows = await ctx.db.selectFrom('audit_log').select(['kind', 'performer_kind']).orderBy('id').execute();
          assert.deepEqual(
            rows.map((r) => r.kind),
            ['push_repo', ...Array(7).fill('pull_repo')],
          );
          assert.ok(rows.every((r) => r.performer_kind === 'anonymous'));
          await ctx.db
            .insertInto('audit_log')
            .values({
              kind: 'pull_repo',
              namespace: 'open',
              repository: 'open/app',
              performer_kind: 'anonymous',
              performer: null,
              ip: null,
              metadata: '{}',
              created_at: Date.now() - 40 * 86400_000,
            })
            .execute();
        } finally {
          await database.close();
        }
        const out = await run(process.execPath, [BERTH_BIN, 'gc', '--config', path.join(s.dataDir, 'config.yaml'), '--data', s.dataDir], {
          env: { ...process.env, ...(s.dbUri ? { DB_URI: s.dbUri } : {}) },
        });
        assert.match(out.stdout, /gc: audit log: removed 1 entries older than 30 days \(LOGS_RETENTION_DAYS\)/);
      } finally {
        await s.stop();
      }
    });
  });
}
