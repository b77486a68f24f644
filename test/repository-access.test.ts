// The one "may the caller use this repository" rule, Quay's: on /api/v1 a caller without the right gets 401
// (anonymous) or 403 (signed in) whether or not the repository exists, and 404 for a missing repository only
// when their right covers the whole namespace (owner, organization admin, superuser). On /v2 the token's grants
// decide: no grant is 403 DENIED, a grant on a missing repository is 404 NAME_UNKNOWN.
// Every repository-reading endpoint of the API answers alike (they disagreed before).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, registryToken } from './helpers/accounts.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'user-password-1';
const OWNER: [string, string] = ['owner', PW];
const NOBODY: [string, string] = ['nobody', PW];
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

for (const dialect of await testDialects()) {
  describe(`repository access: 401/403/404 (${dialect})`, () => {
    let s: TestServer;
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [],
      }),
    );
    const digest = sha(manifest);
    /** Every /api/v1 endpoint that reads one repository, for a repository name. */
    const readers = (name: string) => [
      `/repository/${name}`,
      `/repository/${name}/tag/`,
      `/repository/${name}/charts`,
      `/repository/${name}/manifest/${digest}`,
      `/repository/${name}/manifest/${digest}/security`,
      `/manifestsummary?repository=${name}&digest=${digest}`,
    ];
    const statuses = async (name: string, creds?: [string, string]) => {
      const out: Record<string, number> = {};
      for (const path of readers(name)) {
        const r = await api(s, 'GET', path, creds);
        if (r.status >= 400) assert.ok(r.json.error_message, `${path}: JSON error with a message`);
        out[path] = r.status;
      }
      return out;
    };
    const all = (name: string, status: number) => Object.fromEntries(readers(name).map((p) => [p, status]));

    before(async () => {
      s = await startServer(dialect, {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
      for (const u of ['owner', 'nobody']) assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
      assert.equal((await api(s, 'POST', '/organization/', OWNER, { name: 'acme' })).status, 201);
      assert.equal(
        (await api(s, 'POST', '/repository', OWNER, { namespace: 'acme', repository: 'private', visibility: 'private' })).status,
        201,
      );
      const t = await registryToken(s, ['repository:acme/private:pull,push'], OWNER);
      const auth = { authorization: `Bearer ${t.token}` };
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
    });
    after(async () => {
      await s?.stop();
    });

    test('the owner reads every view of the repository', async () => {
      const got = await statuses('acme/private', OWNER);
      assert.deepEqual(got, all('acme/private', 200));
    });

    test('an existing repository the caller may not read: 403 signed in, 401 anonymous, on every endpoint', async () => {
      assert.deepEqual(await statuses('acme/private', NOBODY), all('acme/private', 403));
      assert.deepEqual(await statuses('acme/private'), all('acme/private', 401));
    });

    test('a missing repository: 404 for whoever holds the namespace, the same refusal as above for everyone else', async () => {
      assert.deepEqual(await statuses('acme/ghost', OWNER), all('acme/ghost', 404));
      assert.deepEqual(await statuses('acme/ghost', ADMIN), all('acme/ghost', 404));
      assert.deepEqual(await statuses('nobody/ghost', NOBODY), all('nobody/ghost', 404));
      // Existence is not revealed: a missing and an existing unreadable repository answer alike.
      assert.deepEqual(await statuses('acme/ghost', NOBODY), all('acme/ghost', 403));
      assert.deepEqual(await statuses('acme/ghost'), all('acme/ghost', 401));
    });

    test('/v2 follows the token: no grant is 403 DENIED (existing or not), a grant on a missing repository is 404 NAME_UNKNOWN', async () => {
      const get = async (path: string, scope: string, creds: [string, string]) => {
        const t = await registryToken(s, [scope], creds);
        const r = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${t.token}` } });
        return { status: r.status, code: ((await r.json()) as { errors: { code: string }[] }).errors?.[0]?.code };
      };
      assert.deepEqual(await get('/v2/acme/private/manifests/v1', 'repository:acme/private:pull', NOBODY), { status: 403, code: 'DENIED' });
      assert.deepEqual(await get('/v2/acme/ghost/tags/list', 'repository:acme/ghost:pull', NOBODY), { status: 403, code: 'DENIED' });
      assert.deepEqual(await get('/v2/acme/ghost/tags/list', 'repository:acme/ghost:pull', OWNER), { status: 404, code: 'NAME_UNKNOWN' });
      const ok = await fetch(`${s.url}/v2/acme/private/manifests/v1`, {
        headers: {
          authorization: `Bearer ${(await registryToken(s, ['repository:acme/private:pull'], OWNER)).token}`,
          accept: 'application/vnd.oci.image.manifest.v1+json',
        },
      });
      assert.equal(ok.status, 200);
    });
  });
}
