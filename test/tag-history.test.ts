// Tag history (the time machine): pushes, moves and deletes by the registry and the API are recorded;
// the API lists them (with the name filter and paging), restores a tag, refuses bad restores, and gc
// keeps history's manifests within DEFAULT_TAG_EXPIRATION and prunes them after. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, registryToken } from './helpers/accounts.ts';
import { loadConfig, ConfigError } from '../src/config/load.ts';
import { collectGarbage } from '../src/services/gc.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const READER: [string, string] = ['reader', 'reader-password-1'];
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface HistoryTag {
  name: string;
  manifest_digest: string;
  start_ts: number;
  end_ts?: number;
}

/** Pushes a config-only image (distinct by `seed`) with the admin's registry token; returns its digest. */
async function push(s: TestServer, repo: string, ref: string, seed: string): Promise<string> {
  const t = await registryToken(s, [`repository:${repo}:pull,push,delete`], ADMIN);
  const auth = { authorization: `Bearer ${t.token}` };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const b = await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${sha(config)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: config,
  });
  assert.equal(b.status, 201);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [],
    }),
  );
  const m = await fetch(`${s.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(m.status, 201);
  return sha(manifest);
}

async function registryDelete(s: TestServer, repo: string, ref: string): Promise<number> {
  const t = await registryToken(s, [`repository:${repo}:pull,push,delete`], ADMIN);
  return (await fetch(`${s.url}/v2/${repo}/manifests/${ref}`, { method: 'DELETE', headers: { authorization: `Bearer ${t.token}` } }))
    .status;
}

async function history(s: TestServer, repo: string, query = ''): Promise<{ tags: HistoryTag[]; has_additional: boolean }> {
  const r = await api(s, 'GET', `/repository/${repo}/tag/?onlyActiveTags=false&limit=100${query}`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

const lifetimes = (tags: HistoryTag[], name: string) =>
  tags.filter((t) => t.name === name).map((t) => ({ digest: t.manifest_digest, ended: t.end_ts !== undefined }));

async function startWithAccounts(dialect: 'sqlite' | 'postgres', env: Record<string, string> = {}): Promise<TestServer> {
  const s = await startServer(dialect, env, {
    auth: true,
    config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, LOGIN_FAILURE_LIMIT: 1000 },
  });
  assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: READER[0], password: READER[1] })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
  assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: 'app', visibility: 'private' })).status, 201);
  assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/reader', ADMIN, { role: 'read' })).status, 200);
  return s;
}

test('DEFAULT_TAG_EXPIRATION: 2w by default, overridden by the environment, bad values refused by name', () => {
  assert.equal(loadConfig({ env: {} }).tagHistorySeconds, 14 * 86400);
  assert.equal(loadConfig({ env: { DEFAULT_TAG_EXPIRATION: '36h' } }).tagHistorySeconds, 36 * 3600);
  assert.throws(
    () => loadConfig({ env: { DEFAULT_TAG_EXPIRATION: 'two weeks' } }),
    (e: unknown) => e instanceof ConfigError && /DEFAULT_TAG_EXPIRATION: must be a duration such as 2w/.test(e.message),
  );
});

for (const dialect of await testDialects()) {
  describe(`tag history (${dialect})`, () => {
    let s: TestServer;
    let v1: string, v2: string, v3: string;
    before(async () => {
      s = await startWithAccounts(dialect);
    });
    after(() => s.stop());

    test('push, re-push, move and delete (registry and API) are each recorded; the active list is unchanged', async () => {
      v1 = await push(s, 'acme/app', 'latest', 'one');
      v2 = await push(s, 'acme/app', 'latest', 'two'); // registry moves latest
      assert.equal(await push(s, 'acme/app', 'latest', 'two'), v2, 'the same manifest again is no new lifetime');
      assert.equal((await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, { manifest_digest: v1 })).status, 201); // API creates
      assert.equal((await api(s, 'PUT', '/repository/acme/app/tag/stable', ADMIN, { manifest_digest: v2 })).status, 201); // API moves
      v3 = await push(s, 'acme/app', 'old', 'three');
      assert.equal(await registryDelete(s, 'acme/app', 'old'), 202); // registry deletes the tag
      assert.equal((await api(s, 'DELETE', '/repository/acme/app/tag/stable', ADMIN)).status, 204); // API deletes

      const h = await history(s, 'acme/app');
      assert.deepEqual(lifetimes(h.tags, 'latest'), [
        { digest: v2, ended: false },
        { digest: v1, ended: true },
      ]);
      assert.deepEqual(lifetimes(h.tags, 'stable'), [
        { digest: v2, ended: true },
        { digest: v1, ended: true },
      ]);
      assert.deepEqual(lifetimes(h.tags, 'old'), [{ digest: v3, ended: true }]);
      const ended = h.tags.find((t) => t.name === 'old')!;
      assert.ok(ended.end_ts! >= ended.start_ts && Math.abs(ended.end_ts! - Date.now() / 1000) < 120, 'end_ts is a time in seconds');
      for (let i = 1; i < h.tags.length; i++) assert.ok(h.tags[i - 1].start_ts >= h.tags[i].start_ts, 'newest first');

      const active = await api(s, 'GET', '/repository/acme/app/tag/', ADMIN);
      assert.deepEqual(
        active.json.tags.map((t: HistoryTag) => [t.name, t.manifest_digest, 'end_ts' in t]),
        [['latest', v2, false]],
      );
    });

    test('name filter (like:, eq:), specificTag and paging, over the history and the active tags', async () => {
      for (const n of ['rc-1', 'rc-2', 'rc-3', 'RC_x', 'final']) {
        assert.equal((await api(s, 'PUT', `/repository/acme/app/tag/${n}`, ADMIN, { manifest_digest: v1 })).status, 201);
      }
      const like = await api(s, 'GET', '/repository/acme/app/tag/?filter_tag_name=like:rc', ADMIN);
      assert.deepEqual(like.json.tags.map((t: HistoryTag) => t.name).sort(), ['RC_x', 'rc-1', 'rc-2', 'rc-3'], 'contains, any case');
      const literal = await api(s, 'GET', `/repository/acme/app/tag/?filter_tag_name=${encodeURIComponent('like:c_')}`, ADMIN);
      assert.deepEqual(
        literal.json.tags.map((t: HistoryTag) => t.name),
        ['RC_x'],
        '"_" is not a wildcard',
      );
      const eq = await api(s, 'GET', '/repository/acme/app/tag/?filter_tag_name=eq:rc-2', ADMIN);
      assert.deepEqual(
        eq.json.tags.map((t: HistoryTag) => t.name),
        ['rc-2'],
      );
      const p1 = await api(s, 'GET', '/repository/acme/app/tag/?filter_tag_name=like:rc-&limit=2&page=1', ADMIN);
      const p2 = await api(s, 'GET', '/repository/acme/app/tag/?filter_tag_name=like:rc-&limit=2&page=2', ADMIN);
      assert.equal(p1.json.tags.length, 2);
      assert.equal(p1.json.has_additional, true);
      assert.equal(p2.json.tags.length, 1);
      assert.equal(p2.json.has_additional, false);
      assert.deepEqual(new Set([...p1.json.tags, ...p2.json.tags].map((t: HistoryTag) => t.name)), new Set(['rc-1', 'rc-2', 'rc-3']));
      const old = await history(s, 'acme/app', '&filter_tag_name=like:ol');
      assert.deepEqual(lifetimes(old.tags, 'old'), [{ digest: v3, ended: true }]);
      assert.equal(old.tags.length, 1);
      const specific = await history(s, 'acme/app', '&specificTag=stable');
      assert.equal(specific.tags.length, 2);
      const bad = await api(s, 'GET', '/repository/acme/app/tag/?filter_tag_name=rc', ADMIN);
      assert.equal(bad.status, 400);
      assert.match(bad.json.error_message, /filter_tag_name "rc" must be like:<part of a tag name> or eq:<tag name>/);
    });

    test('restore puts a deleted tag back on its manifest, visible to any client, and is itself recorded', async () => {
      const r = await api(s, 'POST', '/repository/acme/app/tag/old/restore', ADMIN, { manifest_digest: v3 });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const t = await registryToken(s, ['repository:acme/app:pull'], READER);
      const m = await fetch(`${s.url}/v2/acme/app/manifests/old`, { headers: { authorization: `Bearer ${t.token}` } });
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('docker-content-digest'), v3);
      assert.deepEqual(lifetimes((await history(s, 'acme/app', '&specificTag=old')).tags, 'old'), [
        { digest: v3, ended: false },
        { digest: v3, ended: true },
      ]);
    });

    test('refusals: no write permission, malformed body or digest, unknown manifest, deleted manifest; nothing changes', async () => {
      const before = await history(s, 'acme/app');
      const denied = await api(s, 'POST', '/repository/acme/app/tag/old/restore', READER, { manifest_digest: v1 });
      assert.equal(denied.status, 403);
      assert.match(denied.json.error_message, /needs write permission on repository "acme\/app"; you have read/);
      const noBody = await api(s, 'POST', '/repository/acme/app/tag/old/restore', ADMIN, { digest: v1 });
      assert.equal(noBody.status, 400);
      assert.match(noBody.json.error_message, /manifest_digest/);
      const malformed = await api(s, 'POST', '/repository/acme/app/tag/old/restore', ADMIN, { manifest_digest: 'sha256:1234' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.json.error_message, /manifest_digest "sha256:1234" is not a valid digest/);
      const badTag = await api(s, 'POST', '/repository/acme/app/tag/.hidden/restore', ADMIN, { manifest_digest: v1 });
      assert.equal(badTag.status, 400);
      const unknown = sha('never pushed');
      const u = await api(s, 'POST', '/repository/acme/app/tag/old/restore', ADMIN, { manifest_digest: unknown });
      assert.equal(u.status, 404);
      assert.match(u.json.error_message, new RegExp(`manifest ${unknown} is not in repository "acme/app"`));

      // Deleting the manifest by digest ends its tags' lifetimes; restoring it then says it no longer exists.
      assert.equal(await registryDelete(s, 'acme/app', v3), 202);
      const gone = await api(s, 'POST', '/repository/acme/app/tag/old/restore', ADMIN, { manifest_digest: v3 });
      assert.equal(gone.status, 404);
      assert.match(
        gone.json.error_message,
        /no longer exists in repository "acme\/app" \(deleted or garbage-collected\), so tag "old" cannot be restored/,
      );
      const after = await history(s, 'acme/app');
      assert.deepEqual(
        lifetimes(after.tags, 'old'),
        [
          { digest: v3, ended: true },
          { digest: v3, ended: true },
        ],
        'the open lifetime ended with the manifest',
      );
      assert.equal(after.tags.length, before.tags.length, 'no refused call added history');
    });

    test('gc keeps the manifests of history within the window, so a restore still works after it', async () => {
      // v1 is only in history now once rc-* and final move away; make it so and collect.
      for (const n of ['rc-1', 'rc-2', 'rc-3', 'RC_x', 'final'])
        assert.equal((await api(s, 'DELETE', `/repository/acme/app/tag/${n}`, ADMIN)).status, 204);
      const r = await collectGarbage(s.berth.ctx, { graceSeconds: 0, deleteUntagged: true });
      assert.equal(r.manifestsRemoved, 0, 'every untagged manifest is in recent history');
      assert.equal(r.historyPruned, 0);
      assert.equal((await api(s, 'POST', '/repository/acme/app/tag/first/restore', ADMIN, { manifest_digest: v1 })).status, 200);
      assert.equal((await api(s, 'GET', '/repository/acme/app/tag/?specificTag=first', ADMIN)).json.tags[0].manifest_digest, v1);
    });
  });

  describe(`tag history past DEFAULT_TAG_EXPIRATION (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startWithAccounts(dialect, { DEFAULT_TAG_EXPIRATION: '1s' });
    });
    after(() => s.stop());

    test('gc prunes expired history and then collects its manifests; restore is refused', async () => {
      const a = await push(s, 'acme/app', 'v', 'a');
      const b = await push(s, 'acme/app', 'v', 'b');
      // The history expires after 1 s: the collector runs with its clock 2 s ahead (whole seconds in end_ts) instead of
      // the test sleeping past the expiry.
      const later = { ...s.berth.ctx, now: () => Date.now() + 2000 };
      const r = await collectGarbage(later, { graceSeconds: 0, deleteUntagged: true });
      assert.equal(r.historyPruned, 1, 'the ended lifetime of v -> a');
      assert.equal(r.manifestsRemoved, 1);
      const h = await history(s, 'acme/app');
      assert.deepEqual(lifetimes(h.tags, 'v'), [{ digest: b, ended: false }], 'the open lifetime stays');
      const t = await registryToken(s, ['repository:acme/app:pull'], ADMIN);
      assert.equal((await fetch(`${s.url}/v2/acme/app/manifests/${a}`, { headers: { authorization: `Bearer ${t.token}` } })).status, 404);
      const refused = await api(s, 'POST', '/repository/acme/app/tag/v/restore', ADMIN, { manifest_digest: a });
      assert.equal(refused.status, 404);
      assert.match(refused.json.error_message, /is not in repository "acme\/app"/);
      assert.equal((await api(s, 'GET', '/repository/acme/app/tag/?specificTag=v', ADMIN)).json.tags[0].manifest_digest, b, 'v unchanged');
    });
  });
}
