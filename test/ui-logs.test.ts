// The "Logs" views and repository notifications in the web UI, in Debian's Chromium (playwright-core, no
// downloaded browser) against a real Berth with accounts: a repository's logs with filters by kind,
// performer and time and the export link; a notification whose receiver fails, shown disabled with its
// failures and last error, then re-enabled; an organization's logs; the admin page's registry-wide logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, pushTinyImage, registryToken } from './helpers/accounts.ts';
import { buildWebIfStale, launchChromium, noChromium as skip, openPage, seriousAxeViolations, signIn } from './helpers/ui.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const PW = 'user-password-1';
let s: TestServer;
let browser: Browser;
let receiver: http.Server;
let hookUrl: string;
let hits = 0;
let thirdHit: () => void;
const threeHits = new Promise<void>((r) => {
  thirdHit = r;
});

async function pull(tag: string, creds: [string, string]): Promise<void> {
  const t = await registryToken(s, ['repository:acme/app:pull'], creds);
  const r = await fetch(`${s.url}/v2/acme/app/manifests/${tag}`, {
    headers: { authorization: `Bearer ${t.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
}

const rows = (page: Page) => page.getByRole('table', { name: 'Log entries, newest first' }).locator('tbody tr');

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.statusCode = 500;
      res.end('down');
      if (hits === 3) thirdHit();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  s = await startServer(
    'sqlite',
    {},
    {
      auth: true,
      config: {
        BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
        NOTIFICATION_RETRY_SECONDS: 0.05,
        NOTIFICATION_POLL_SECONDS: 0.05,
      },
    },
  );
  for (const u of ['owner', 'reader']) assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: u, password: PW })).status, 201);
  assert.equal((await api(s, 'POST', '/organization/', ['owner', PW], { name: 'acme' })).status, 201);
  assert.equal((await api(s, 'POST', '/repository', ['owner', PW], { namespace: 'acme', repository: 'app' })).status, 201);
  assert.equal((await api(s, 'PUT', '/repository/acme/app/permissions/user/reader', ['owner', PW], { role: 'read' })).status, 200);
  assert.equal((await api(s, 'PUT', '/organization/acme/robots/ci', ['owner', PW])).status, 201);
  await pushTinyImage(s, 'acme/app', 'v1', ['owner', PW]);
  await pull('v1', ['reader', PW]);
  await pull('v1', ['reader', PW]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await s?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
});

test('repository logs: entries with performer and address; filters by kind, performer and time; export link', { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/app`);
  await page.getByRole('tab', { name: 'Logs' }).click();
  await rows(page).first().waitFor();
  const kinds = await rows(page).evaluateAll((trs) => trs.map((t) => t.getAttribute('data-kind')));
  for (const k of ['create_repo', 'change_repo_permission', 'push_repo', 'pull_repo'])
    assert.ok(kinds.includes(k), `${k} in ${kinds.join(',')}`);
  const pushRow = page.locator('tr[data-kind="push_repo"]');
  assert.match(await pushRow.innerText(), /owner[\s\S]*127\.0\.0\.1[\s\S]*tag: v1/);
  // Kind filter.
  await page.getByLabel('Kind').selectOption('pull_repo');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForFunction(() =>
    [...document.querySelectorAll('table.logs-table tbody tr')].every((r) => r.getAttribute('data-kind') === 'pull_repo'),
  );
  assert.equal(await rows(page).count(), 2);
  assert.match(await rows(page).first().innerText(), /reader/);
  // Performer filter: nobody else pulled.
  await page.getByLabel('Performer').fill('owner');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No log entries match.').waitFor();
  // Time: a range in the past has nothing, whatever the kind.
  await page.getByLabel('Kind').selectOption('');
  await page.getByLabel('Performer').fill('');
  await page.getByLabel('From', { exact: true }).fill('2020-01-01');
  await page.getByLabel('To', { exact: true }).fill('2020-01-31');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No log entries match.').waitFor();
  const href = await page.getByRole('link', { name: 'Export (JSON lines)' }).getAttribute('href');
  assert.match(href!, /^\/api\/v1\/repository\/acme\/app\/exportlogs\?starttime=01%2F01%2F2020&endtime=01%2F31%2F2020$/);
  // The download works with the browser's session.
  const today = new Date().toISOString().slice(0, 10);
  await page.getByLabel('From', { exact: true }).fill(today);
  await page.getByLabel('To', { exact: true }).fill(today);
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await rows(page).first().waitFor();
  const exportHref = await page.getByRole('link', { name: 'Export (JSON lines)' }).getAttribute('href');
  const lines = await page.evaluate(
    async (u) =>
      (await (await fetch(u!)).text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).kind),
    exportHref,
  );
  assert.ok(lines.includes('push_repo') && lines.filter((k: string) => k === 'pull_repo').length === 2);
});

