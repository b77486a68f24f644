// The organization page's storage quota panel in Debian's Chromium (playwright-core, no downloaded browser) against
// a real Berth with accounts and FEATURE_QUOTA_MANAGEMENT: usage bar, a superuser sets the quota, adds, edits and
// removes a limit, and a member sees it read-only; the repository list shows each repository's size. The panel
// does not depend on the database: SQLite only (the API under it runs on both in test/quota.test.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, registryToken } from './helpers/accounts.ts';
import { buildWebIfStale, launchChromium, noChromium as skip, signIn } from './helpers/ui.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const MEMBER: [string, string] = ['member', 'member-password-1'];
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let s: TestServer;
let browser: Browser;
let layerSize = 0;

async function push(): Promise<void> {
  const t = await registryToken(s, ['repository:acme/app:pull,push'], ADMIN);
  const auth = { authorization: `Bearer ${t.token}` };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(300_000);
  layerSize = config.length + layer.length;
  for (const b of [config, layer])
    assert.equal(
      (await fetch(`${s.url}/v2/acme/app/blobs/uploads/?digest=${sha(b)}`, { method: 'POST', headers: auth, body: new Uint8Array(b) }))
        .status,
      201,
    );
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  });
  const r = await fetch(`${s.url}/v2/acme/app/manifests/v1`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(r.status, 201);
}

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  s = await startServer(
    'sqlite',
    {},
    { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] }, FEATURE_QUOTA_MANAGEMENT: true } },
  );
  assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: MEMBER[0], password: MEMBER[1] })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
  assert.equal((await api(s, 'PUT', '/organization/acme/team/devs', ADMIN, { role: 'member' })).status, 200);
  assert.equal((await api(s, 'PUT', '/organization/acme/team/devs/members/member', ADMIN)).status, 200);
  assert.equal((await api(s, 'POST', '/repository', ADMIN, { namespace: 'acme', repository: 'app', visibility: 'private' })).status, 201);
  assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/member', ADMIN, { role: 'read' })).status, 200);
  await push();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

test('a superuser sets the quota, adds, edits and removes a limit; the usage bar and repository sizes show', { skip }, async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await signIn(page, s.url, ...ADMIN);
  await page.goto(`${s.url}/organization/acme`);
  const panel = page.getByRole('region', { name: 'Storage quota' });
  await panel.getByText('(no quota)').waitFor();
  const kib = `${(layerSize / 1024).toFixed(1)} KiB`;
  await panel.getByText(kib).waitFor();
  // The repository list shows the repository's size.
  await page.getByRole('region', { name: 'Repository list' }).getByText(kib).waitFor();

  // A bad size is refused in the form; then 1 MiB is set.
  const setForm = panel.getByRole('form', { name: 'Set a quota' });
  await setForm.getByLabel('Quota size').fill('-3');
  await setForm.getByRole('button', { name: 'Set quota' }).click();
  await setForm.getByText('Enter a positive number').waitFor();
  await setForm.getByLabel('Quota size').fill('1');
  await setForm.getByLabel('Unit').selectOption({ label: 'MiB' });
  await setForm.getByRole('button', { name: 'Set quota' }).click();
  const pct = (layerSize * 100) / (1024 * 1024);
  await panel.getByText(`of 1.0 MiB (${Math.round(pct * 10) / 10}%)`).waitFor();
  assert.equal(
    await panel.getByRole('progressbar', { name: 'Storage used by acme' }).getAttribute('aria-valuenow'),
    String(Math.round(pct)),
  );

  // Add a Warning limit at 20%: the namespace is past it, the panel says so.
  const addForm = panel.getByRole('form', { name: 'Add a limit' });
  await addForm.getByLabel('Threshold (%)').fill('20');
  await addForm.getByRole('button', { name: 'Add limit' }).click();
  const limits = panel.getByRole('table', { name: 'Limits' });
  await limits.getByRole('cell', { name: '20%' }).waitFor();
  await page.reload();
  await panel.getByText('over a Warning limit').waitFor();
  // The server's refusal of a duplicate shows in the form.
  await addForm.getByLabel('Threshold (%)').fill('20');
  await addForm.getByRole('button', { name: 'Add limit' }).click();
  await addForm.getByText('Quota limit already exists').waitFor();

  // Edit it to 50%: no longer crossed.
  await limits.getByRole('button', { name: 'Edit Warning limit' }).click();
  await limits.getByLabel('Warning threshold (%)').fill('50');
  await limits.getByRole('button', { name: 'Save' }).click();
  await limits.getByRole('cell', { name: '50%' }).waitFor();
  const q = (await api(s, 'GET', '/organization/acme/quota', ADMIN)).json[0];
  assert.deepEqual(
    q.limits.map((l: { type: string; limit_percent: number }) => [l.type, l.limit_percent]),
    [['Warning', 50]],
  );
  assert.equal(q.limit_bytes, 1024 * 1024);
  await page.screenshot({ path: `${s.dataDir}/../berth-quota-panel.png`, fullPage: true });

  // Remove it.
  await limits.getByRole('button', { name: 'Remove Warning limit' }).click();
  await panel.getByRole('button', { name: 'Yes, remove' }).click();
  await panel.getByText('No limits').waitFor();
  assert.deepEqual((await api(s, 'GET', `/organization/acme/quota/${q.id}/limit`, ADMIN)).json, []);
  await ctx.close();
});

test('an organization member sees the quota and usage, with no controls to change them', { skip }, async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await signIn(page, s.url, ...MEMBER);
  await page.goto(`${s.url}/organization/acme`);
  const panel = page.getByRole('region', { name: 'Storage quota' });
  await panel.getByText('of 1.0 MiB').waitFor();
  assert.equal(await panel.getByRole('button').count(), 0, 'no buttons for a member');
  assert.equal(await panel.getByRole('form').count(), 0);
  await ctx.close();
});
