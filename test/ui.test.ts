// The web UI in Debian's Chromium (playwright-core, no downloaded browser) against a real Berth with accounts:
// first-run admin, organization `helm` with a robot, a chart and an image pushed by skopeo with the robot's
// token, tags / chart metadata / manifest / security views, registry health, and the error paths (duplicate
// name, no permission, session expired). Screenshots at desktop and phone width go to a temp directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { api, host, registryToken } from './helpers/accounts.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const haveSkopeo = spawnSync('skopeo', ['--version']).status === 0;
const skip = !haveChromium ? `SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)` : !haveSkopeo ? 'SKIPPED: skopeo is missing' : false;
if (skip) console.log(`ui.test.ts ${skip}`);

const ADMIN = { user: 'admin', pass: 'admin-password-1' };
const shots = mkdtempSync(path.join(tmpdir(), 'berth-ui-shots-'));
let s: TestServer;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;

function run(bin: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (status) => { clearTimeout(timer); resolve({ status, out }); });
  });
}

/** A Helm chart as Helm 3.8+ pushes it: chart config JSON (Chart.yaml as JSON) and the .tgz layer, in an OCI layout. */
function makeChartLayout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-chart-'));
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const meta = {
    apiVersion: 'v2', name: 'nginx', version: '1.2.3', appVersion: '1.25.0', description: 'A web server for the UI test', type: 'application',
    maintainers: [{ name: 'Ada Lovelace', email: 'ada@example.com' }],
    dependencies: [{ name: 'common', version: '2.x.x', repository: 'oci://registry.example.com/charts' }],
  };
  const src = path.join(dir, 'src', 'nginx');
  mkdirSync(path.join(src, 'templates'), { recursive: true });
  writeFileSync(path.join(src, 'Chart.yaml'), Object.entries(meta).filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  writeFileSync(path.join(src, 'values.yaml'), 'replicaCount: 1\n');
  execFileSync('tar', ['-czf', path.join(dir, 'chart.tgz'), '-C', path.join(dir, 'src'), 'nginx']);
  const put = (b: Buffer) => { const d = createHash('sha256').update(b).digest('hex'); writeFileSync(path.join(blobs, d), b); return { digest: `sha256:${d}`, size: b.length }; };
  const layer = put(readFileSync(path.join(dir, 'chart.tgz')));
  const config = put(Buffer.from(JSON.stringify(meta)));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...layer }],
    annotations: { 'org.opencontainers.image.title': 'nginx', 'org.opencontainers.image.version': '1.2.3' },
  }));
  const m = put(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': '1.2.3' } }],
  }));
  return dir;
}

