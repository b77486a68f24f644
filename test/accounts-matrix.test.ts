// The authorization matrix: every route (registry and API) x every kind of caller -> the exact status code.
// A guard test compares the rows with the routes the app really registers, so a new route without a row fails.
// Every refused mutating request is checked to change nothing (table snapshots before and after).
// Runs on SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, basic, registryToken } from './helpers/accounts.ts';
import { RegistryTokenService } from '../src/services/accounts/tokens.ts';
import { registryEndpoints } from '../src/http/registry/plugin.ts';
import { API_ROUTES, REPOSITORY_ENDPOINTS } from '../src/http/api/route-table.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const OWNER: [string, string] = ['owner', 'user-password-1'];
const PW = 'user-password-1';
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const NO_UPLOAD = '00000000-0000-0000-0000-000000000000';
const ZERO_DIGEST = `sha256:${'0'.repeat(64)}`;

/** any: everyone (signed in or not); user: any signed-in user, not a robot; read/write/admin: on acme/private; super: superuser only. */
type Level = 'any' | 'user' | 'read' | 'write' | 'admin' | 'super';
const RANK: Record<Exclude<Level, 'any' | 'user'>, number> = { read: 1, write: 2, admin: 3, super: 4 };
type Caller =
  | 'anonymous'
  | 'no-rights'
  | 'read'
  | 'write'
  | 'admin'
  | 'robot'
  | 'superuser'
  | 'wrong-password'
  | 'expired-token'
  | 'other-repo-token';
const CALLERS: Caller[] = [
  'anonymous',
  'no-rights',
  'read',
  'write',
  'admin',
  'robot',
  'superuser',
  'wrong-password',
  'expired-token',
  'other-repo-token',
];
const LEVEL_OF: Partial<Record<Caller, keyof typeof RANK>> = {
  read: 'read',
  write: 'write',
  admin: 'admin',
  robot: 'write',
  superuser: 'super',
};
const USER_OF: Partial<Record<Caller, string>> = {
  'no-rights': 'nobody',
  read: 'reader',
  write: 'writer',
  admin: 'repoadmin',
  superuser: 'admin',
};

function expected(caller: Caller, kind: 'v2' | 'api', need: Level, ok: number): number {
  if (caller === 'anonymous' && need === 'any' && kind === 'api') return ok;
  if (caller === 'anonymous' || caller === 'wrong-password' || caller === 'expired-token') return 401;
  if (caller === 'other-repo-token') return kind === 'api' ? 401 : need === 'any' ? ok : 403;
  if (need === 'any') return ok;
  if (need === 'user') return caller === 'robot' ? 403 : ok;
  const level = LEVEL_OF[caller];
  return level && RANK[level] >= RANK[need] ? ok : 403;
}

type PerCaller<T> = T | ((c: Caller) => T);
interface Route {
  kind: 'v2' | 'api';
  /** The registered pattern this row covers, e.g. "/organization/:org" (without /api/v1). */
  pattern: string;
  method: string;
  path: PerCaller<string>;
  need: Level;
  ok: number;
  body?: PerCaller<unknown>;
  raw?: { type: string; data: Buffer };
  /** Exact codes where a caller differs from the rule of `need`. */
  expect?: Partial<Record<Caller, number>>;
  /** Send the Basic / app-token headers (the /v2/auth token endpoint takes credentials, not tokens). */
  apiHeaders?: boolean;
  /** Runs before each caller: puts the target back (a successful delete by the previous caller removed it). */
  setup?: () => Promise<void>;
  /** The row targets the live image and upload: after a refused call they must still be pullable and resumable. */
  content?: boolean;
}
const at = <T>(v: PerCaller<T>, c: Caller): T => (typeof v === 'function' ? (v as (c: Caller) => T)(c) : v);

const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
const manifestFor = (config: Buffer, layers: Buffer[] = []) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: LAYER_TYPE, digest: sha(l), size: l.length })),
    }),
  );

