// The repository page's "Mirroring" section in Debian's Chromium (playwright-core) against a real Berth with a
// docker-registry upstream: set up a mirror (a bad upstream is refused on its field), the state switch, sync now
// and the status turning to success, the synced tag in the tag list, a failing upstream shown with its reason,
// and the section hidden from a reader. The outbound proxy fields: a malformed proxy refused under its field, a real
// forward proxy set in the form carries the sync, the saved values shown again, emptied fields clear the setting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { ContainerSandbox } from './helpers/exec.ts';
import { startForwardProxy, type ForwardProxy } from './helpers/forward-proxy.ts';
import { ADMIN, mirrorConfig, multiArch, pushAll } from './helpers/mirror.ts';
import { buildWebIfStale, launchChromium, noChromium as skip, openPage, seriousAxeViolations, signIn } from './helpers/ui.ts';

const PW = 'user-password-1';
let s: TestServer;
let browser: Browser;
let upstream: Distribution;
let sandbox: ContainerSandbox;
let digest: string;
let proxy: ForwardProxy;

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  sandbox = new ContainerSandbox('berth-ui-mirror-');
  upstream = await startDistribution();
  const img = await multiArch('ui');
  digest = img.descriptor.digest;
  await pushAll(sandbox, upstream.host, 'library/web', { v1: img });
  s = await startServer('sqlite', {}, { auth: true, config: mirrorConfig() });
  for (const u of ['owner', 'reader']) assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ['owner', PW], { name: 'acme' })).status, 201);
  for (const r of ['web', 'proxied'])
    assert.equal((await api(s, 'POST', '/repository', ['owner', PW], { namespace: 'acme', repository: r })).status, 201);
  proxy = await startForwardProxy();
  assert.equal((await api(s, 'PUT', '/repository/acme/web/permissions/user/reader', ['owner', PW], { role: 'read' })).status, 200);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await s?.stop();
  await proxy?.close();
  await upstream?.cleanup();
  await sandbox?.cleanup();
});

