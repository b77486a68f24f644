// The "Proxy cache" section of an organization in the web UI, in Debian's Chromium (playwright-core) against a
// real Berth with accounts and a docker-registry upstream: a missing upstream is refused, a configuration is
// validated, saved (the password never shown), and removed. A malformed outbound proxy is refused under its field
// and nothing is saved; a real forward proxy set in the form carries the validation, and the view shows it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { startForwardProxy, type ForwardProxy } from './helpers/forward-proxy.ts';
import { buildWebIfStale, launchChromium, noChromium as skip, signIn } from './helpers/ui.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
let s: TestServer;
let reg: Distribution;
let browser: Browser;
let proxy: ForwardProxy;

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  reg = await startDistribution({ users: { carol: 'carol-secret' } });
  s = await startServer(
    'sqlite',
    {},
    { auth: true, config: { FEATURE_PROXY_CACHE: true, BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } },
  );
  assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'hub' })).status, 201);
  proxy = await startForwardProxy();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await s?.stop();
  await reg?.cleanup();
  await proxy?.close();
});

test('configure, validate, view and remove a proxy cache from the organization page', { skip }, async () => {
  const page = await browser.newPage();
  try {
    await signIn(page, s.url, ...ADMIN);
    await page.goto(`${s.url}/organization/hub`);
    await page.getByRole('tab', { name: 'Proxy cache' }).click();
    await page.getByRole('button', { name: 'Save proxy cache' }).click();
    await page.getByText('Enter the upstream registry').waitFor();
    await page.getByLabel('Upstream registry').fill(reg.host);
    await page.getByLabel('Upstream username').fill('carol');
    await page.getByLabel('Upstream password').fill('wrong');
    await page.getByLabel(/Insecure/).check();
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText(/Failed login to remote registry/).waitFor();
    await page.getByLabel('Upstream password').fill('carol-secret');
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText('The upstream accepted the credentials.').waitFor();
    await page.getByLabel('Expiration (seconds)').fill('3600');
    // A malformed proxy: refused under its field, nothing saved.
    await page.getByLabel('HTTPS proxy').fill('socks5://proxy.example:1080');
    await page.getByRole('button', { name: 'Save proxy cache' }).click();
    await page.getByText(/proxy\.https_proxy uses the scheme socks5:\/\/, which is not supported/).waitFor();
    assert.equal((await api(s, 'GET', '/organization/hub/proxycache', ADMIN)).json.upstream_registry, '');
    // A real forward proxy for the plain-HTTP upstream: validation goes through it.
    await page.getByLabel('HTTPS proxy').fill('');
    await page.getByLabel('HTTP proxy').fill(proxy.url);
    const forwarded = proxy.forwarded;
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText('The upstream accepted the credentials.').waitFor();
    assert.ok(proxy.forwarded > forwarded, 'validation went through the proxy');
    await page.getByRole('button', { name: 'Save proxy cache' }).click();
    await page.getByTestId('proxy-upstream').waitFor();
    assert.equal(await page.getByTestId('proxy-outbound').textContent(), `http: ${proxy.url}`);
    assert.equal(await page.getByTestId('proxy-upstream').textContent(), reg.host);
    assert.equal((await page.content()).includes('carol-secret'), false, 'the password is not on the page');
    const saved = await api(s, 'GET', '/organization/hub/proxycache', ADMIN);
    assert.deepEqual(saved.json, {
      upstream_registry: reg.host,
      expiration_s: 3600,
      insecure: true,
      upstream_registry_username: 'carol',
      proxy: { http_proxy: proxy.url, https_proxy: null, no_proxy: null },
    });
    await page.getByRole('button', { name: 'Remove proxy cache' }).click();
    await page.getByRole('button', { name: 'Yes, remove' }).click();
    await page.getByRole('heading', { name: 'Configure a proxy cache' }).waitFor();
    assert.equal((await api(s, 'GET', '/organization/hub/proxycache', ADMIN)).json.upstream_registry, '');
  } finally {
    await page.close();
  }
});
