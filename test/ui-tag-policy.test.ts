// Tag expiration and immutable tags in the web UI, in Debian's Chromium (playwright-core) against a real Berth
// with accounts: a writer sets a tag's expiration in the tag table and clears it (checked through the API); an
// admin's "Immutable tags" section refuses a bad pattern, adds a rule that marks the tags it covers (and hides
// their expiration controls), and removes it again; a reader sees the expiration but no controls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, pushTinyImage } from './helpers/accounts.ts';
import { buildWebIfStale, launchChromium, noChromium as skip, openPage, signIn } from './helpers/ui.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'user-password-1';
let s: TestServer;
let browser: Browser;

async function tagOf(name: string): Promise<{ end_ts?: number; immutable?: boolean }> {
  const r = await api(s, 'GET', `/repository/acme/app/tag/?specificTag=${name}`, ['owner', PW]);
  return r.json.tags[0];
}

const row = (page: Page, tag: string) => page.getByRole('table', { name: 'Tags of acme/app' }).getByRole('row').filter({ hasText: tag });

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
  for (const u of ['owner', 'reader']) assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ['owner', PW], { name: 'acme' })).status, 201);
  assert.equal((await api(s, 'POST', '/repository', ['owner', PW], { namespace: 'acme', repository: 'app' })).status, 201);
  assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/reader', ['owner', PW], { role: 'read' })).status, 200);
  await pushTinyImage(s, 'acme/app', 'v1', ['owner', PW]);
  await pushTinyImage(s, 'acme/app', 'pr-7', ['owner', PW]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

test('a writer sets and clears a tag expiration in the tag table', { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1400, height: 900 } });
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/app`);
  await row(page, 'pr-7').getByRole('button', { name: 'Set expiration of tag pr-7' }).click();
  const input = page.getByLabel('Expires (tag pr-7)');
  await input.fill('2001-01-01T10:00');
  await page.getByRole('button', { name: 'Save expiration' }).click();
  await page.getByText('Give a time in the future.').waitFor();
  assert.equal((await tagOf('pr-7')).end_ts, undefined, 'nothing was sent');
  const when = new Date(Date.now() + 3 * 86400_000);
  when.setSeconds(0, 0);
  const p = (n: number) => String(n).padStart(2, '0');
  await input.fill(`${when.getFullYear()}-${p(when.getMonth() + 1)}-${p(when.getDate())}T${p(when.getHours())}:${p(when.getMinutes())}`);
  await page.getByRole('button', { name: 'Save expiration' }).click();
  await page.getByText(/Tag pr-7 now expires/).waitFor();
  assert.equal((await tagOf('pr-7')).end_ts, when.getTime() / 1000);
  await row(page, 'pr-7').locator('time').nth(1).waitFor();

  await row(page, 'pr-7').getByRole('button', { name: 'Clear' }).click();
  await page.getByRole('button', { name: 'Yes, never expire' }).click();
  await page.getByText('Tag pr-7 no longer expires.').waitFor();
  assert.equal((await tagOf('pr-7')).end_ts, undefined);
  await page.close();
});

test('an admin adds an immutability rule (a bad pattern is refused), tags it covers are marked, and removes it', { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1400, height: 900 } });
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/app`);
  const section = page.getByRole('region', { name: 'Immutable tags' });
  await section.getByText('No rules').waitFor();
  await section.getByLabel('Tag pattern').fill('v[0-9');
  await section.getByRole('button', { name: 'Add rule' }).click();
  await section.getByText(/tagPattern is not a valid regular expression/).waitFor();
  assert.deepEqual((await api(s, 'GET', '/repository/acme/app/immutabilitypolicy/', ['owner', PW])).json.policies, []);

  await section.getByLabel('Tag pattern').fill('v[0-9]');
  await section.getByRole('button', { name: 'Add rule' }).click();
  await section.getByText('Rule added: tags matching v[0-9] are immutable.').waitFor();
  await section.getByRole('listitem').filter({ hasText: 'v[0-9]' }).waitFor();
  await row(page, 'v1').getByText('immutable').waitFor();
  assert.equal(
    await row(page, 'v1')
      .getByRole('button', { name: /Set expiration/ })
      .count(),
    0,
    'an immutable tag cannot be given one',
  );
  assert.equal(await row(page, 'pr-7').getByText('immutable').count(), 0);
  assert.equal((await tagOf('v1')).immutable, true);

  await section.getByRole('button', { name: 'Remove' }).click();
  await section.getByRole('button', { name: 'Yes, remove' }).click();
  await section.getByText('Rule v[0-9] removed.').waitFor();
  await row(page, 'v1').getByRole('button', { name: 'Set expiration of tag v1' }).waitFor();
  assert.equal((await tagOf('v1')).immutable, false);
  await page.close();
});

test('a reader sees expirations but no controls and no rules section', { skip }, async () => {
  const at = Math.floor(Date.now() / 1000) + 7200;
  assert.equal((await api(s, 'PUT', '/repository/acme/app/tag/pr-7', ['owner', PW], { expiration: at })).status, 201);
  const page = await openPage(browser, { viewport: { width: 1400, height: 900 } });
  await signIn(page, s.url, 'reader', PW);
  await page.goto(`${s.url}/repository/acme/app`);
  await row(page, 'pr-7')
    .locator(`time[datetime="${new Date(at * 1000).toISOString()}"]`)
    .waitFor();
  assert.equal(await page.getByRole('button', { name: /Set expiration|Clear/ }).count(), 0);
  assert.equal(await page.getByRole('region', { name: 'Immutable tags' }).count(), 0);
  await page.close();
});
