// Repository mirroring against a real upstream (Debian's docker-registry, plain HTTP and with htpasswd auth)
// holding multi-arch images pushed with skopeo: every architecture copied, tag globs, tags deleted upstream
// removed here, pushes to a mirror refused, sync-now / cancel / status, failure reasons, audit entries, and the
// API's refusals (bad input changes nothing; only repository admins). SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, host } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { ContainerSandbox } from './helpers/exec.ts';
import { readDirLayout, type BuiltIndex } from './helpers/images.ts';
import { ADMIN, mirrorConfig, multiArch, pushAll, tagsOf, waitForStatus, mirrorStatus } from './helpers/mirror.ts';
import { startSlowUpstream, type SlowUpstream } from './helpers/slow-upstream.ts';
import { waitFor } from './helpers/wait.ts';

const PW = 'user-password-1';
const OWNER: [string, string] = ['owner', PW];
const READER: [string, string] = ['reader', PW];
const WRITER: [string, string] = ['writer', PW];
const FAR = '2099-01-01T00:00:00Z';

const mirrorBody = (reference: string, rules: string[], extra: Record<string, unknown> = {}) => ({
  external_reference: reference,
  sync_interval: 3600,
  sync_start_date: FAR,
  root_rule: { rule_kind: 'tag_glob_csv', rule_value: rules },
  external_registry_config: { verify_tls: false },
  ...extra,
});