test('the outbound proxy fields: a malformed proxy is refused under its field; a forward proxy set here carries the sync', {
  skip,
}, async () => {
  const page = await openPage(browser, { viewport: { width: 1280, height: 1200 } }, 20_000);
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/proxied`);
  await page.getByRole('tab', { name: 'Mirroring' }).click();
  await page.getByLabel('Upstream repository').fill(`${upstream.host}/library/web`);
  await page.getByLabel('Tags to mirror').fill('v1');
  await page.getByLabel('TLS').selectOption('false');
  await page.getByLabel('First sync at (UTC)').fill('2099-01-01T00:00:00Z');
  await page.getByLabel('HTTPS proxy').fill('socks5://proxy.example:1080');
  await page.getByRole('button', { name: 'Set up mirroring' }).click();
  // The reason is shown on the HTTPS proxy field itself (its description), and nothing is created.
  const httpsField = page.getByLabel('HTTPS proxy');
  await page.getByText(/proxy\.https_proxy uses the scheme socks5:\/\/, which is not supported/).waitFor();
  assert.equal(await httpsField.getAttribute('aria-invalid'), 'true');
  assert.equal((await api(s, 'GET', '/repository/acme/proxied/mirror', ['owner', PW])).status, 404);
  // A real forward proxy for the plain-HTTP upstream: the sync goes through it.
  await httpsField.fill('');
  await page.getByLabel('HTTP proxy').fill(proxy.url);
  await page.getByLabel('No proxy').fill('registry.internal');
  await page.getByRole('button', { name: 'Set up mirroring' }).click();
  await page.getByText('Mirroring is set up').waitFor();
  assert.deepEqual((await api(s, 'GET', '/repository/acme/proxied/mirror', ['owner', PW])).json.external_registry_config.proxy, {
    http_proxy: proxy.url,
    https_proxy: null,
    no_proxy: 'registry.internal',
  });
  const forwarded = proxy.forwarded;
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.getByTestId('mirror-status').getByText('Succeeded').waitFor();
  assert.ok(proxy.forwarded > forwarded, 'the sync went through the proxy set in the form');
  // The saved values are shown again; emptied fields clear the setting.
  await page.reload();
  await page.getByRole('tab', { name: 'Mirroring' }).click();
  assert.equal(await page.getByLabel('HTTP proxy').inputValue(), proxy.url);
  assert.equal(await page.getByLabel('No proxy').inputValue(), 'registry.internal');
  await page.getByLabel('HTTP proxy').fill('');
  await page.getByLabel('No proxy').fill('');
  await page.getByRole('button', { name: 'Save mirror settings' }).click();
  await page.getByText('Mirror settings saved.').waitFor();
  const cleared = (await api(s, 'GET', '/repository/acme/proxied/mirror', ['owner', PW])).json.external_registry_config.proxy ?? {};
  assert.deepEqual([cleared.http_proxy ?? null, cleared.https_proxy ?? null, cleared.no_proxy ?? null], [null, null, null]);
});

test('set up a mirror, sync now, see success and the tag; a dead upstream shows the failure reason', { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1280, height: 1000 } }, 20_000);
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/web`);
  await page.getByRole('tab', { name: 'Mirroring' }).click();
  assert.equal(await page.getByTestId('repo-state').textContent(), 'NORMAL');
  // A bad upstream is refused by the server; the message lands on the field and nothing is created.
  await page.getByLabel('Upstream repository').fill('https://example.com/a/b');
  await page.getByLabel('Tags to mirror').fill('v*');
  await page.getByLabel('TLS').selectOption('false');
  await page.getByRole('button', { name: 'Set up mirroring' }).click();
  await page.getByText('must not have a scheme').waitFor();
  assert.equal((await api(s, 'GET', '/repository/acme/web/mirror', ['owner', PW])).status, 404);
  await page.getByLabel('Upstream repository').fill(`${upstream.host}/library/web`);
  await page.getByLabel('First sync at (UTC)').fill('2099-01-01T00:00:00Z');
  await page.getByRole('button', { name: 'Set up mirroring' }).click();
  await page.getByText('Mirroring is set up').waitFor();
  await page.getByTestId('repo-state').getByText('MIRROR').waitFor();
  assert.equal(await page.getByTestId('mirror-status').textContent(), 'Scheduled (never run)');
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.getByTestId('mirror-status').getByText('Succeeded').waitFor();
  await page.getByRole('tab', { name: 'Tags' }).click();
  await page
    .getByRole('table', { name: /^Tags of / })
    .getByRole('row', { name: /\bv1\b/ })
    .first()
    .waitFor();
  const tags = await api(s, 'GET', '/repository/acme/web/tag/', ['owner', PW]);
  assert.equal(tags.json.tags[0].manifest_digest, digest);

  // The upstream goes away: the next sync fails and the page says why.
  await upstream.stop();
  await page.getByRole('tab', { name: 'Mirroring' }).click();
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.getByTestId('mirror-status').getByText('Failed').waitFor();
  assert.match((await page.getByTestId('mirror-error').textContent()) ?? '', /ECONNREFUSED|unreachable|connect/i);
  // Back to a normal repository from the state switch.
  await page.getByRole('button', { name: 'Make normal' }).click();
  await page.getByTestId('repo-state').getByText('NORMAL').waitFor();
  assert.equal((await api(s, 'GET', '/repository/acme/web', ['owner', PW])).json.state, 'NORMAL');
});

test('the Mirroring section passes axe-core (no serious or critical violation)', { skip }, async () => {
  // A context that bypasses the CSP so axe can be injected (the app's pages keep their CSP elsewhere).
  const page = await openPage(browser, { bypassCSP: true, viewport: { width: 1280, height: 1000 } }, 20_000);
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/web`);
  await page.getByRole('tab', { name: 'Mirroring' }).click();
  await page.getByTestId('mirror-status').waitFor();
  const bad = await seriousAxeViolations(page);
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help}`),
    [],
  );
});

test('a reader does not see the Mirroring section', { skip }, async () => {
  const page = await openPage(browser);
  await signIn(page, s.url, 'reader', PW);
  await page.goto(`${s.url}/repository/acme/web`);
  await page.getByRole('tab', { name: 'Tags' }).waitFor();
  assert.equal(await page.getByRole('tab', { name: 'Mirroring' }).count(), 0);
});