test('notifications: a failing receiver shows failures and the last error, then disabled; re-enable resets it', { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/repository/acme/app`);
  await page.getByRole('tab', { name: 'Notifications' }).click();
  await page.getByText('No notifications yet.').waitFor();
  await page.getByRole('button', { name: 'Create notification' }).click();
  await page.getByText('Enter the http:// or https:// URL to send to.').waitFor();
  await page.getByLabel('URL').fill(hookUrl);
  await page.getByLabel('Title (optional)').fill('CI hook');
  await page.getByRole('button', { name: 'Create notification' }).click();
  await page.getByText(/Signing secret \(shown once/).waitFor();
  const row = page.getByRole('table', { name: 'Notifications of this repository' }).locator('tbody tr');
  await row.getByText('0 failures').waitFor();
  await pushTinyImage(s, 'acme/app', 'v2', ['owner', PW]);
  // The receiver answers 500: three failed attempts disable the notification (as Quay does).
  await threeHits;
  assert.equal(hits, 3);
  // The third failure is written right after the receiver answered: wait for the server's state, then show it.
  const uuid = await row.getAttribute('data-uuid');
  while ((await api(s, 'GET', `/repository/acme/app/notification/${uuid}`, ['owner', PW])).json.number_of_failures < 3)
    await new Promise((r) => setImmediate(r));
  await page.getByRole('tab', { name: 'Tags' }).click();
  await page.getByRole('tab', { name: 'Notifications' }).click();
  await row.getByText('3 failures').waitFor();
  assert.match(await row.innerText(), /disabled[\s\S]*Last error: HTTP 500 from 127\.0\.0\.1/);
  await row.getByRole('button', { name: 'Re-enable' }).click();
  await page.getByText('Notification re-enabled.').waitFor();
  await row.getByText('0 failures').waitFor();
  assert.match(await row.innerText(), /enabled/);
});

test("organization logs (robots, repositories) and the admin page's registry-wide logs", { skip }, async () => {
  const page = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  await signIn(page, s.url, 'owner', PW);
  await page.goto(`${s.url}/organization/acme`);
  await page.getByRole('tab', { name: 'Logs' }).click();
  await page.locator('tr[data-kind="create_robot"]').waitFor();
  assert.match(await page.locator('tr[data-kind="create_robot"]').innerText(), /robot: acme\+ci/);
  assert.ok((await page.locator('tr[data-kind="org_create"]').count()) === 1);
  const admin = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  await signIn(admin, s.url, ADMIN[0], ADMIN[1]);
  await admin.goto(`${s.url}/admin`);
  await admin.getByRole('heading', { name: 'Logs of the whole registry' }).waitFor();
  await admin.locator('tr[data-kind="user_create"]').first().waitFor();
  await admin.getByLabel('Kind').selectOption('login_success');
  await admin.getByRole('button', { name: 'Apply filters' }).click();
  await admin.waitForFunction(() => {
    const r = [...document.querySelectorAll('table.logs-table tbody tr')];
    return r.length > 0 && r.every((x) => x.getAttribute('data-kind') === 'login_success');
  });
  assert.match(await rows(admin).first().innerText(), /admin/);
});

test('accessibility (axe-core): the Logs and Notifications tabs at desktop and phone width', { skip }, async () => {
  // axe is injected with addScriptTag: this context bypasses the CSP (the app's own pages keep it).
  const page = await openPage(browser, { bypassCSP: true });
  await signIn(page, s.url, 'owner', PW);
  const problems: string[] = [];
  for (const [tab, ready] of [
    ['Logs', () => rows(page).first().waitFor()],
    ['Notifications', () => page.getByRole('button', { name: 'Create notification' }).waitFor()],
  ] as const) {
    for (const [w, h, label] of [
      [1280, 900, 'desktop'],
      [390, 844, 'phone'],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      await page.goto(`${s.url}/repository/acme/app`);
      await page.getByRole('tab', { name: tab }).click();
      await ready();
      for (const v of await seriousAxeViolations(page, 3))
        problems.push(`${tab} (${label}): ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
    }
  }
  assert.deepEqual(problems, []);
});