for (const dialect of await testDialects()) {
  describe(`repository mirroring (${dialect})`, { timeout: 300_000 }, () => {
    let s: TestServer;
    let plain: Distribution;
    let secured: Distribution;
    let sandbox: ContainerSandbox;
    const images: Record<string, BuiltIndex> = {};

    before(async () => {
      sandbox = new ContainerSandbox('berth-mirror-');
      [plain, secured] = await Promise.all([startDistribution(), startDistribution({ users: { puller: 'upstream-secret' } })]);
      for (const tag of ['v1.0', 'v1.1', 'latest', 'dev']) images[tag] = await multiArch(`${dialect}-${tag}`);
      await pushAll(sandbox, plain.host, 'library/app', images);
      await pushAll(sandbox, secured.host, 'team/private', { v2: images['v1.0'] }, 'puller:upstream-secret');
      s = await startServer(dialect, {}, { auth: true, config: mirrorConfig() });
      for (const u of ['owner', 'reader', 'writer'])
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
      assert.equal((await api(s, 'POST', '/organization/', OWNER, { name: 'acme' })).status, 201);
      for (const r of ['mirror', 'private', 'slow', 'frozen'])
        assert.equal((await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: r })).status, 201);
      assert.equal((await api(s, 'PUT', '/repository/acme/mirror/permissions/user/reader', OWNER, { role: 'read' })).status, 200);
      assert.equal((await api(s, 'PUT', '/repository/acme/mirror/permissions/user/writer', OWNER, { role: 'write' })).status, 200);
      assert.equal((await api(s, 'PUT', '/organization/acme/robots/sync', OWNER)).status, 201);
    });
    after(async () => {
      await s?.stop();
      await plain?.cleanup();
      await secured?.cleanup();
      await sandbox?.cleanup();
    });

    test('bad input is refused with a specific error and changes nothing', async () => {
      const ref = `${plain.host}/library/app`;
      const cases: [unknown, RegExp][] = [
        [{}, /external_reference is required/],
        [mirrorBody('https://example.com/a/b', ['latest']), /must not have a scheme/],
        [mirrorBody('example.com/a/b:latest', ['latest']), /without a tag or digest/],
        [mirrorBody('example.com', ['latest']), /host\[:port\]\/namespace\/repository/],
        [mirrorBody('example.com/UPPER/b', ['latest']), /not a valid repository name component/],
        [mirrorBody(ref, []), /at least one tag glob/],
        [mirrorBody(ref, ['']), /rule_value\[0\] must be a non-empty string/],
        [{ ...mirrorBody(ref, ['x']), root_rule: { rule_kind: 'regex', rule_value: ['x'] } }, /rule_kind must be "tag_glob_csv"/],
        [{ ...mirrorBody(ref, ['x']), sync_interval: 5 }, /sync_interval must be a whole number of seconds from 60/],
        [{ ...mirrorBody(ref, ['x']), sync_start_date: 'tomorrow' }, /Incorrect DateTime format for sync_start_date/],
        [{ ...mirrorBody(ref, ['x']), sync_start_date: '2026-13-01T00:00:00Z' }, /Incorrect DateTime format/],
        [{ ...mirrorBody(ref, ['x']), external_registry_password: 'p' }, /password without also specifying a username/],
        [{ ...mirrorBody(ref, ['x']), robot_username: 'other+bot' }, /not a robot account|not in namespace/],
        [{ ...mirrorBody(ref, ['x']), robot_username: 'owner' }, /is not a robot account/],
        [{ ...mirrorBody(ref, ['x']), surprise: 1 }, /unrecognized key|surprise/i],
        [
          { ...mirrorBody(ref, ['x']), external_registry_config: { verify_tls: false, proxy: { https_proxy: 'socks://x' } } },
          /external_registry_config\.proxy\.https_proxy uses the scheme socks:\/\/, which is not supported/,
        ],
      ];
      for (const [body, re] of cases) {
        const r = await api(s, 'POST', '/repository/acme/mirror/mirror', OWNER, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.json)}`);
        assert.match(r.json.error_message, re, JSON.stringify(body));
      }
      const raw = await fetch(`${s.url}/api/v1/repository/acme/mirror/mirror`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(OWNER.join(':')).toString('base64')}`, 'content-type': 'application/json' },
        body: '{"external_reference": ',
      });
      assert.equal(raw.status, 400);
      const none = await api(s, 'GET', '/repository/acme/mirror/mirror', OWNER);
      assert.equal(none.status, 404);
      assert.match(none.json.error_message, /no mirror configuration/);
      assert.equal((await api(s, 'GET', '/repository/acme/mirror', OWNER)).json.state, 'NORMAL');
      const st = await api(s, 'PUT', '/repository/acme/mirror/changestate', OWNER, { state: 'SIDEWAYS' });
      assert.equal(st.status, 400);
      assert.match(st.json.error_message, /SIDEWAYS is not a valid repository state/);
      assert.equal((await api(s, 'PUT', '/repository/acme/mirror/changestate', OWNER, {})).status, 400);
      assert.equal((await api(s, 'GET', '/repository/acme/mirror', OWNER)).json.state, 'NORMAL');
      for (const p of ['/mirror/sync-now', '/mirror/sync-cancel']) {
        const r = await api(s, 'POST', `/repository/acme/mirror${p}`, OWNER);
        assert.equal(r.status, 404, p);
        assert.match(r.json.error_message, /no mirror configuration/);
      }
      assert.equal((await api(s, 'GET', '/repository/acme/nothere/mirror', OWNER)).status, 404);
      assert.equal((await api(s, 'GET', '/repository/..%2F..%2Fetc/mirror', OWNER)).status >= 400, true);
    });

    test('only repository admins: anonymous 401, readers and writers 403, whether or not the repository exists', async () => {
      const body = mirrorBody(`${plain.host}/library/app`, ['latest']);
      for (const [method, p, b] of [
        ['GET', '/mirror', undefined],
        ['POST', '/mirror', body],
        ['PUT', '/mirror', { is_enabled: false }],
        ['POST', '/mirror/sync-now', undefined],
        ['POST', '/mirror/sync-cancel', undefined],
        ['PUT', '/changestate', { state: 'MIRROR' }],
      ] as const) {
        assert.equal((await api(s, method, `/repository/acme/mirror${p}`, undefined, b)).status, 401, `anonymous ${method} ${p}`);
        assert.equal((await api(s, method, `/repository/acme/mirror${p}`, READER, b)).status, 403, `reader ${method} ${p}`);
        assert.equal((await api(s, method, `/repository/acme/mirror${p}`, WRITER, b)).status, 403, `writer ${method} ${p}`);
        assert.equal((await api(s, method, `/repository/acme/hidden${p}`, READER, b)).status, 403, `reader on a missing repository`);
      }
      assert.equal((await api(s, 'GET', '/repository/acme/mirror', OWNER)).json.state, 'NORMAL');
    });

    test('a mirror over plain HTTP copies every architecture of the matching tags', async () => {
      const c = await api(s, 'POST', '/repository/acme/mirror/mirror', OWNER, {
        ...mirrorBody(`${plain.host}/library/app`, ['v1.*', 'latest']),
        robot_username: 'acme+sync',
      });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      assert.equal((await api(s, 'GET', '/repository/acme/mirror', OWNER)).json.state, 'MIRROR');
      let v = await mirrorStatus(s, 'acme/mirror');
      assert.equal(v.sync_status, 'NEVER_RUN');
      assert.equal(v.sync_start_date, FAR);
      assert.equal(v.robot_username, 'acme+sync');
      assert.deepEqual(v.root_rule, { rule_kind: 'tag_glob_csv', rule_value: ['v1.*', 'latest'] });
      assert.equal(v.sync_retries_remaining, 3);
      // The robot was given write, as Quay does.
      const perms = await api(s, 'GET', '/repository/acme/mirror/permissions/user/acme+sync', OWNER);
      assert.equal(perms.json.role, 'write');
      assert.equal(
        (await api(s, 'POST', '/repository/acme/mirror/mirror', OWNER, mirrorBody(`${plain.host}/library/app`, ['x']))).status,
        409,
      );

      assert.equal((await api(s, 'POST', '/repository/acme/mirror/mirror/sync-now', OWNER)).status, 204);
      v = await waitForStatus(s, 'acme/mirror', ['SYNC_SUCCESS', 'SYNC_FAILED']);
      assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
      assert.ok(v.last_sync && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v.last_sync as string));
      const tags = await tagsOf(s, 'acme/mirror');
      assert.deepEqual(Object.keys(tags).sort(), ['latest', 'v1.0', 'v1.1']);
      for (const t of ['latest', 'v1.0', 'v1.1']) assert.equal(tags[t], images[t].descriptor.digest, t);

      // Each architecture pulls by tag from Berth with the same manifest as upstream.
      for (const img of images['v1.0'].images) {
        const out = sandbox.mkdir(`pull-${img.architecture}`);
        await sandbox.skopeo([
          'copy',
          '--override-arch',
          img.architecture,
          '--src-tls-verify=false',
          '--src-creds',
          ADMIN.join(':'),
          `docker://${host(s)}/acme/mirror:v1.0`,
          `dir:${out}`,
        ]);
        const got = readDirLayout(out);
        assert.equal(got.digest, img.descriptor.digest, `${img.architecture} manifest`);
        for (const l of img.layers) assert.ok(got.has(l.descriptor.digest), `${img.architecture} layer ${l.descriptor.digest}`);
      }
      // Audit: started and success, performed by the robot.
      await waitFor(
        async () => {
          const logs = (await api(s, 'GET', '/repository/acme/mirror/logs', OWNER)).json.logs as { kind: string }[];
          return logs.some((l) => l.kind === 'repo_mirror_sync_success') && logs.some((l) => l.kind === 'repo_mirror_sync_started');
        },
        { what: 'repo_mirror_sync_started and _success in the audit log' },
      );
      const logs = (await api(s, 'GET', '/repository/acme/mirror/logs', OWNER)).json.logs as {
        kind: string;
        performer?: { name: string };
        metadata: Record<string, unknown>;
      }[];
      const ok = logs.find((l) => l.kind === 'repo_mirror_sync_success')!;
      assert.equal(ok.performer?.name, 'acme+sync');
      assert.match(String(ok.metadata.message), /3 tags/);
      assert.ok(logs.some((l) => l.kind === 'repo_mirror_config_changed' && l.metadata.changed === 'external_reference'));
      assert.ok(logs.some((l) => l.kind === 'repo_mirror_config_changed' && l.metadata.to === 'SYNC_NOW'));
    });

    test('pushes and tag changes in a mirror are refused, even for admins; READ_ONLY refuses pushes too', async () => {
      const layout = sandbox.mkdir('push');
      const { writeOciLayout } = await import('./helpers/images.ts');
      writeOciLayout(layout, { hack: images.dev });
      const r = await sandbox.try('skopeo', [
        'copy',
        '--all',
        '--dest-tls-verify=false',
        '--dest-creds',
        ADMIN.join(':'),
        `oci:${layout}:hack`,
        `docker://${host(s)}/acme/mirror:hack`,
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /is a mirror/, r.stderr);
      assert.match(r.stderr, /denied/i, r.stderr);
      const tags = await tagsOf(s, 'acme/mirror');
      assert.equal(tags.hack, undefined);
      const del = await api(s, 'DELETE', '/repository/acme/mirror/tag/latest', ADMIN);
      assert.equal(del.status, 403);
      assert.match(del.json.error_message, /is a mirror/);
      const mv = await api(s, 'PUT', '/repository/acme/mirror/tag/other', ADMIN, { manifest_digest: tags.latest });
      assert.equal(mv.status, 403);
      // /v2 DELETE of a manifest is refused the same way.
      const { registryToken } = await import('./helpers/accounts.ts');
      const t = await registryToken(s, ['repository:acme/mirror:pull,push,delete'], ADMIN);
      const d = await fetch(`${s.url}/v2/acme/mirror/manifests/${tags.latest}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${t.token}` },
      });
      assert.equal(d.status, 403);
      assert.match(JSON.stringify(await d.json()), /DENIED.*is a mirror/);
      assert.deepEqual(await tagsOf(s, 'acme/mirror'), tags);

      assert.equal((await api(s, 'PUT', '/repository/acme/frozen/changestate', OWNER, { state: 'READ_ONLY' })).status, 200);
      const ro = await sandbox.try('skopeo', [
        'copy',
        '--all',
        '--dest-tls-verify=false',
        '--dest-creds',
        OWNER.join(':'),
        `oci:${layout}:hack`,
        `docker://${host(s)}/acme/frozen:hack`,
      ]);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /is read-only/, ro.stderr);
      assert.equal((await api(s, 'PUT', '/repository/acme/frozen/changestate', OWNER, { state: 'NORMAL' })).status, 200);
      await sandbox.skopeo([
        'copy',
        '--all',
        '--dest-tls-verify=false',
        '--dest-creds',
        OWNER.join(':'),
        `oci:${layout}:hack`,
        `docker://${host(s)}/acme/frozen:hack`,
      ]);
      assert.equal((await tagsOf(s, 'acme/frozen')).hack, images.dev.descriptor.digest);
    });

    test('a tag deleted upstream disappears on the next sync, into the tag history', async () => {
      const gone = images['v1.1'].descriptor.digest;
      const r = await fetch(`${plain.url}/v2/library/app/manifests/${gone}`, { method: 'DELETE' });
      assert.equal(r.status, 202);
      assert.equal((await api(s, 'POST', '/repository/acme/mirror/mirror/sync-now', OWNER)).status, 204);
      await waitFor(async () => !('v1.1' in (await tagsOf(s, 'acme/mirror'))), { what: 'v1.1 removed by the sync', timeout: 30_000 });
      const v = await waitForStatus(s, 'acme/mirror', ['SYNC_SUCCESS', 'SYNC_FAILED']);
      assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
      assert.deepEqual(Object.keys(await tagsOf(s, 'acme/mirror')).sort(), ['latest', 'v1.0']);
      const hist = await api(s, 'GET', '/repository/acme/mirror/tag/?onlyActiveTags=false&specificTag=v1.1', OWNER);
      const ended = (hist.json.tags as { name: string; end_ts?: number; manifest_digest: string }[]).find((t) => t.name === 'v1.1');
      assert.ok(ended?.end_ts, JSON.stringify(hist.json));
      assert.equal(ended.manifest_digest, gone);
    });

    test('htpasswd upstream: wrong credentials fail with the reason, the right ones sync; the password is never returned', async () => {
      const body = mirrorBody(`${secured.host}/team/private`, ['v*'], {
        external_registry_username: 'puller',
        external_registry_password: 'wrong-password',
      });
      assert.equal((await api(s, 'POST', '/repository/acme/private/mirror', OWNER, body)).status, 201);
      assert.equal((await api(s, 'POST', '/repository/acme/private/mirror/sync-now', OWNER)).status, 204);
      let v = await waitForStatus(s, 'acme/private', ['SYNC_FAILED', 'SYNC_SUCCESS']);
      assert.equal(v.sync_status, 'SYNC_FAILED');
      assert.match(String(v.last_error), /401|unauthori[sz]ed|credentials/i);
      assert.equal(v.sync_retries_remaining, 2);
      assert.equal(v.external_registry_username, 'puller');
      assert.ok(!JSON.stringify(v).includes('wrong-password'));
      assert.ok(!('external_registry_password' in v));
      await waitFor(
        async () =>
          ((await api(s, 'GET', '/repository/acme/private/logs', OWNER)).json.logs as { kind: string }[]).some(
            (l) => l.kind === 'repo_mirror_sync_failed',
          ),
        { what: 'repo_mirror_sync_failed in the audit log' },
      );
      // A password alone is refused (Quay: a new password needs the username too), and nothing changes.
      const half = await api(s, 'PUT', '/repository/acme/private/mirror', OWNER, { external_registry_password: 'upstream-secret' });
      assert.equal(half.status, 400);
      const fix = await api(s, 'PUT', '/repository/acme/private/mirror', OWNER, {
        external_registry_username: 'puller',
        external_registry_password: 'upstream-secret',
      });
      assert.equal(fix.status, 201);
      assert.equal((await api(s, 'POST', '/repository/acme/private/mirror/sync-now', OWNER)).status, 204);
      v = await waitForStatus(s, 'acme/private', ['SYNC_SUCCESS']);
      assert.equal(v.last_error, null);
      assert.equal((await tagsOf(s, 'acme/private')).v2, images['v1.0'].descriptor.digest);
      // Stored sealed: the database row holds neither the password nor the username in clear.
      const row = await s.berth.ctx.db.selectFrom('repo_mirror').selectAll().execute();
      assert.ok(!JSON.stringify(row).includes('upstream-secret'));
      assert.ok(!JSON.stringify(row).includes('"puller"'));
    });

    test('an upstream that is down fails the sync with the reason; it succeeds once the upstream is back', async () => {
      await plain.stop();
      try {
        assert.equal((await api(s, 'POST', '/repository/acme/mirror/mirror/sync-now', OWNER)).status, 204);
        const v = await waitForStatus(s, 'acme/mirror', ['SYNC_FAILED']);
        assert.match(String(v.last_error), /ECONNREFUSED|unreachable|connect/i, String(v.last_error));
        assert.match(String(v.status_message), /failed/);
        assert.deepEqual(Object.keys(await tagsOf(s, 'acme/mirror')).sort(), ['latest', 'v1.0'], 'a failed sync removes nothing');
      } finally {
        await plain.restart();
      }
      assert.equal((await api(s, 'POST', '/repository/acme/mirror/mirror/sync-now', OWNER)).status, 204);
      await waitForStatus(s, 'acme/mirror', ['SYNC_SUCCESS']);
    });

    test('status transitions: SYNC_NOW, SYNCING, cancel mid-sync (SYNC_CANCEL), then a new sync finishes', async () => {
      let slow: SlowUpstream | undefined;
      try {
        const big = await multiArch(`${dialect}-big`, 1_500_000);
        await pushAll(sandbox, plain.host, 'library/big', { v1: big });
        slow = await startSlowUpstream(plain.host, 400_000);
        assert.equal(
          (await api(s, 'POST', '/repository/acme/slow/mirror', OWNER, mirrorBody(`${slow.host}/library/big`, ['v1']))).status,
          201,
        );
        // Not a mirror yet: a requested sync waits as SYNC_NOW.
        assert.equal((await api(s, 'PUT', '/repository/acme/slow/changestate', OWNER, { state: 'NORMAL' })).status, 200);
        assert.equal((await api(s, 'POST', '/repository/acme/slow/mirror/sync-now', OWNER)).status, 204);
        assert.equal((await mirrorStatus(s, 'acme/slow')).sync_status, 'SYNC_NOW');
        const cancelIdle = await api(s, 'POST', '/repository/acme/slow/mirror/sync-cancel', OWNER);
        assert.equal(cancelIdle.status, 204, 'a requested sync can be cancelled');
        assert.equal((await mirrorStatus(s, 'acme/slow')).sync_status, 'SYNC_CANCEL');
        const again = await api(s, 'POST', '/repository/acme/slow/mirror/sync-cancel', OWNER);
        assert.equal(again.status, 404);
        assert.match(again.json.error_message, /nothing to cancel/);
        assert.equal((await api(s, 'POST', '/repository/acme/slow/mirror/sync-now', OWNER)).status, 204);
        assert.equal((await api(s, 'PUT', '/repository/acme/slow/changestate', OWNER, { state: 'MIRROR' })).status, 200);
        const running = await waitForStatus(s, 'acme/slow', ['SYNCING']);
        assert.ok(running.sync_expiration_date, 'a running sync shows when its lease ends');
        const busy = await api(s, 'POST', '/repository/acme/slow/mirror/sync-now', OWNER);
        assert.equal(busy.status, 404);
        assert.match(busy.json.error_message, /is running now/);
        await waitFor(() => slow!.requests.some((r) => r.includes('/blobs/')), { what: 'the sync to fetch a blob' });
        assert.equal((await api(s, 'POST', '/repository/acme/slow/mirror/sync-cancel', OWNER)).status, 204);
        let v = await mirrorStatus(s, 'acme/slow');
        assert.equal(v.sync_status, 'SYNC_CANCEL');
        assert.equal(v.sync_retries_remaining, 0);
        // The sync stops at its next step and leaves the status alone; the tag was never set.
        await waitFor(async () => (await s.berth.ctx.db.selectFrom('repo_mirror').select('progress').execute()).length > 0, {
          what: 'progress rows',
        });
        slow.rate = 50_000_000;
        await waitFor(async () => (await mirrorStatus(s, 'acme/slow')).sync_status === 'SYNC_CANCEL', { what: 'still cancelled' });
        assert.equal((await tagsOf(s, 'acme/slow')).v1, undefined);
        assert.equal((await api(s, 'POST', '/repository/acme/slow/mirror/sync-now', OWNER)).status, 204);
        v = await waitForStatus(s, 'acme/slow', ['SYNC_SUCCESS', 'SYNC_FAILED'], 60_000);
        assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
        assert.equal((await tagsOf(s, 'acme/slow')).v1, big.descriptor.digest);
      } finally {
        await slow?.close();
      }
    });

    test('PUT changes fields one by one and refuses bad ones without changing anything', async () => {
      const before = await mirrorStatus(s, 'acme/mirror');
      for (const [body, re] of [
        [{ external_reference: '' }, /Empty string is an invalid repository location/],
        [{ sync_interval: 0 }, /sync_interval/],
        [{ root_rule: { rule_kind: 'tag_glob_csv', rule_value: [] } }, /at least one tag glob/],
        [{ is_enabled: 'yes' }, /is_enabled/],
        [{ external_registry_username: null, external_registry_password: 'x' }, /Unable to delete username while setting a password/],
        [{ is_enabled: false, sync_start_date: 'soon' }, /Incorrect DateTime format/],
      ] as [unknown, RegExp][]) {
        const r = await api(s, 'PUT', '/repository/acme/mirror/mirror', OWNER, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.json.error_message, re);
      }
      assert.deepEqual(await mirrorStatus(s, 'acme/mirror'), before);
      const r = await api(s, 'PUT', '/repository/acme/mirror/mirror', OWNER, {
        is_enabled: false,
        sync_interval: 7200,
        root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['latest'] },
        external_registry_config: { verify_tls: false, proxy: { https_proxy: 'http://proxy.example:3128' } },
      });
      assert.equal(r.status, 201);
      const after = await mirrorStatus(s, 'acme/mirror');
      assert.equal(after.is_enabled, false);
      assert.equal(after.sync_interval, 7200);
      assert.deepEqual(after.root_rule, { rule_kind: 'tag_glob_csv', rule_value: ['latest'] });
      assert.deepEqual(after.external_registry_config, { verify_tls: false, proxy: { https_proxy: 'http://proxy.example:3128' } });
    });
  });
}