const text = async (p: Page, t: string | RegExp) => {
  try {
    await p.getByText(t).first().waitFor();
  } catch (e) {
    // Show what the page did say, and keep a screenshot of it.
    await p.screenshot({ path: path.join(shots, `failed-${Date.now()}.png`) }).catch(() => undefined);
    const body = await p.locator('body').innerText().catch(() => '?');
    throw new Error(`${(e as Error).message.split('\n')[0]}\n--- page text at ${p.url()} ---\n${body.slice(0, 1500)}`);
  }
};
const shot = async (name: string) => {
  for (const [w, h, label] of [[1280, 900, 'desktop'], [390, 844, 'phone']] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: path.join(shots, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
};

before(async () => {
  if (skip) return;
  const { webIsStale, buildWeb } = await import('../scripts/build-web.mjs');
  if (webIsStale()) await buildWeb();
  s = await startServer('sqlite', {}, { auth: true });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => console.log('page error:', e.message));
  console.log(`ui.test.ts screenshots: ${shots}`);
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

test('the UI end to end: first-run admin, organization, robot, pushed chart and image, security, errors', { skip, timeout: 120_000 }, async (t) => {
  let robotToken = '';
  let imageDigest = '';
  // Each step needs the ones before it: after a failure the rest are skipped, not timed out one by one.
  let broken = '';
  const step = (name: string, fn: () => Promise<void>) => t.test(name, { skip: broken ? `after the failure of "${broken}"` : false }, async () => {
    try {
      await fn();
    } catch (e) {
      broken = name;
      throw e;
    }
  });

  await step('static files: CSP header, SPA fallback, API 404s stay JSON', async () => {
    const root = await fetch(`${s.url}/`);
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const deep = await fetch(`${s.url}/repository/helm/nginx`);
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<div id="root">/);
    const nope = await fetch(`${s.url}/api/v1/does-not-exist`);
    assert.equal(nope.status, 404);
    assert.equal((await nope.json()).status, 404);
    assert.equal((await fetch(`${s.url}/assets/missing.js`)).status, 404);
  });

  await step('first run: the form validates, then creates the first admin and signs in', async () => {
    await page.goto(s.url);
    await text(page, 'Welcome to Berth');
    await page.getByLabel('Administrator username').fill(ADMIN.user);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.pass);
    await page.getByLabel('Repeat the password').fill('something-else');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await text(page, 'The passwords do not match.');
    // The error is tied to its field for screen readers.
    assert.equal(await page.getByLabel('Repeat the password').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Repeat the password').fill(ADMIN.pass);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { name: 'Repositories', level: 1 }).waitFor();
    await text(page, 'Signed in as');
    await text(page, 'No repositories yet');
    // Only once: the server refuses a second first-run admin.
    const again = await api(s, 'POST', '/setup', undefined, { username: 'other', password: 'other-password' });
    assert.equal(again.status, 409);
    await shot('repositories-empty');
  });

  await step('organizations: create helm, duplicate name is refused next to the field', async () => {
    await page.getByRole('link', { name: 'Organizations' }).click();
    await text(page, 'You are not in any organization yet');
    await page.getByLabel('Organization name').fill('Bad Name!');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await text(page, /Use lowercase letters/);
    await page.getByLabel('Organization name').fill('helm');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: /Organization\s+helm/ }).waitFor();
    await page.goto(`${s.url}/organizations`);
    await page.getByRole('link', { name: 'helm' }).waitFor();
    await page.getByLabel('Organization name').fill('helm');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await text(page, /already taken/);
    assert.equal(await page.getByLabel('Organization name').getAttribute('aria-invalid'), 'true');
    await shot('organizations-duplicate');
  });

  await step('robot: created, token shown once with copy button and login commands, keyboard tabs', async () => {
    await page.getByRole('link', { name: 'helm' }).click();
    const tab = page.getByRole('tab', { name: 'Repositories' });
    await tab.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Robot accounts' }).getAttribute('aria-selected'), 'true');
    await text(page, 'No robot accounts yet.');
    await page.getByLabel('Robot name').fill('ci');
    await page.getByRole('button', { name: 'Create robot' }).click();
    await text(page, 'Token of helm+ci');
    robotToken = (await page.getByLabel('robot token', { exact: true }).textContent())!.trim();
    assert.ok(robotToken.length > 20, robotToken);
    assert.match((await page.getByLabel('podman login command', { exact: true }).textContent())!, new RegExp(`podman login ${host(s)} -u 'helm\\+ci'`));
    assert.match((await page.getByLabel('berth login command', { exact: true }).textContent())!, /berth login .* --password-stdin/);
    await page.getByRole('button', { name: 'Copy robot token' }).click();
    await text(page, 'Copied');
    await shot('robot-token');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    // Teams tab: the owners team and its member.
    await page.getByRole('tab', { name: 'Teams and members' }).click();
    await page.getByRole('cell', { name: 'owners', exact: true }).waitFor();
    await page.getByLabel('Team name').fill('deployers');
    await page.getByLabel('Role').selectOption('creator');
    await page.getByRole('button', { name: 'Create team' }).click();
    await page.getByRole('cell', { name: 'deployers', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Members of deployers' }).click();
    await text(page, 'This team has no members.');
    await page.getByLabel('Add a user or robot').fill('helm+ci');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText('robot', { exact: true }).waitFor();
  });

  await step('repository: create with validation, grant the robot write', async () => {
    await page.getByRole('link', { name: 'Repositories' }).click();
    await page.getByLabel('Namespace').selectOption('helm');
    await page.getByLabel('Repository name').fill('app');
    await page.getByLabel('Description (optional)').fill('The demo image');
    await page.getByRole('button', { name: 'Create repository' }).click();
    await page.getByRole('heading', { name: /helm\/app/ }).waitFor();
    await text(page, 'This repository has no tags yet.');
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByLabel('User or robot name').fill('nobody-here');
    await page.getByRole('button', { name: 'Grant' }).click();
    await text(page, /does not exist/);
    await page.getByLabel('User or robot name').fill('helm+ci');
    await page.getByRole('button', { name: 'Grant' }).click();
    await page.getByLabel('Role of helm+ci').waitFor();
    await page.getByLabel('Role of helm+ci').selectOption('write');
    await page.getByRole('button', { name: 'Make public' }).click();
    await text(page, 'The repository is now public.');
  });

  await step('the robot pushes a Helm chart and an image with skopeo; the UI shows them', async () => {
    const creds = `helm+ci:${robotToken}`;
    // The robot is in the `deployers` (creator) team, so its push creates helm/nginx.
    const chart = await run('skopeo', ['copy', '--dest-creds', creds, '--dest-tls-verify=false', `oci:${makeChartLayout()}:1.2.3`, `docker://${host(s)}/helm/nginx:1.2.3`]);
    assert.equal(chart.status, 0, chart.out);
    const image = await run('skopeo', ['copy', '--dest-creds', creds, '--dest-tls-verify=false', `oci:${makeOciLayout('ui')}:latest`, `docker://${host(s)}/helm/app:1.0`]);
    assert.equal(image.status, 0, image.out);

    await page.goto(`${s.url}/repository/helm/nginx`);
    await page.getByRole('row', { name: /1\.2\.3/ }).waitFor();
    await text(page, 'Helm chart');
    await text(page, 'nginx 1.2.3 (app 1.25.0)');
    await text(page, `helm pull oci://${host(s)}/helm/nginx --version 1.2.3`);
    await page.getByRole('tab', { name: 'Helm charts' }).click();
    const card = page.getByRole('article', { name: /Chart nginx 1\.2\.3/ });
    await card.waitFor();
    const body = (await card.textContent())!;
    for (const want of ['1.25.0', 'A web server for the UI test', 'Ada Lovelace', 'ada@example.com', 'common', '2.x.x', `berth chart pull oci://${host(s)}/helm/nginx --version 1.2.3`]) {
      assert.ok(body.includes(want), `chart card lacks ${want}: ${body}`);
    }
    await shot('chart');

    await page.goto(`${s.url}/repository/helm/app`);
    const row = page.getByRole('row', { name: /1\.0/ });
    await row.waitFor();
    await text(page, 'linux/amd64');
    await text(page, `podman pull ${host(s)}/helm/app:1.0`);
    const rowText = (await row.textContent())!;
    assert.match(rowText, /Image/);
    assert.match(rowText, /\d+(\.\d)? (B|KiB)/);
    await shot('tags');
    const link = page.getByRole('link', { name: /Manifest .* of tag 1\.0/ });
    imageDigest = (await link.getAttribute('title'))!;
    assert.match(imageDigest, /^sha256:[0-9a-f]{64}$/);
  });

  await step('robot token regeneration: the new token is shown once and the old one stops working', async () => {
    await page.goto(`${s.url}/organization/helm`);
    await page.getByRole('tab', { name: 'Robot accounts' }).click();
    await page.getByRole('button', { name: 'Regenerate token' }).click();
    await page.getByRole('button', { name: 'Yes, regenerate' }).click();
    await text(page, 'Token of helm+ci');
    const fresh = (await page.getByLabel('robot token', { exact: true }).textContent())!.trim();
    assert.notEqual(fresh, robotToken);
    const scope = ['repository:helm/app:pull'];
    assert.equal((await registryToken(s, scope, ['helm+ci', robotToken])).status, 401);
    assert.equal((await registryToken(s, scope, ['helm+ci', fresh])).status, 200);
    await page.goto(`${s.url}/repository/helm/app`);
  });

  await step('tags: move (add) a tag, delete it, restore it; filter and empty filter', async () => {
    await page.getByRole('button', { name: 'Move or copy tag 1.0' }).click();
    await page.getByLabel('Tag', { exact: true }).fill('stable');
    await page.getByRole('button', { name: 'Save tag' }).click();
    await text(page, /Tag stable now points at/);
    await page.getByRole('row', { name: /stable/ }).waitFor();
    await page.getByLabel('Filter tags').fill('stab');
    await page.getByRole('row', { name: /stable/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /^1\.0/ }).count(), 0);
    await page.getByLabel('Filter tags').fill('zzz');
    await text(page, 'No tag matches "zzz".');
    await page.getByLabel('Filter tags').fill('');
    await page.getByRole('row', { name: /stable/ }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await text(page, /Tag stable deleted/);
    await page.getByRole('button', { name: 'Restore tag stable' }).click();
    await text(page, 'Tag stable restored.');
    await page.getByRole('row', { name: /stable/ }).waitFor();
  });

  await step('manifest and security: live endpoint state, then a Quay-shaped report with filters', async () => {
    await page.goto(`${s.url}/repository/helm/app/manifest/${imageDigest}`);
    await text(page, 'linux/amd64');
    const live = await api(s, 'GET', `/repository/helm/app/manifest/${imageDigest}/security?vulnerabilities=true`, [ADMIN.user, ADMIN.pass]);
    console.log(`live security endpoint on this server: ${live.status} ${JSON.stringify(live.json).slice(0, 160)}`);
    if (live.status === 200) await page.locator('.scan-state').waitFor();
    else await text(page, 'Security scanning is not available on this server.');
    // The report in Quay's documented shape (the scanner's endpoint lives on another branch).
    await page.route('**/api/v1/repository/helm/app/manifest/*/security*', (route) => route.fulfill({
      json: {
        status: 'scanned',
        data: { Layer: { Features: [
          { Name: 'openssl', Version: '3.0.11-1', Vulnerabilities: [
            { Name: 'CVE-2024-0001', Severity: 'High', FixedBy: '3.0.13-1', Link: 'https://security-tracker.debian.org/tracker/CVE-2024-0001', Description: 'A bad one' },
            { Name: 'CVE-2024-0002', Severity: 'Low', FixedBy: '', Link: '' },
          ] },
          { Name: 'zlib', Version: '1.2.13', Vulnerabilities: [{ Name: 'CVE-2023-9999', Severity: 'Critical', FixedBy: '1.3', Link: 'https://nvd.nist.gov/vuln/detail/CVE-2023-9999' }] },
        ] } },
      },
    }));
    await page.reload();
    await text(page, 'Scanned: 3 vulnerabilities in 2 packages.');
    const counts = (await page.getByRole('list', { name: 'Vulnerabilities by severity' }).textContent())!;
    assert.match(counts, /1 Critical.*1 High.*0 Medium.*1 Low/);
    assert.equal(await page.getByRole('link', { name: 'CVE-2023-9999' }).getAttribute('href'), 'https://nvd.nist.gov/vuln/detail/CVE-2023-9999');
    await shot('security');
    await page.getByLabel('Fixable only').check();
    await page.getByRole('row', { name: /CVE-2024-0001/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /CVE-2024-0002/ }).count(), 0);
    await page.getByLabel('Severity', { exact: true }).selectOption('Critical');
    assert.equal(await page.getByRole('row', { name: /CVE-2024-0001/ }).count(), 0);
    await page.getByRole('row', { name: /CVE-2023-9999/ }).waitFor();
    await page.getByLabel('Severity', { exact: true }).selectOption('Medium');
    await text(page, 'No vulnerability matches the filter.');
    for (const [status, want] of [['queued', /Queued/], ['unsupported', /Unsupported/], ['failed', /The scan failed: layer fetch timed out/]] as const) {
      await page.unroute('**/api/v1/repository/helm/app/manifest/*/security*');
      await page.route('**/api/v1/repository/helm/app/manifest/*/security*', (route) => route.fulfill({ json: { status, data: null, detail: 'layer fetch timed out' } }));
      await page.reload();
      await text(page, want);
    }
    await page.unroute('**/api/v1/repository/helm/app/manifest/*/security*');
  });

  await step('registry health for admins; creating a user', async () => {
    await page.getByRole('link', { name: 'Registry health' }).click();
    const stats = page.getByRole('list', { name: 'Registry counts' });
    await stats.waitFor();
    const txt = (await stats.textContent())!;
    assert.match(txt, /1Organizations/);
    assert.match(txt, /2Repositories/);
    assert.match(txt, /1Users/);
    assert.match(txt, /1Robots/);
    assert.match(txt, /[1-9][0-9.]* (B|KiB)Storage used \(4 blobs\)/); // config + layer of the chart and of the image
    await page.locator('#scanner-h').waitFor();
    await shot('health');
    await page.getByLabel('Username', { exact: true }).fill('dev');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    await text(page, 'The password must have at least 8 characters.');
    await page.getByLabel('Password', { exact: true }).fill('dev-password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await text(page, 'User dev created.');
    await page.getByLabel('Username', { exact: true }).fill('dev');
    await page.getByLabel('Password', { exact: true }).fill('dev-password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await text(page, /already taken/);
  });

  await step('no permission: another user sees the server refusal; wrong password is shown at the field', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await text(page, 'You are signed out.');
    await page.getByLabel('Username', { exact: true }).fill('dev');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.field-error').first().waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Password', { exact: true }).fill('dev-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await text(page, 'Signed in as');
    await page.goto(`${s.url}/repository/helm/nginx`);
    await text(page, 'No permission');
    await text(page, /you may not access repository "helm\/nginx"/);
    // Public helm/app: readable, but no settings and no tag actions.
    await page.goto(`${s.url}/repository/helm/app`);
    await page.getByRole('row', { name: /1\.0/ }).waitFor();
    assert.equal(await page.getByRole('tab', { name: 'Settings' }).count(), 0);
    await page.goto(`${s.url}/organization/helm`);
    await page.getByRole('heading', { name: /helm/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete organization' }).count(), 0);
    await page.goto(`${s.url}/admin`);
    await text(page, 'Only administrators can see the registry health.');
    await shot('no-permission');
  });

  await step('session expired: the next action sends the user to sign in with a notice', async () => {
    await page.goto(`${s.url}/organizations`);
    await page.getByLabel('Organization name').fill('late');
    await s.berth.ctx.db.deleteFrom('session').execute();
    await page.getByRole('button', { name: 'Create organization' }).click();
    await text(page, 'Your session has expired. Sign in again to continue.');
    assert.equal((await api(s, 'GET', '/organization/late')).status, 404);
    await shot('session-expired');
  });

  await step('delete an organization as its admin; phone-width navigation', async () => {
    await page.getByLabel('Username', { exact: true }).fill(ADMIN.user);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await text(page, 'Signed in as');
    assert.equal((await api(s, 'POST', '/organization/', [ADMIN.user, ADMIN.pass], { name: 'scratch' })).status, 201);
    await page.goto(`${s.url}/organization/scratch`);
    await page.getByRole('button', { name: 'Delete organization' }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
    assert.equal((await api(s, 'GET', '/organization/scratch')).status, 404);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Repositories' }).click();
    await page.getByRole('link', { name: 'helm/app' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways at phone width by ${overflow}px`);
    await page.screenshot({ path: path.join(shots, 'repositories-phone.png'), fullPage: true });
  });
});
