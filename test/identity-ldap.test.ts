// Directory sign-in against a real OpenLDAP (Debian's slapd, started here with its own slapd.conf on loopback
// ports): skopeo and podman log in and push with directory credentials, the API and UI sign-in, app tokens for
// directory users, a user deleted in the directory refused at the next login and token request, the superuser
// and restricted filters, team sync (link, refusal of hand edits, at sign-in and on the schedule), the directory
// down (a clear 503, the local superuser still gets in), and ldaps:// and StartTLS with a CA from Berth's own code.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { api, basic, host, registryToken } from './helpers/accounts.ts';
import { run } from './helpers/exec.ts';
import {
  ADMIN_DN,
  ADMIN_PASSWORD,
  BASE_DN,
  BASE_LDIF,
  destroySlapd,
  group,
  haveSlapd,
  person,
  startSlapd,
  type Slapd,
} from './helpers/slapd.ts';
import { loadConfig, ConfigError } from '../src/config/load.ts';

const have = (bin: string) => spawnSync(bin, ['--version']).status === 0;
const noSlapd = haveSlapd ? false : 'SKIPPED: slapd or ldap-utils missing (apt-get install -y slapd ldap-utils; .ci/run installs them)';
const tmp = mkdtempSync(path.join(tmpdir(), 'berth-ldap-'));
const ADMIN: [string, string] = ['admin', 'local-admin-pw-1'];

function ldapConfig(d: Slapd, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    AUTHENTICATION_TYPE: 'LDAP',
    LDAP_URI: d.url,
    LDAP_ADMIN_DN: ADMIN_DN,
    LDAP_ADMIN_PASSWD: ADMIN_PASSWORD,
    LDAP_BASE_DN: ['dc=example', 'dc=com'],
    LDAP_USER_RDN: ['ou=people'],
    LDAP_UID_ATTR: 'uid',
    LDAP_EMAIL_ATTR: 'mail',
    LDAP_USER_FILTER: '(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))',
    LDAP_SUPERUSER_FILTER: '(employeeType=admin)',
    LDAP_RESTRICTED_USER_FILTER: '(employeeType=contractor)',
    LDAP_TIMEOUT: 5,
    LDAP_NETWORK_TIMEOUT: 2,
    BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
    ...extra,
  };
}