/** A pattern as a regular expression over a request path (repository names contain "/"). */
function patternRegExp(pattern: string): RegExp {
  const src = pattern
    .split(/(:[a-z]+|\*)/)
    .map((part) => {
      if (part === ':name') return '.+';
      if (part.startsWith(':') || part === '*') return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${src}$`);
}

for (const dialect of await testDialects()) {
  describe(`authorization matrix (${dialect})`, () => {
    let s: TestServer;
    const headers: Record<Caller, { v2: Record<string, string>; api: Record<string, string> }> = {} as never;
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = manifestFor(config);
    const mdigest = sha(manifest);
    const expectOk = async (what: string, p: Promise<{ status: number; json: unknown }>, codes = [200, 201, 204, 409]) => {
      const r = await p;
      assert.ok(codes.includes(r.status), `setup ${what}: ${r.status} ${JSON.stringify(r.json)}`);
    };
    const grantAll = async (repo: string) => {
      for (const [who, role] of [
        ['reader', 'read'],
        ['writer', 'write'],
        ['repoadmin', 'admin'],
        ['acme+bot', 'write'],
      ]) {
        await expectOk(`grant ${who}`, api(s, 'PUT', `/repository/${repo}/permissions/user/${who}`, OWNER, { role }), [200]);
      }
    };

    before(async () => {
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
            LOGIN_FAILURE_LIMIT: 1000,
            FEATURE_REPO_MIRROR: true,
            // Team sync with an OpenID provider's groups (never contacted: linking a team to a claim group needs no provider call).
            FEATURE_TEAM_SYNCING: true,
            FEATURE_QUOTA_MANAGEMENT: true,
            FEATURE_PROXY_CACHE: true,
            OIDC_LOGIN_CONFIG: { OIDC_SERVER: 'http://127.0.0.1:9/', CLIENT_ID: 'matrix', CLIENT_SECRET: 'matrix' },
          },
        },
      );
      for (const u of ['owner', 'nobody', 'reader', 'writer', 'repoadmin', 'dummy', 'dummy2']) {
        assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
      }
      assert.equal((await api(s, 'POST', '/organization/', OWNER, { name: 'acme' })).status, 201);
      assert.equal(
        (await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'private', visibility: 'private' })).status,
        201,
      );
      assert.equal(
        (await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'public', visibility: 'public' })).status,
        201,
      );
      const robot = await api(s, 'PUT', '/organization/acme/robots/bot', OWNER);
      assert.equal(robot.status, 201);
      await grantAll('acme/private');
      assert.equal((await api(s, 'PUT', '/organization/acme/team/readers', OWNER, { role: 'member' })).status, 200);
      assert.equal((await api(s, 'PUT', '/repository/acme/private/permissions/team/readers', OWNER, { role: 'read' })).status, 200);
      // Content: a config blob and a manifest tagged v1, pushed by the owner.
      const t = await registryToken(s, ['repository:acme/private:pull,push'], OWNER);
      const auth = { authorization: `Bearer ${t.token}` };
      pushAuth = auth;
      assert.equal(
        (
          await fetch(`${s.url}/v2/acme/private/blobs/uploads/?digest=${sha(config)}`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/octet-stream' },
            body: config,
          })
        ).status,
        201,
      );
      assert.equal(
        (
          await fetch(`${s.url}/v2/acme/private/manifests/v1`, {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
            body: manifest,
          })
        ).status,
        201,
      );

      const scopes = ['repository:acme/private:pull,push,delete,*', 'registry:catalog:*'];
      const creds: Partial<Record<Caller, [string, string]>> = {
        'no-rights': ['nobody', PW],
        read: ['reader', PW],
        write: ['writer', PW],
        admin: ['repoadmin', PW],
        robot: [robot.json.name, robot.json.token],
        superuser: ADMIN,
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
      headers['wrong-password'] = {
        v2: { authorization: basic('writer', 'not-the-password') },
        api: { authorization: basic('writer', 'not-the-password') },
      };
      // An expired registry token (issued two hours ago) and an expired app token.
      const past = new RegistryTokenService({ ...s.berth.accounts.ctx, now: () => Date.now() - 2 * 3600_000 });
      const old = await past.issue('writer', [{ type: 'repository', name: 'acme/private', actions: ['pull', 'push', 'delete'] }]);
      const app = await api(s, 'POST', '/user/apptoken', ['writer', PW], { title: 'short', expiration_seconds: 1 });
      assert.equal(app.status, 200);
      headers['expired-token'] = {
        v2: { authorization: `Bearer ${old.token}` },
        api: { authorization: `Bearer ${app.json.token.token_code}` },
      };
      const other = await registryToken(s, ['repository:acme/public:pull', 'registry:catalog:*'], ['writer', PW]);
      headers['other-repo-token'] = { v2: { authorization: `Bearer ${other.token}` }, api: { authorization: `Bearer ${other.token}` } };
      const n = await api(s, 'POST', '/repository/acme/private/notification/', OWNER, {
        event: 'repo_push',
        method: 'webhook',
        config: { url: 'http://127.0.0.1:9/hook' },
      });
      assert.equal(n.status, 201);
      note.uuid = n.json.uuid;
      await new Promise((r) => setTimeout(r, 1100));
    });
    after(async () => {
      await s?.stop();
    });

    /** The tables a refused request must leave alone, as sorted JSON rows. */
    async function snapshot(): Promise<Record<string, string[]>> {
      const db = s.berth.ctx.db;
      const out: Record<string, string[]> = {};
      const tables = [
        'account',
        'team',
        'team_member',
        'repository',
        'repository_user_permission',
        'repository_team_permission',
        'tag',
        'manifest',
        'manifest_ref',
        'blob',
        'repository_blob',
        'upload',
        'app_token',
      ] as const;
      for (const t of tables) {
        const rows = (await db.selectFrom(t).selectAll().execute()) as Record<string, unknown>[];
        out[t] = rows
          .map((r) => {
            const { last_used_at: _skip, ...rest } = r;
            return JSON.stringify(t === 'app_token' ? rest : r);
          })
          .sort();
      }
      return out;
    }

    // Real content for the destructive /v2 rows. Before each caller a fresh image (layer + config + manifest, tagged) is pushed
    // to acme/private and an upload is started there with bytes in it, so every destructive URL names something that exists
    // and an allowed caller's delete never takes away what a later refused caller is tried on.
    let pushAuth: Record<string, string> = {};
    const UPLOADED = Buffer.from('first chunk');
    const live = { n: 0, manifest: '', layer: Buffer.alloc(0), blob: '', upload: '', range: '' };
    const push = async (path: string, type: string, body: Buffer, code = 201) => {
      const r = await fetch(`${s.url}${path}`, {
        method: path.includes('/manifests/') ? 'PUT' : 'POST',
        headers: { ...pushAuth, 'content-type': type },
        body: new Uint8Array(body),
      });
      assert.equal(r.status, code, `setup ${path}: ${await r.text()}`);
      return r;
    };
    async function freshContent(): Promise<void> {
      const n = ++live.n;
      live.layer = Buffer.from(`layer of live image ${n}`);
      const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n }));
      const m = manifestFor(cfg, [live.layer]);
      for (const b of [live.layer, cfg]) await push(`/v2/acme/private/blobs/uploads/?digest=${sha(b)}`, 'application/octet-stream', b);
      await push(`/v2/acme/private/manifests/live-${n}`, 'application/vnd.oci.image.manifest.v1+json', m);
      live.manifest = sha(m);
      live.blob = sha(live.layer);
      const started = await push('/v2/acme/private/blobs/uploads/', 'application/octet-stream', Buffer.alloc(0), 202);
      live.upload = started.headers.get('location') ?? '';
      assert.match(live.upload, /^\/v2\/acme\/private\/blobs\/uploads\/[^/?]+$/);
      const patched = await fetch(`${s.url}${live.upload}`, {
        method: 'PATCH',
        headers: { ...pushAuth, 'content-type': 'application/octet-stream' },
        body: UPLOADED,
      });
      assert.equal(patched.status, 202);
      live.range = patched.headers.get('range') ?? '';
      assert.equal(live.range, `0-${UPLOADED.length - 1}`);
    }
    /** After a refused call: the live manifest and layer are still pullable and the upload still resumes where it was. */
    async function contentIntact(c: Caller): Promise<void> {
      const m = await fetch(`${s.url}/v2/acme/private/manifests/${live.manifest}`, {
        headers: { ...headers.superuser.v2, accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      assert.equal(m.status, 200, `${c}: manifest ${live.manifest} no longer pullable`);
      assert.equal(sha(Buffer.from(await m.arrayBuffer())), live.manifest);
      const b = await fetch(`${s.url}/v2/acme/private/blobs/${live.blob}`, { headers: headers.superuser.v2 });
      assert.equal(b.status, 200, `${c}: blob ${live.blob} no longer pullable`);
      assert.deepEqual(Buffer.from(await b.arrayBuffer()), live.layer);
      const u = await fetch(`${s.url}${live.upload}`, { headers: headers.write.v2 });
      assert.equal(u.status, 204, `${c}: upload ${live.upload} no longer resumable`);
      assert.equal(u.headers.get('range'), live.range, `${c}: upload moved`);
    }
    const real: Partial<Route> = { setup: freshContent, content: true };

    const v2 = (method: string, pattern: string, path: PerCaller<string>, need: Level, ok: number, extra: Partial<Route> = {}): Route => ({
      kind: 'v2',
      method,
      pattern,
      path,
      need,
      ok,
      ...extra,
    });
    const a = (method: string, pattern: string, path: PerCaller<string>, need: Level, ok: number, extra: Partial<Route> = {}): Route => ({
      kind: 'api',
      method,
      pattern,
      path,
      need,
      ok,
      ...extra,
    });
    const blob = `/v2/acme/private/blobs/${sha(config)}`;
    const octets = { type: 'application/octet-stream', data: Buffer.from('x') };
    const ensureTeam = (team: string) =>
      expectOk(`team ${team}`, api(s, 'PUT', `/organization/acme/team/${team}`, OWNER, { role: 'member' }));
    // The caller's own namespace for "create in my namespace" rows (robots and refused callers use writer's).
    const ownNs = (c: Caller) => USER_OF[c] ?? 'writer';
    const idx = (c: Caller) => CALLERS.indexOf(c);

    // A notification to a closed port (deliveries fail; that is not what this matrix checks).
    const hook = { event: 'repo_push', method: 'webhook', config: { url: 'http://127.0.0.1:9/hook' }, title: 'matrix' };
    const note: { uuid?: string; doomed?: string } = {};
    // An immutability policy of acme/private (docs/TAGS.md), made or found by the owner.
    const policy: { uuid?: string } = {};
    const policyPath = () => `/repository/acme/private/immutabilitypolicy/${policy.uuid}`;
    const ensurePolicy = async () => {
      const url = '/repository/acme/private/immutabilitypolicy/';
      const list = (await api(s, 'GET', url, OWNER)).json as { policies: { uuid: string; tagPattern: string }[] };
      const found = list.policies.find((p) => p.tagPattern === '^zz-matrix-frozen$');
      if (found) policy.uuid = found.uuid;
      else {
        const r = await api(s, 'POST', url, OWNER, { tagPattern: '^zz-matrix-frozen$', tagPatternMatches: true });
        assert.equal(r.status, 201, `setup immutability policy: ${r.status} ${JSON.stringify(r.json)}`);
        policy.uuid = (r.json as { uuid: string }).uuid;
      }
    };
    // Storage quotas (docs/QUOTAS.md): the quota (and one Warning limit) of a namespace, made or found by the superuser.
    const quotaUrl = (ns: string) => (ns === 'acme' ? '/organization/acme/quota' : `/superuser/users/${ns}/quota`);
    const ensureQuota = async (ns: string): Promise<number> => {
      if (ns !== 'acme') await expectOk(`user ${ns}`, api(s, 'POST', '/user/', ADMIN, { username: ns, password: PW }), [201, 400, 409]);
      let list = (await api(s, 'GET', quotaUrl(ns), ADMIN)).json as { id: number }[];
      if (!list.length) {
        await expectOk(`quota ${ns}`, api(s, 'POST', quotaUrl(ns), ADMIN, { limit_bytes: 1_000_000 }), [201]);
        list = (await api(s, 'GET', quotaUrl(ns), ADMIN)).json;
      }
      return list[0].id;
    };
    const noQuota = async (ns: string) => {
      const id = await ensureQuota(ns);
      await expectOk(`no quota ${ns}`, api(s, 'DELETE', `${quotaUrl(ns)}/${id}`, ADMIN), [204]);
    };
    const quota: { acme?: number; doomed?: number; limit?: number } = {};
    const ensureLimit = async (ns: string) => {
      const id = await ensureQuota(ns);
      const l = (await api(s, 'GET', `${quotaUrl(ns)}/${id}/limit`, ADMIN)).json as { id: number }[];
      if (!l.length)
        await expectOk('limit', api(s, 'POST', `${quotaUrl(ns)}/${id}/limit`, ADMIN, { type: 'Warning', threshold_percent: 80 }), [201]);
      quota.limit = ((await api(s, 'GET', `${quotaUrl(ns)}/${id}/limit`, ADMIN)).json as { id: number }[])[0].id;
      return id;
    };
    const noLimits = async (ns: string) => {
      const id = await ensureQuota(ns);
      for (const l of (await api(s, 'GET', `${quotaUrl(ns)}/${id}/limit`, ADMIN)).json as { id: number }[])
        await expectOk('no limit', api(s, 'DELETE', `${quotaUrl(ns)}/${id}/limit/${l.id}`, ADMIN), [204]);
    };
    const keepAcme = async () => {
      quota.acme = await ensureQuota('acme');
    };
    const limitAcme = async () => {
      quota.acme = await ensureLimit('acme');
    };
    const orgQ = () => `/organization/acme/quota/${quota.acme}`;
    const suQ = (kind: string, ns: string) => `/superuser/${kind}/${ns}/quota/${ns === 'acme' ? quota.acme : quota.doomed}`;
    const routes: Route[] = [
      // ---- /v2 (registry); the token endpoint takes Basic credentials, everything else a bearer token
      v2('GET', '/v2/auth', `/v2/auth?service=PLACEHOLDER&scope=repository:acme/private:pull`, 'any', 200, {
        apiHeaders: true,
        expect: { anonymous: 200, 'wrong-password': 401, 'expired-token': 401, 'other-repo-token': 401 },
      }),
      v2('GET', '/v2/', '/v2/', 'any', 200),
      v2('HEAD', '/v2/', '/v2/', 'any', 200),
      v2('GET', '/v2/_catalog', '/v2/_catalog', 'any', 200),
      v2('GET', '/v2/:name/tags/list', '/v2/acme/private/tags/list', 'read', 200),
      v2('GET', '/v2/:name/manifests/:reference', '/v2/acme/private/manifests/v1', 'read', 200),
      v2('HEAD', '/v2/:name/manifests/:reference', '/v2/acme/private/manifests/v1', 'read', 200),
      v2('PUT', '/v2/:name/manifests/:reference', '/v2/acme/private/manifests/v2', 'write', 201, {
        raw: { type: 'application/vnd.oci.image.manifest.v1+json', data: manifest },
      }),
      v2('DELETE', '/v2/:name/manifests/:reference', () => `/v2/acme/private/manifests/${live.manifest}`, 'write', 202, real),
      v2('GET', '/v2/:name/blobs/:digest', blob, 'read', 200),
      v2('HEAD', '/v2/:name/blobs/:digest', blob, 'read', 200),
      v2('DELETE', '/v2/:name/blobs/:digest', () => `/v2/acme/private/blobs/${live.blob}`, 'write', 202, real),
      v2('GET', '/v2/:name/referrers/:digest', `/v2/acme/private/referrers/${mdigest}`, 'read', 200),
      v2('POST', '/v2/:name/blobs/uploads/', '/v2/acme/private/blobs/uploads/', 'write', 202),
      v2('GET', '/v2/:name/blobs/uploads/:uuid', () => live.upload, 'write', 204, real),
      v2('PATCH', '/v2/:name/blobs/uploads/:uuid', () => live.upload, 'write', 202, { ...real, raw: octets }),
      v2(
        'PUT',
        '/v2/:name/blobs/uploads/:uuid',
        () => `${live.upload}?digest=${sha(Buffer.concat([UPLOADED, octets.data]))}`,
        'write',
        201,
        {
          ...real,
          raw: octets,
        },
      ),
      v2('DELETE', '/v2/:name/blobs/uploads/:uuid', () => live.upload, 'write', 204, real),

      // ---- /api/v1: sign-in, the signed-in user
      a('POST', '/signin', '/signin', 'any', 200, { body: { username: 'dummy', password: PW } }),
      a('POST', '/signout', '/signout', 'any', 200),
      a('GET', '/user/', '/user/', 'user', 200),
      a('POST', '/user/', '/user/', 'super', 201, { body: (c: Caller) => ({ username: `made${idx(c)}`, password: PW }) }),
      a('DELETE', '/superuser/users/:name', '/superuser/users/doomed', 'super', 204, {
        setup: () => expectOk('user doomed', api(s, 'POST', '/user/', ADMIN, { username: 'doomed', password: PW })),
      }),
      a('GET', '/user/apptoken', '/user/apptoken', 'user', 200),
      a('POST', '/user/apptoken', '/user/apptoken', 'user', 200, { body: { title: 'matrix' } }),
      a('DELETE', '/user/apptoken/:uuid', `/user/apptoken/${NO_UPLOAD}`, 'user', 404),
      a('GET', '/user/robots', '/user/robots', 'user', 200),
      // Each user creates, regenerates and deletes a robot in their own namespace (rows run in this order).
      a('PUT', '/user/robots/:short', '/user/robots/mx', 'user', 201),
      a('POST', '/user/robots/:short/regenerate', '/user/robots/mx/regenerate', 'user', 200),
      a('DELETE', '/user/robots/:short', '/user/robots/mx', 'user', 204),

      // ---- organizations, their robots and teams (only the org admin: here, the superuser)
      a('POST', '/organization/', '/organization/', 'user', 201, { body: (c: Caller) => ({ name: `org${idx(c)}` }) }),
      a('GET', '/organization/:org', '/organization/acme', 'any', 200),
      a('DELETE', '/organization/:org', '/organization/goneorg', 'super', 204, {
        setup: () => expectOk('org goneorg', api(s, 'POST', '/organization/', OWNER, { name: 'goneorg' })),
      }),
      a('GET', '/organization/:org/robots', '/organization/acme/robots', 'super', 200),
      a('GET', '/organization/:org/robots/:short', '/organization/acme/robots/bot', 'super', 200),
      a('PUT', '/organization/:org/robots/:short', '/organization/acme/robots/tmpbot', 'super', 201, {
        setup: () => expectOk('no robot tmpbot', api(s, 'DELETE', '/organization/acme/robots/tmpbot', OWNER), [204, 404]),
      }),
      a('POST', '/organization/:org/robots/:short/regenerate', '/organization/acme/robots/tmpbot/regenerate', 'super', 200, {
        setup: () => expectOk('robot tmpbot', api(s, 'PUT', '/organization/acme/robots/tmpbot', OWNER)),
      }),
      a('DELETE', '/organization/:org/robots/:short', '/organization/acme/robots/tmpbot', 'super', 204, {
        setup: () => expectOk('robot tmpbot', api(s, 'PUT', '/organization/acme/robots/tmpbot', OWNER)),
      }),
      a('PUT', '/organization/:org/team/:team', '/organization/acme/team/devs', 'super', 200, { body: { role: 'member' } }),
      a('DELETE', '/organization/:org/team/:team', '/organization/acme/team/doomed', 'super', 204, { setup: () => ensureTeam('doomed') }),
      a('GET', '/organization/:org/team/:team/members', '/organization/acme/team/owners/members', 'super', 200),
      a('PUT', '/organization/:org/team/:team/members/:member', '/organization/acme/team/devs/members/dummy', 'super', 200, {
        setup: async () => {
          await ensureTeam('devs');
          await expectOk('dummy not in devs', api(s, 'DELETE', '/organization/acme/team/devs/members/dummy', OWNER), [204, 404]);
        },
      }),
      a('DELETE', '/organization/:org/team/:team/members/:member', '/organization/acme/team/devs/members/dummy', 'super', 204, {
        setup: async () => {
          await ensureTeam('devs');
          await expectOk('dummy in devs', api(s, 'PUT', '/organization/acme/team/devs/members/dummy', OWNER));
        },
      }),
      a('POST', '/organization/:org/team/:team/syncing', '/organization/acme/team/synced/syncing', 'super', 200, {
        body: { group_name: 'developers' },
        setup: () => ensureTeam('synced'),
      }),
      a('DELETE', '/organization/:org/team/:team/syncing', '/organization/acme/team/synced/syncing', 'super', 204, {
        setup: async () => {
          await ensureTeam('synced');
          await expectOk('synced team', api(s, 'POST', '/organization/acme/team/synced/syncing', ADMIN, { group_name: 'developers' }));
        },
      }),

      // ---- storage quotas: superusers write; organization members read (no caller here but the superuser is one)
      a('GET', '/organization/:org/quota', '/organization/acme/quota', 'super', 200, {
        setup: keepAcme,
      }),
      a('POST', '/organization/:org/quota', '/organization/acme/quota', 'super', 201, {
        body: { limit_bytes: 5000 },
        setup: () => noQuota('acme'),
      }),
      a('GET', '/organization/:org/quota/:quota', orgQ, 'super', 200, { setup: keepAcme }),
      a('PUT', '/organization/:org/quota/:quota', orgQ, 'super', 200, { body: { limit_bytes: 6000 } }),
      a('DELETE', '/organization/:org/quota/:quota', orgQ, 'super', 204, {
        setup: keepAcme,
      }),
      a('GET', '/organization/:org/quota/:quota/limit', () => `${orgQ()}/limit`, 'super', 200, {
        setup: keepAcme,
      }),
      a('POST', '/organization/:org/quota/:quota/limit', () => `${orgQ()}/limit`, 'super', 201, {
        body: { type: 'Reject', threshold_percent: 100 },
        setup: async () => {
          quota.acme = await ensureQuota('acme');
          await noLimits('acme');
        },
      }),
      a('GET', '/organization/:org/quota/:quota/limit/:limit', () => `${orgQ()}/limit/${quota.limit}`, 'super', 200, {
        setup: limitAcme,
      }),
      a('PUT', '/organization/:org/quota/:quota/limit/:limit', () => `${orgQ()}/limit/${quota.limit}`, 'super', 200, {
        body: { threshold_percent: 70 },
        setup: limitAcme,
      }),
      a('DELETE', '/organization/:org/quota/:quota/limit/:limit', () => `${orgQ()}/limit/${quota.limit}`, 'super', 204, {
        setup: limitAcme,
      }),
      a('GET', '/user/quota', '/user/quota', 'user', 200),
      a('GET', '/user/quota/:quota', '/user/quota/999999', 'user', 404),
      a('GET', '/user/quota/:quota/limit', '/user/quota/999999/limit', 'user', 404),
      a('GET', '/user/quota/:quota/limit/:limit', '/user/quota/999999/limit/1', 'user', 404),
      ...[
        ['users', 'quotauser'],
        ['organization', 'acme'],
      ].flatMap(([kind, ns]) => {
        const keep = async () => {
          const id = await ensureQuota(ns);
          if (ns === 'acme') quota.acme = id;
          else quota.doomed = id;
        };
        const withLimit = async () => {
          const id = await ensureLimit(ns);
          if (ns === 'acme') quota.acme = id;
          else quota.doomed = id;
        };
        const base = `/superuser/${kind}/:namespace/quota`;
        return [
          a('GET', base, `/superuser/${kind}/${ns}/quota`, 'super', 200, { setup: keep }),
          a('POST', base, `/superuser/${kind}/${ns}/quota`, 'super', 201, { body: { limit: '10 MiB' }, setup: () => noQuota(ns) }),
          a('PUT', `${base}/:quota`, () => suQ(kind, ns), 'super', 200, { body: { limit_bytes: 7000 }, setup: keep }),
          a('DELETE', `${base}/:quota`, () => suQ(kind, ns), 'super', 204, { setup: keep }),
          a('GET', `${base}/:quota/limit`, () => `${suQ(kind, ns)}/limit`, 'super', 200, { setup: keep }),
          a('POST', `${base}/:quota/limit`, () => `${suQ(kind, ns)}/limit`, 'super', 201, {
            body: { type: 'Warning', threshold_percent: 90 },
            setup: async () => {
              await keep();
              await noLimits(ns);
            },
          }),
          a('PUT', `${base}/:quota/limit/:limit`, () => `${suQ(kind, ns)}/limit/${quota.limit}`, 'super', 200, {
            body: { threshold_percent: 60 },
            setup: withLimit,
          }),
          a('DELETE', `${base}/:quota/limit/:limit`, () => `${suQ(kind, ns)}/limit/${quota.limit}`, 'super', 204, { setup: withLimit }),
        ];
      }),

      // ---- repositories
      a('POST', '/repository', '/repository', 'super', 201, { body: (c: Caller) => ({ namespace: 'acme', repository: `new${idx(c)}` }) }),
      a('POST', '/repository', '/repository', 'user', 201, { body: (c: Caller) => ({ namespace: ownNs(c), repository: `mine${idx(c)}` }) }),
      a('GET', '/repository', '/repository?namespace=acme', 'any', 200),
      a('GET', '/repository/:name', '/repository/acme/private', 'read', 200),
      a('PUT', '/repository/:name', '/repository/acme/private', 'write', 200, { body: { description: 'matrix' } }),
      a('DELETE', '/repository/:name', '/repository/acme/ghost', 'super', 404),
      a('DELETE', '/repository/:name', '/repository/acme/doomed', 'admin', 204, {
        setup: async () => {
          const r = await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'doomed', visibility: 'private' });
          assert.ok([201, 409].includes(r.status), `setup repo doomed: ${r.status}`);
          await grantAll('acme/doomed');
        },
      }),
      a('POST', '/repository/:name/changevisibility', '/repository/acme/private/changevisibility', 'admin', 200, {
        body: { visibility: 'private' },
      }),
      // repository state and mirroring (docs/MIRRORING.md): admins only; acme/private has no mirror configuration
      a('PUT', '/repository/:name/changestate', '/repository/acme/private/changestate', 'admin', 200, { body: { state: 'NORMAL' } }),
      a('GET', '/repository/:name/mirror', '/repository/acme/private/mirror', 'admin', 404),
      a('POST', '/repository/:name/mirror', '/repository/acme/private/mirror', 'admin', 400, { body: {} }),
      a('PUT', '/repository/:name/mirror', '/repository/acme/private/mirror', 'admin', 404, { body: { is_enabled: true } }),
      a('POST', '/repository/:name/mirror/sync-now', '/repository/acme/private/mirror/sync-now', 'admin', 404),
      a('POST', '/repository/:name/mirror/sync-cancel', '/repository/acme/private/mirror/sync-cancel', 'admin', 404),
      // immutable tags (docs/TAGS.md): repository admins only; patterns no tag of the matrix has
      a('GET', '/repository/:name/immutabilitypolicy/', '/repository/acme/private/immutabilitypolicy/', 'admin', 200),
      a('POST', '/repository/:name/immutabilitypolicy/', '/repository/acme/private/immutabilitypolicy/', 'admin', 201, {
        body: (c: Caller) => ({ tagPattern: `^zz-matrix-${idx(c)}-`, tagPatternMatches: true }),
      }),
      a('GET', '/repository/:name/immutabilitypolicy/:uuid', policyPath, 'admin', 200, { setup: ensurePolicy }),
      a('PUT', '/repository/:name/immutabilitypolicy/:uuid', policyPath, 'admin', 204, {
        setup: ensurePolicy,
        body: { tagPattern: '^zz-matrix-frozen$', tagPatternMatches: true },
      }),
      a('DELETE', '/repository/:name/immutabilitypolicy/:uuid', policyPath, 'admin', 200, { setup: ensurePolicy }),
      a('GET', '/repository/:name/permissions/user/', '/repository/acme/private/permissions/user/', 'admin', 200),
      a('GET', '/repository/:name/permissions/user/:member', '/repository/acme/private/permissions/user/reader', 'admin', 200),
      a('PUT', '/repository/:name/permissions/user/:member', '/repository/acme/private/permissions/user/dummy', 'admin', 200, {
        body: { role: 'read' },
      }),
      a('DELETE', '/repository/:name/permissions/user/:member', '/repository/acme/private/permissions/user/dummy2', 'admin', 204, {
        setup: () =>
          expectOk('dummy2 read', api(s, 'PUT', '/repository/acme/private/permissions/user/dummy2', OWNER, { role: 'read' }), [200]),
      }),
      a('GET', '/repository/:name/permissions/team/', '/repository/acme/private/permissions/team/', 'admin', 200),
      a('GET', '/repository/:name/permissions/team/:member', '/repository/acme/private/permissions/team/readers', 'admin', 200),
      a('PUT', '/repository/:name/permissions/team/:member', '/repository/acme/private/permissions/team/readers', 'admin', 200, {
        body: { role: 'read' },
      }),
      a('DELETE', '/repository/:name/permissions/team/:member', '/repository/acme/private/permissions/team/temp', 'admin', 204, {
        setup: async () => {
          await ensureTeam('temp');
          await expectOk('temp read', api(s, 'PUT', '/repository/acme/private/permissions/team/temp', OWNER, { role: 'read' }), [200]);
        },
      }),
      a('GET', '/repository/:name/tag/', '/repository/acme/private/tag/?limit=10&page=1', 'read', 200),
      a('PUT', '/repository/:name/tag/:tag', '/repository/acme/private/tag/moved', 'write', 201, { body: { manifest_digest: mdigest } }),
      a('DELETE', '/repository/:name/tag/:tag', '/repository/acme/private/tag/no-such-tag', 'write', 404),
      a('DELETE', '/repository/:name/tag/:tag', '/repository/acme/private/tag/gone', 'write', 204, {
        setup: () => expectOk('tag gone', api(s, 'PUT', '/repository/acme/private/tag/gone', OWNER, { manifest_digest: mdigest }), [201]),
      }),
      a('POST', '/repository/:name/tag/:tag/restore', '/repository/acme/private/tag/restorable/restore', 'write', 200, {
        body: { manifest_digest: mdigest },
        setup: async () => {
          await expectOk(
            'tag restorable',
            api(s, 'PUT', '/repository/acme/private/tag/restorable', OWNER, { manifest_digest: mdigest }),
            [201],
          );
          await expectOk('restorable deleted', api(s, 'DELETE', '/repository/acme/private/tag/restorable', OWNER), [204]);
        },
      }),
      a('GET', '/repository/:name/charts', '/repository/acme/private/charts', 'read', 200),
      a('GET', '/repository/:name/manifest/:digest', `/repository/acme/private/manifest/${mdigest}`, 'read', 200),
      a('GET', '/repository/:name/manifest/:digest/security', `/repository/acme/private/manifest/${mdigest}/security`, 'read', 200),
      a('GET', '/repository/:name/tag/:tag/pull_statistics', '/repository/acme/private/tag/v1/pull_statistics', 'read', 200),
      a(
        'GET',
        '/repository/:name/manifest/:digest/pull_statistics',
        `/repository/acme/private/manifest/${mdigest}/pull_statistics`,
        'read',
        200,
      ),
      a('GET', '/manifestsummary', `/manifestsummary?repository=acme/private&digest=${mdigest}`, 'read', 200),

      // ---- audit logs and repository notifications (docs/AUDIT.md): admins of the repository / organization, superusers
      ...(['logs', 'aggregatelogs', 'exportlogs'] as const).flatMap((what) => [
        a('GET', `/repository/:name/${what}`, `/repository/acme/private/${what}`, 'admin', 200),
        a('GET', `/organization/:org/${what}`, `/organization/acme/${what}`, 'super', 200),
        a('GET', `/user/${what}`, `/user/${what}`, 'user', 200),
        a('GET', `/superuser/${what}`, `/superuser/${what}`, 'super', 200),
      ]),
      a('GET', '/repository/:name/notification/', '/repository/acme/private/notification/', 'admin', 200),
      a('POST', '/repository/:name/notification/', '/repository/acme/private/notification/', 'admin', 201, { body: hook }),
      a('GET', '/repository/:name/notification/:uuid', () => `/repository/acme/private/notification/${note.uuid}`, 'admin', 200),
      a('POST', '/repository/:name/notification/:uuid', () => `/repository/acme/private/notification/${note.uuid}`, 'admin', 204),
      a('POST', '/repository/:name/notification/:uuid/test', () => `/repository/acme/private/notification/${note.uuid}/test`, 'admin', 200),
      a(
        'GET',
        '/repository/:name/notification/:uuid/deliveries',
        () => `/repository/acme/private/notification/${note.uuid}/deliveries`,
        'admin',
        200,
      ),
      a('DELETE', '/repository/:name/notification/:uuid', () => `/repository/acme/private/notification/${note.doomed}`, 'admin', 204, {
        setup: async () => {
          if (note.doomed && (await api(s, 'GET', `/repository/acme/private/notification/${note.doomed}`, OWNER)).status === 200) return;
          const r = await api(s, 'POST', '/repository/acme/private/notification/', OWNER, hook);
          assert.equal(r.status, 201);
          note.doomed = r.json.uuid;
        },
      }),

      // ---- setup, status, superuser views
      a('GET', '/setup', '/setup', 'any', 200),
      a('POST', '/setup', '/setup', 'any', 409, { body: { username: 'late', password: PW } }),
      a('GET', '/superuser/stats', '/superuser/stats', 'super', 200),
      a('GET', '/status', '/status', 'any', 200),
      // Signed-in callers only (robots too): the scanner's data age is not for anonymous visitors.
      a('GET', '/scanner/updaters', '/scanner/updaters', 'any', 200, { expect: { anonymous: 401 } }),
      // ---- proxy cache configuration (organization administrators); last, so acme is a cache only between these rows
      a('GET', '/organization/:org/proxycache', '/organization/acme/proxycache', 'super', 200),
      a('POST', '/organization/:org/validateproxycache', '/organization/acme/validateproxycache', 'super', 400, {
        body: { upstream_registry: '127.0.0.1:9', insecure: true },
      }),
      a('POST', '/organization/:org/proxycache', '/organization/acme/proxycache', 'super', 201, {
        body: { upstream_registry: '127.0.0.1:9', insecure: true },
        setup: () => expectOk('no proxy cache', api(s, 'DELETE', '/organization/acme/proxycache', OWNER), [201, 404]),
      }),
      a('DELETE', '/organization/:org/proxycache', '/organization/acme/proxycache', 'super', 201, {
        setup: () =>
          expectOk(
            'proxy cache',
            api(s, 'POST', '/organization/acme/proxycache', OWNER, { upstream_registry: '127.0.0.1:9', insecure: true }),
            [201, 400],
          ),
      }),
    ];

    for (const route of routes) {
      const title = `${route.method} ${route.kind === 'api' ? '/api/v1' : ''}${route.pattern}${typeof route.path === 'string' && route.path.includes('?') ? ` (${route.path.split('?')[1].slice(0, 40)})` : ''}`;
      test(title, async () => {
        const got: Record<string, number> = {};
        const want: Record<string, number> = {};
        const mutating = !['GET', 'HEAD'].includes(route.method);
        for (const c of CALLERS) {
          await route.setup?.();
          const h = { ...headers[c][route.apiHeaders ? 'api' : route.kind] };
          let body: string | Blob | undefined;
          if (route.raw) {
            h['content-type'] = route.raw.type;
            body = new Blob([new Uint8Array(route.raw.data)]);
          }
          if (route.body !== undefined) {
            h['content-type'] = 'application/json';
            body = JSON.stringify(at(route.body, c));
          }
          const path = at(route.path, c).replace('PLACEHOLDER', encodeURIComponent(new URL(s.url).host));
          const url = route.kind === 'api' ? `${s.url}/api/v1${path}` : `${s.url}${path}`;
          const before = mutating ? await snapshot() : undefined;
          const r = await fetch(url, { method: route.method, headers: h, body });
          const text = await r.text();
          got[c] = r.status;
          want[c] = route.expect?.[c] ?? expected(c, route.kind, route.need, route.ok);
          // A refused change (and a change of something that is not there) leaves every table as it was.
          if (before && r.status >= 400) assert.deepEqual(await snapshot(), before, `${c}: ${r.status} changed the database`);
          if (route.content && r.status >= 400) await contentIntact(c);
          if (r.status === 401 && route.kind === 'v2' && !route.apiHeaders) {
            assert.match(
              r.headers.get('www-authenticate') ?? '',
              /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/v2\/auth",service="127\.0\.0\.1:\d+"/,
              `${c}: challenge`,
            );
            if (route.method !== 'HEAD') assert.match(text, /"UNAUTHORIZED"/);
          }
          if (r.status === 403 && route.kind === 'v2' && route.method !== 'HEAD') assert.match(text, /"DENIED"/, `${c}: ${text}`);
          if (r.status >= 400 && route.kind === 'api') assert.ok(JSON.parse(text).error_message, `${c}: JSON error with a message`);
        }
        assert.deepEqual(got, want);
      });
    }

    test('every registered /v2 and /api/v1 route has a matrix row (and every row names a real route)', () => {
      const real = new Set<string>();
      const registered = s.berth.app.registeredRoutes;
      const gets = new Set(registered.filter((r) => r.method === 'GET').map((r) => r.url));
      for (const { method, url } of registered) {
        if (url === '/v2' || url === '/v2/*') {
          for (const e of registryEndpoints()) real.add(`${e.method} ${e.url}`);
        } else if (url === '/api/v1/repository/*') {
          for (const e of REPOSITORY_ENDPOINTS) real.add(`${e.method} /api/v1${e.url}`);
        } else if (url.startsWith('/v2') || url.startsWith('/api/v1')) {
          // Fastify answers HEAD for every GET route with the GET handler; the GET row covers it.
          if (method === 'HEAD' && gets.has(url)) continue;
          real.add(`${method} ${url}`);
        }
      }
      assert.ok(real.size > 60, `only ${real.size} routes found`);
      // Every /api/v1 route comes from the one route table (nothing registered beside it), and every row is served.
      const apiReal = [...real].filter((k) => k.includes(' /api/v1/')).sort();
      assert.deepEqual(apiReal, [...new Set(API_ROUTES.map((r) => `${r.method} /api/v1${r.url}`))].sort());
      const rows = new Set(routes.map((r) => `${r.method} ${r.kind === 'api' ? '/api/v1' : ''}${r.pattern}`));
      assert.deepEqual([...real].filter((k) => !rows.has(k)).sort(), [], 'routes without a matrix row');
      assert.deepEqual([...rows].filter((k) => !real.has(k)).sort(), [], 'matrix rows for routes that do not exist');
      // Each row's request path really has the shape of the pattern it claims to cover.
      for (const r of routes) {
        for (const c of CALLERS) {
          const path = `${r.kind === 'api' ? '/api/v1' : ''}${at(r.path, c).split('?')[0]}`;
          assert.match(path, patternRegExp(`${r.kind === 'api' ? '/api/v1' : ''}${r.pattern}`), `${r.method} ${r.pattern}`);
        }
      }
    });

    test('behind /api/v1/repository/* exactly the listed endpoints answer; other methods get 405', async () => {
      const sample: Record<string, string> = {
        '/repository/:name': '/repository/acme/private',
        '/repository/:name/changevisibility': '/repository/acme/private/changevisibility',
        '/repository/:name/changestate': '/repository/acme/private/changestate',
        '/repository/:name/mirror': '/repository/acme/private/mirror',
        '/repository/:name/mirror/sync-now': '/repository/acme/private/mirror/sync-now',
        '/repository/:name/mirror/sync-cancel': '/repository/acme/private/mirror/sync-cancel',
        '/repository/:name/immutabilitypolicy/': '/repository/acme/private/immutabilitypolicy/',
        '/repository/:name/immutabilitypolicy/:uuid': `/repository/acme/private/immutabilitypolicy/${NO_UPLOAD}`,
        '/repository/:name/permissions/user/': '/repository/acme/private/permissions/user/',
        '/repository/:name/permissions/user/:member': '/repository/acme/private/permissions/user/nobody-here',
        '/repository/:name/permissions/team/': '/repository/acme/private/permissions/team/',
        '/repository/:name/permissions/team/:member': '/repository/acme/private/permissions/team/nobody-here',
        '/repository/:name/tag/': '/repository/acme/private/tag/',
        '/repository/:name/tag/:tag': '/repository/acme/private/tag/no-such-tag',
        '/repository/:name/tag/:tag/restore': '/repository/acme/private/tag/no-such-tag/restore',
        '/repository/:name/charts': '/repository/acme/private/charts',
        '/repository/:name/manifest/:digest': `/repository/acme/private/manifest/${ZERO_DIGEST}`,
        '/repository/:name/manifest/:digest/security': `/repository/acme/private/manifest/${ZERO_DIGEST}/security`,
        '/repository/:name/tag/:tag/pull_statistics': '/repository/acme/private/tag/no-such-tag/pull_statistics',
        '/repository/:name/manifest/:digest/pull_statistics': `/repository/acme/private/manifest/${ZERO_DIGEST}/pull_statistics`,
        '/repository/:name/logs': '/repository/acme/private/logs',
        '/repository/:name/aggregatelogs': '/repository/acme/private/aggregatelogs',
        '/repository/:name/exportlogs': '/repository/acme/private/exportlogs',
        '/repository/:name/notification/': '/repository/acme/private/notification/',
        '/repository/:name/notification/:uuid': `/repository/acme/private/notification/${NO_UPLOAD}`,
        '/repository/:name/notification/:uuid/test': `/repository/acme/private/notification/${NO_UPLOAD}/test`,
        '/repository/:name/notification/:uuid/deliveries': `/repository/acme/private/notification/${NO_UPLOAD}/deliveries`,
      };
      assert.deepEqual(Object.keys(sample).sort(), [...new Set(REPOSITORY_ENDPOINTS.map((e) => e.url))].sort());
      for (const [pattern, path] of Object.entries(sample)) {
        for (const method of ['GET', 'PUT', 'POST', 'DELETE']) {
          if (REPOSITORY_ENDPOINTS.some((e) => e.url === pattern && e.method === method)) continue;
          const r = await fetch(`${s.url}/api/v1${path}`, {
            method,
            headers: { ...headers.superuser.api, 'content-type': 'application/json' },
            body: method === 'GET' ? undefined : '{}',
          });
          assert.equal(r.status, 405, `${method} ${pattern}`);
        }
      }
    });

    test('the catalog lists only what the caller can read', async () => {
      const list = async (c: Caller) =>
        ((await (await fetch(`${s.url}/v2/_catalog`, { headers: headers[c].v2 })).json()) as { repositories: string[] }).repositories;
      assert.ok((await list('superuser')).includes('acme/private'));
      assert.ok((await list('read')).includes('acme/private'));
      assert.deepEqual(
        (await list('no-rights')).filter((n) => n.startsWith('acme/')),
        ['acme/public'],
      );
    });

    test('scopes are cut down, never refused: read gets pull only, and anonymous gets public pull', async () => {
      const r = await registryToken(
        s,
        ['repository:acme/private:pull,push', 'repository:acme/public:pull,push', 'repository:other/x:push'],
        ['reader', PW],
      );
      assert.equal(r.status, 200);
      assert.deepEqual(r.access, [
        { type: 'repository', name: 'acme/private', actions: ['pull'] },
        { type: 'repository', name: 'acme/public', actions: ['pull'] },
      ]);
      const anon = await registryToken(s, ['repository:acme/private:pull', 'repository:acme/public:pull']);
      assert.deepEqual(anon.access, [{ type: 'repository', name: 'acme/public', actions: ['pull'] }]);
      const pub = await fetch(`${s.url}/v2/acme/public/tags/list`, {
        headers: { authorization: `Bearer ${(await registryToken(s, ['repository:acme/public:pull'])).token}` },
      });
      assert.equal(pub.status, 200);
    });

    test('pushing to a new repository creates it (private) only where the caller may create', async () => {
      const own = await registryToken(s, ['repository:writer/fresh:pull,push'], ['writer', PW]);
      assert.deepEqual(own.access, [{ type: 'repository', name: 'writer/fresh', actions: ['pull', 'push'] }]);
      const r = await fetch(`${s.url}/v2/writer/fresh/blobs/uploads/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${own.token}` },
      });
      assert.equal(r.status, 202);
      // Starting an upload stores nothing: the repository appears with the first stored blob (issue 13, defect 2).
      assert.equal((await api(s, 'GET', '/repository/writer/fresh', ['writer', PW])).status, 404);
      const bytes = Buffer.from('first blob of writer/fresh');
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const put = await fetch(
        `${s.url}${r.headers.get('location')}${r.headers.get('location')!.includes('?') ? '&' : '?'}digest=${digest}`,
        {
          method: 'PUT',
          body: bytes,
          headers: { authorization: `Bearer ${own.token}`, 'content-type': 'application/octet-stream' },
        },
      );
      assert.equal(put.status, 201, await put.text());
      const view = await api(s, 'GET', '/repository/writer/fresh', ['writer', PW]);
      assert.equal(view.status, 200);
      assert.equal(view.json.is_public, false);
      assert.equal((await api(s, 'GET', '/repository/writer/fresh', ['reader', PW])).status, 403);
      const foreign = await registryToken(s, ['repository:acme/new:pull,push'], ['writer', PW]);
      assert.deepEqual(foreign.access, []);
    });
  });
}