describe('FEATURE_REPO_MIRROR off (the default)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
    assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: 'x' })).status, 201);
  });
  after(() => s?.stop());
  test('the endpoints answer 404 and say why; the repository keeps accepting pushes', async () => {
    for (const [m, p] of [
      ['GET', '/mirror'],
      ['POST', '/mirror/sync-now'],
      ['PUT', '/changestate'],
    ] as const) {
      const r = await api(s, m, `/repository/admin/x${p}`, ADMIN, m === 'PUT' ? { state: 'MIRROR' } : undefined);
      assert.equal(r.status, 404, p);
      assert.match(r.json.error_message, /FEATURE_REPO_MIRROR/);
    }
    assert.equal((await api(s, 'GET', '/repository/admin/x', ADMIN)).json.state, 'NORMAL');
  });
});

describe('tag globs (Quay tag_glob_csv, fnmatch syntax)', () => {
  test('*, ?, sets, negated sets and literal characters', async () => {
    const { tagMatcher, requireTagGlobs } = await import('../src/services/mirror/tag-rules.ts');
    const m = tagMatcher(['v1.*', 'latest', 'rc?', '2.[0-4]', 'x[!a-c]']);
    for (const t of ['v1.0', 'v1.', 'v1.10.3', 'latest', 'rc1', '2.0', '2.4', 'xd']) assert.ok(m(t), t);
    for (const t of ['v10', 'v1-0', 'latest2', 'rc10', '2.5', 'xa', 'xb', 'Latest', 'v2.1']) assert.ok(!m(t), t);
    assert.ok(tagMatcher(['a.b'])('a.b') && !tagMatcher(['a.b'])('axb'), 'a dot is literal');
    assert.ok(tagMatcher(['[abc'])('[abc'), 'an unclosed [ is literal');
    assert.deepEqual(requireTagGlobs([' latest ', 'v*']), ['latest', 'v*']);
    assert.throws(() => requireTagGlobs('latest'), /must be a list/);
    assert.throws(() => requireTagGlobs(Array(101).fill('x')), /at most 100/);
    assert.throws(() => requireTagGlobs([7]), /rule_value\[0\] must be a non-empty string/);
  });
});