/** POST /api/v1/signin: status, the session cookie and CSRF token. */
async function signin(
  s: TestServer,
  username: string,
  password: string,
): Promise<{ status: number; cookie?: string; csrf?: string; json: any }> {
  const r = await fetch(`${s.url}/api/v1/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const json = (await r.json()) as any;
  const cookie = r.headers.get('set-cookie')?.split(';')[0];
  return { status: r.status, cookie, csrf: json.csrf_token, json };
}

async function teamMembers(s: TestServer, org: string, team: string): Promise<{ names: string[]; json: any }> {
  const r = await api(s, 'GET', `/organization/${org}/team/${team}/members`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return {
    names: r.json.members
      .filter((m: any) => !m.is_robot)
      .map((m: any) => m.name)
      .sort(),
    json: r.json,
  };
}

/** Waits (bounded) until the condition holds: for the scheduler, which runs on its own. */
async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

test('AUTHENTICATION_TYPE LDAP without its keys, or with a bad filter, is refused with field errors', () => {
  const problems = (doc: Record<string, unknown>): string[] => {
    const file = path.join(tmp, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringifyYaml(doc));
    try {
      loadConfig({ file, env: {} });
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
  };
  const p1 = problems({ AUTHENTICATION_TYPE: 'LDAP' });
  assert.ok(p1.includes('LDAP_URI: required when AUTHENTICATION_TYPE is LDAP'), p1.join('\n'));
  assert.ok(p1.includes('LDAP_ADMIN_DN: required when AUTHENTICATION_TYPE is LDAP'), p1.join('\n'));
  const p2 = problems({
    AUTHENTICATION_TYPE: 'LDAP',
    LDAP_URI: 'http://x',
    LDAP_ADMIN_DN: 'cn=a',
    LDAP_ADMIN_PASSWD: 'x',
    LDAP_BASE_DN: 'dc=x',
    LDAP_USER_FILTER: 'objectClass=person',
  });
  assert.ok(
    p2.some((p) => p.startsWith('LDAP_URI: must be ldap://')),
    p2.join('\n'),
  );
  assert.ok(
    p2.some((p) => p.startsWith('LDAP_USER_FILTER: must be an LDAP filter')),
    p2.join('\n'),
  );
  const p3 = problems({
    AUTHENTICATION_TYPE: 'LDAP',
    LDAP_URI: 'ldaps://x:636',
    LDAP_START_TLS: true,
    LDAP_ADMIN_DN: 'cn=a',
    LDAP_ADMIN_PASSWD: 'x',
    LDAP_BASE_DN: 'dc=x',
  });
  assert.deepEqual(p3, ['LDAP_START_TLS: use it with an ldap:// URI (ldaps:// is TLS from the start)']);
});

for (const dialect of await testDialects()) {
  describe(`LDAP sign-in against slapd (${dialect})`, () => {
    let d: Slapd;
    let s: TestServer;
    before(async () => {
      if (noSlapd) return; // the tests are skipped, with the reason
      d = await startSlapd();
      await d.add(
        [
          BASE_LDIF,
          person('alice', 'alice-pw'),
          person('bob', 'bob-pw'),
          person('carol', 'carol-pw'),
          person('erin', 'erin-pw'),
          person('dave', 'dave-pw', 'dave@example.com', ['employeeType: admin']),
          person('mallory', 'mallory-pw', 'mallory@example.com', ['employeeType: disabled']),
          person('cora', 'cora-pw', 'cora@example.com', ['employeeType: contractor']),
          group('devs', ['alice', 'bob']),
          group('ops', ['carol']),
        ].join('\n'),
      );
      s = await startServer(
        dialect,
        {},
        { auth: true, config: ldapConfig(d, { FEATURE_TEAM_SYNCING: true, TEAM_RESYNC_STALE_TIME: '1s' }) },
      );
      // The tests drive the scheduler themselves (stopped for the sign-in case, then fast).
      await s.berth.accounts.identity.teamSync.stop();
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
    });
    after(async () => {
      await s?.stop();
      await destroySlapd(d);
    });

    test('API sign-in with directory credentials; wrong password, unknown and filtered-out users are refused', {
      skip: noSlapd,
    }, async () => {
      const ok = await signin(s, 'alice', 'alice-pw');
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.ok(ok.cookie?.startsWith('berth_session='));
      const me = await fetch(`${s.url}/api/v1/user/`, { headers: { cookie: ok.cookie! } });
      const body = (await me.json()) as any;
      assert.equal(body.username, 'alice');
      assert.equal(body.email, 'alice@example.com');
      assert.equal(body.super_user, false);
      assert.equal((await signin(s, 'alice', 'wrong')).status, 401);
      assert.equal((await signin(s, 'nobody', 'x-pw')).status, 401);
      // mallory is in the directory but LDAP_USER_FILTER excludes her.
      assert.equal((await signin(s, 'mallory', 'mallory-pw')).status, 401);
      // A filter metacharacter in the username is escaped, not a wildcard.
      assert.equal((await signin(s, 'al*', 'alice-pw')).status, 401);
    });

    test('LDAP_SUPERUSER_FILTER makes a superuser; LDAP_RESTRICTED_USER_FILTER forbids organizations and own repositories', {
      skip: noSlapd,
    }, async () => {
      const dave = await api(s, 'GET', '/user/', ['dave', 'dave-pw']);
      assert.equal(dave.status, 200);
      assert.equal(dave.json.super_user, true);
      const cora = await api(s, 'POST', '/organization/', ['cora', 'cora-pw'], { name: 'coraorg' });
      assert.equal(cora.status, 403, JSON.stringify(cora.json));
      assert.match(cora.json.detail, /restricted/);
      const tok = await registryToken(s, ['repository:cora/app:pull,push'], ['cora', 'cora-pw']);
      assert.deepEqual(tok.access, []);
      const alice = await registryToken(s, ['repository:alice/app:pull,push'], ['alice', 'alice-pw']);
      assert.deepEqual(alice.access, [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
    });

    test('skopeo and podman log in and push with directory credentials', {
      skip: noSlapd || (!have('skopeo') || !have('podman') ? 'skopeo or podman missing' : false),
    }, async () => {
      const layout = makeOciLayout();
      const auth = path.join(tmp, `auth-${dialect}.json`);
      const bad = await run('skopeo', ['login', '--tls-verify=false', '--authfile', auth, '-u', 'bob', '--password-stdin', host(s)], {
        input: 'wrong\n',
      });
      assert.notEqual(bad.code, 0, bad.stderr);
      const ok = await run('skopeo', ['login', '--tls-verify=false', '--authfile', auth, '-u', 'bob', '--password-stdin', host(s)], {
        input: 'bob-pw\n',
      });
      assert.equal(ok.code, 0, ok.stderr);
      const push = await run(
        'skopeo',
        ['copy', '--authfile', auth, '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${host(s)}/bob/app:1.0`],
        { timeoutMs: 120_000 },
      );
      assert.equal(push.code, 0, push.stderr);
      const store = ['--root', path.join(tmp, dialect, 'root'), '--runroot', path.join(tmp, dialect, 'run'), '--storage-driver', 'vfs'];
      const pauth = path.join(tmp, `podman-${dialect}.json`);
      const p = await run(
        'podman',
        [...store, 'login', '--tls-verify=false', '--authfile', pauth, '-u', 'bob', '--password-stdin', host(s)],
        { input: 'bob-pw\n' },
      );
      assert.equal(p.code, 0, p.stderr);
      const pull = await run('podman', [...store, 'pull', '--tls-verify=false', '--authfile', pauth, `${host(s)}/bob/app:1.0`], {
        timeoutMs: 120_000,
      });
      assert.equal(pull.code, 0, pull.stderr);
    });

    test('a directory user gets an app token and uses it; deleted in the directory, password and token are refused at the next request', {
      skip: noSlapd,
    }, async () => {
      const created = await api(s, 'POST', '/user/apptoken', ['carol', 'carol-pw'], { title: 'ci' });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      const token = created.json.token.token_code as string;
      assert.deepEqual((await registryToken(s, ['repository:carol/app:pull,push'], ['$app', token])).access, [
        { type: 'repository', name: 'carol/app', actions: ['pull', 'push'] },
      ]);
      const bearer = await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(bearer.status, 200);
      const session = await signin(s, 'carol', 'carol-pw');
      const withSession = () => fetch(`${s.url}/api/v1/user/`, { headers: { cookie: session.cookie! } }).then((r) => r.status);
      assert.equal(await withSession(), 200);
      await d.remove(`uid=carol,ou=people,${BASE_DN}`);
      assert.equal((await registryToken(s, ['repository:carol/app:pull'], ['carol', 'carol-pw'])).status, 401);
      assert.equal((await registryToken(s, ['repository:carol/app:pull'], ['$app', token])).status, 401);
      // The token renewal that found her gone ended her browser session as well.
      assert.equal(await withSession(), 401);
      assert.equal((await fetch(`${s.url}/api/v1/user/`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
      // Disabled (no longer matching LDAP_USER_FILTER) counts the same.
      const erin = await api(s, 'POST', '/user/apptoken', ['erin', 'erin-pw'], { title: 'ci' });
      assert.equal(erin.status, 200);
      await d.modify(`dn: uid=erin,ou=people,${BASE_DN}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n`);
      assert.equal((await registryToken(s, ['repository:erin/app:pull'], ['$app', erin.json.token.token_code])).status, 401);
      assert.equal((await registryToken(s, ['repository:erin/app:pull'], ['erin', 'erin-pw'])).status, 401);
    });

    test('team sync: a team follows its group; hand edits are refused; a missing group is refused', { skip: noSlapd }, async () => {
      assert.equal((await api(s, 'PUT', '/organization/acme/team/devs', ADMIN, { role: 'creator' })).status, 200);
      const missing = await api(s, 'POST', '/organization/acme/team/devs/syncing', ADMIN, { group_dn: 'cn=nope,ou=groups' });
      assert.equal(missing.status, 400);
      assert.match(missing.json.detail, /group "cn=nope,ou=groups,dc=example,dc=com" does not exist in the directory/);
      const linked = await api(s, 'POST', '/organization/acme/team/devs/syncing', ADMIN, { group_dn: 'cn=devs,ou=groups' });
      assert.equal(linked.status, 200, JSON.stringify(linked.json));
      const m = await teamMembers(s, 'acme', 'devs');
      assert.deepEqual(m.names, ['alice', 'bob']);
      assert.equal(m.json.can_edit, false);
      assert.deepEqual(m.json.can_sync, { service: 'ldap', base_dn: BASE_DN });
      assert.deepEqual(m.json.synced.config, { group_dn: 'cn=devs,ou=groups' });
      const hand = await api(s, 'PUT', '/organization/acme/team/devs/members/dave', ADMIN);
      assert.equal(hand.status, 400);
      assert.match(hand.json.detail, /synced with a group/);
      assert.equal((await api(s, 'DELETE', '/organization/acme/team/devs/members/alice', ADMIN)).status, 400);
      // A non-superuser org admin may not link (FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP is off).
      assert.equal((await api(s, 'POST', '/organization/', ['alice', 'alice-pw'], { name: 'aliceorg' })).status, 201);
      assert.equal((await api(s, 'PUT', '/organization/aliceorg/team/t1', ['alice', 'alice-pw'], { role: 'member' })).status, 200);
      assert.equal(
        (await api(s, 'POST', '/organization/aliceorg/team/t1/syncing', ['alice', 'alice-pw'], { group_dn: 'cn=devs,ou=groups' })).status,
        403,
      );
      // Team membership gives the team's role: bob (in devs, a creator team) may push into acme.
      assert.deepEqual((await registryToken(s, ['repository:acme/tool:push'], ['bob', 'bob-pw'])).access, [
        { type: 'repository', name: 'acme/tool', actions: ['push'] },
      ]);
    });

    test('team sync at sign-in picks up a group change', { skip: noSlapd }, async () => {
      await d.modify(`dn: cn=devs,ou=groups,${BASE_DN}\nchangetype: modify\nadd: member\nmember: uid=dave,ou=people,${BASE_DN}\n`);
      // The team is synced again once older than TEAM_RESYNC_STALE_TIME (1s): let that much time pass since its last sync.
      const row = await s.berth.ctx.db.selectFrom('team_sync').select('last_updated').executeTakeFirstOrThrow();
      await new Promise((r) => setTimeout(r, Math.max(0, Number(row.last_updated) + 1100 - Date.now())));
      assert.deepEqual((await teamMembers(s, 'acme', 'devs')).names, ['alice', 'bob']);
      assert.equal((await signin(s, 'dave', 'dave-pw')).status, 200);
      assert.deepEqual((await teamMembers(s, 'acme', 'devs')).names, ['alice', 'bob', 'dave']);
    });

    test('team sync on the schedule removes a member dropped from the group', { skip: noSlapd }, async () => {
      await d.modify(`dn: cn=devs,ou=groups,${BASE_DN}\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people,${BASE_DN}\n`);
      s.berth.accounts.identity.teamSync.start(200);
      try {
        await until('bob leaves acme/devs', async () => !(await teamMembers(s, 'acme', 'devs')).names.includes('bob'));
      } finally {
        await s.berth.accounts.identity.teamSync.stop();
      }
      assert.deepEqual((await teamMembers(s, 'acme', 'devs')).names, ['alice', 'dave']);
      // Unlinking keeps the members and makes the team editable again.
      assert.equal((await api(s, 'DELETE', '/organization/acme/team/devs/syncing', ADMIN)).status, 204);
      assert.equal((await api(s, 'PUT', '/organization/acme/team/devs/members/bob', ADMIN)).status, 200);
      assert.equal((await api(s, 'DELETE', '/organization/acme/team/devs/syncing', ADMIN)).status, 404);
    });

    test('the directory down: a clear 503 for directory users, the local superuser still signs in', { skip: noSlapd }, async () => {
      await d.stop();
      try {
        const r = await signin(s, 'alice', 'alice-pw');
        assert.equal(r.status, 503);
        assert.match(r.json.detail, /^the directory \(ldap:\/\/127\.0\.0\.1:\d+\) cannot be used: ECONNREFUSED/);
        const q = new URLSearchParams({ service: host(s), scope: 'repository:alice/app:pull' });
        const t = await fetch(`${s.url}/v2/auth?${q}`, { headers: { authorization: basic('alice', 'alice-pw') } });
        assert.equal(t.status, 503);
        assert.equal(((await t.json()) as any).errors[0].code, 'UNAVAILABLE');
        assert.equal((await signin(s, ...ADMIN)).status, 200);
        assert.equal((await registryToken(s, ['repository:acme/app:pull'], ADMIN)).status, 200);
        // No failed login was counted against alice while the directory was down.
        const rows = await s.berth.ctx.db.selectFrom('login_throttle').select('key').where('key', '=', 'a:alice').execute();
        assert.deepEqual(rows, []);
      } finally {
        await d.start();
      }
      assert.equal((await signin(s, 'alice', 'alice-pw')).status, 200);
    });
  });
}

describe("LDAP over TLS with a CA from Berth's certificate code (sqlite)", () => {
  let d: Slapd;
  before(async () => {
    if (noSlapd) return; // the tests are skipped, with the reason
    d = await startSlapd();
    await d.add(
      [
        BASE_LDIF,
        person('alice', 'alice-pw'),
        `dn: ou=contractors,${BASE_DN}\nobjectClass: organizationalUnit\nou: contractors\n`,
        person('zoe', 'zoe-pw').replace('ou=people', 'ou=contractors'),
      ].join('\n'),
    );
  });
  after(async () => {
    await destroySlapd(d);
  });

  for (const mode of ['ldaps', 'starttls'] as const) {
    test(`${mode}: sign-in works with LDAP_CA_FILE (and LDAP_SECONDARY_USER_RDNS) and is refused (503, certificate error) without it`, {
      skip: noSlapd,
    }, async () => {
      const tls = mode === 'ldaps' ? { LDAP_URI: d.ldapsUrl } : { LDAP_URI: d.url, LDAP_START_TLS: true };
      const s = await startServer(
        'sqlite',
        {},
        { auth: true, config: ldapConfig(d, { ...tls, LDAP_CA_FILE: d.caFile, LDAP_SECONDARY_USER_RDNS: ['ou=contractors'] }) },
      );
      try {
        assert.equal((await signin(s, 'alice', 'alice-pw')).status, 200);
        assert.equal((await signin(s, 'alice', 'nope')).status, 401);
        // LDAP_SECONDARY_USER_RDNS: users under ou=contractors sign in too.
        assert.equal((await signin(s, 'zoe', 'zoe-pw')).status, 200);
      } finally {
        await s.stop();
      }
      const s2 = await startServer('sqlite', {}, { auth: true, config: ldapConfig(d, tls) });
      try {
        const r = await signin(s2, 'alice', 'alice-pw');
        assert.equal(r.status, 503);
        assert.match(r.json.detail, /cannot be used: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify)/i);
      } finally {
        await s2.stop();
      }
    });
  }
});
