// The web UI in Debian's Chromium (playwright-core, no downloaded browser) against a real Berth with accounts
// and the in-process scanner (advisory data imported from local fixture files): first-run admin,
// organization `helm` with a robot, a chart, an image and a Debian image pushed by skopeo with the robot's
// token, tags with the server's tag history / chart metadata / manifest / the real security report, registry
// health, the error paths (duplicate name, no permission, session expired), and axe-core accessibility checks
// at desktop and phone width. Screenshots go to artifacts/ui/ (BERTH_UI_ARTIFACTS overrides).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type TestServer } from './helpers/server.ts';
import { makeOciLayout } from './helpers/oci-image.ts';
import { api, host, registryToken } from './helpers/accounts.ts';
import { buildImage, writeOciLayout } from './helpers/images.ts';
import { getUpdater, importUpdater } from '../src/scanner/updaters/index.ts';
import { buildWebIfStale, launchChromium, noChromium, seriousAxeViolations } from './helpers/ui.ts';

const haveSkopeo = spawnSync('skopeo', ['--version']).status === 0;
const skip = noChromium ? noChromium : !haveSkopeo ? 'SKIPPED: skopeo is missing' : false;
if (skip) console.log(`ui.test.ts ${skip}`);

const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN = { user: 'admin', pass: 'admin-password-1' };
/** Screenshots are build artifacts: a stable directory (its old PNGs are replaced), printed at the start. */
const shots = path.resolve(process.env.BERTH_UI_ARTIFACTS ?? path.join(ROOT, 'artifacts', 'ui'));
const SIZES = [
  [1280, 900, 'desktop'],
  [390, 844, 'phone'],
] as const;
let s: TestServer;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
/** Contexts for axe-core only: they bypass the CSP so that addScriptTag can inject axe (the app's own pages keep it). */
let a11yAnon: Page;
let a11yUser: Page;
const a11yProblems: string[] = [];

function run(bin: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

/** A Helm chart as Helm 3.8+ pushes it: chart config JSON (Chart.yaml as JSON) and the .tgz layer, in an OCI layout. */
function makeChartLayout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-chart-'));
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const meta = {
    apiVersion: 'v2',
    name: 'nginx',
    version: '1.2.3',
    appVersion: '1.25.0',
    description: 'A web server for the UI test',
    type: 'application',
    maintainers: [{ name: 'Ada Lovelace', email: 'ada@example.com' }],
    dependencies: [{ name: 'common', version: '2.x.x', repository: 'oci://registry.example.com/charts' }],
  };
  const src = path.join(dir, 'src', 'nginx');
  mkdirSync(path.join(src, 'templates'), { recursive: true });
  writeFileSync(
    path.join(src, 'Chart.yaml'),
    Object.entries(meta)
      .filter(([, v]) => typeof v === 'string')
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n') + '\n',
  );
  writeFileSync(path.join(src, 'values.yaml'), 'replicaCount: 1\n');
  execFileSync('tar', ['-czf', path.join(dir, 'chart.tgz'), '-C', path.join(dir, 'src'), 'nginx']);
  const put = (b: Buffer) => {
    const d = createHash('sha256').update(b).digest('hex');
    writeFileSync(path.join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const layer = put(readFileSync(path.join(dir, 'chart.tgz')));
  const config = put(Buffer.from(JSON.stringify(meta)));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...layer }],
      annotations: { 'org.opencontainers.image.title': 'nginx', 'org.opencontainers.image.version': '1.2.3' },
    }),
  );
  const m = put(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': '1.2.3' } },
      ],
    }),
  );
  return dir;
}

/**
 * A Debian 12 image whose packages match the debian-tracker fixture (test/fixtures/scanner-data): curl 7.88.1-10+deb12u3
 * (CVE-2023-38545 High, fixed in +deb12u4; CVE-2024-9681 Low, open), libc6 from glibc 2.36-9+deb12u1 (CVE-2023-4911 High,
 * fixed in +deb12u3), coreutils 9.1-1 (CVE-2016-2781 Negligible, open), and bind9-host 1:9.18.24-1 (already fixed: no finding).
 */
async function makeDebianLayout(): Promise<string> {
  const pkg = (name: string, version: string, source?: string) =>
    `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n${source ? `Source: ${source}\n` : ''}Version: ${version}\nDescription: ${name}\n`;
  const status = [
    pkg('curl', '7.88.1-10+deb12u3'),
    pkg('libc6', '2.36-9+deb12u1', 'glibc'),
    pkg('coreutils', '9.1-1'),
    pkg('bind9-host', '1:9.18.24-1', 'bind9 (1:9.18.24-1)'),
  ].join('\n');
  const osRelease =
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
  const image = await buildImage({ format: 'oci', layers: [{ 'etc/os-release': osRelease, 'var/lib/dpkg/status': status }] });
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-debian-'));
  writeOciLayout(dir, { 12: image });
  return dir;
}

type SecurityState = {
  status: string;
  data: {
    Layer: { Features: { Name: string; Version: string; Vulnerabilities: { Name: string; Severity: string; FixedBy: string }[] }[] };
  } | null;
};
/** Waits until the in-process scanner has looked at a manifest (the endpoint says something other than queued). */
async function scanned(repo: string, digest: string): Promise<SecurityState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await api(s, 'GET', `/repository/${repo}/manifest/${digest}/security?vulnerabilities=true`, [ADMIN.user, ADMIN.pass]);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    if (r.json.status !== 'queued') return r.json;
    if (Date.now() > deadline) throw new Error(`${repo}@${digest} still queued after 30 s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/**
 * axe-core on a page at desktop and phone width: no serious or critical violation. `ready` waits for the
 * content (and may open a tab). Problems are collected and reported together by the accessibility step.
 */
async function axe(p: Page, name: string, url: string, ready: (p: Page) => Promise<void>) {
  for (const [w, h, label] of SIZES) {
    await p.setViewportSize({ width: w, height: h });
    await p.goto(url);
    await ready(p);
    for (const v of await seriousAxeViolations(p, 5)) {
      a11yProblems.push(`${name} (${label}): ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
    }
  }
}

const text = async (p: Page, t: string | RegExp) => {
  try {
    await p.getByText(t).first().waitFor();
  } catch (e) {
    // Show what the page did say, and keep a screenshot of it.
    await p.screenshot({ path: path.join(shots, `failed-${Date.now()}.png`) }).catch(() => undefined);
    const body = await p
      .locator('body')
      .innerText()
      .catch(() => '?');
    throw new Error(`${(e as Error).message.split('\n')[0]}\n--- page text at ${p.url()} ---\n${body.slice(0, 1500)}`);
  }
};
const shot = async (name: string) => {
  for (const [w, h, label] of SIZES) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: path.join(shots, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
};
/**
 * The element is entirely on screen at the current viewport width: inside the window, inside every
 * scrolling ancestor's visible box (a table that scrolls sideways hides its last column), and it is
 * what a click at its centre reaches.
 */
async function assertOnScreen(p: Page, el: ReturnType<Page['locator']>, what: string) {
  await el.waitFor({ state: 'attached' });
  const r = await el.evaluate((node) => {
    // Scroll the window vertically only: scrolling a table sideways would hide what is being checked.
    const first = node.getBoundingClientRect();
    if (first.top < 0 || first.bottom > window.innerHeight) window.scrollBy(0, first.top - window.innerHeight / 2);
    const box = node.getBoundingClientRect();
    const clippedBy: string[] = [];
    for (let a = node.parentElement; a; a = a.parentElement) {
      const st = getComputedStyle(a);
      if (st.overflowX === 'visible' && st.overflowY === 'visible') continue;
      const c = a.getBoundingClientRect();
      if (box.left < c.left - 0.5 || box.right > c.right + 0.5 || box.top < c.top - 0.5 || box.bottom > c.bottom + 0.5) {
        clippedBy.push(`${a.tagName.toLowerCase()}.${a.className} [${Math.round(c.left)}..${Math.round(c.right)}]`);
      }
    }
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return {
      left: box.left,
      right: box.right,
      top: box.top,
      bottom: box.bottom,
      width: window.innerWidth,
      height: window.innerHeight,
      clippedBy,
      hit: !!hit && (hit === node || node.contains(hit)),
      cells: [...(node.closest('tr')?.children ?? [])]
        .map((c) => `${c.getAttribute('data-label') ?? c.className}:${Math.round(c.getBoundingClientRect().width)}`)
        .join(' '),
    };
  });
  const where = `${what} at ${r.width} px: box [${Math.round(r.left)}..${Math.round(r.right)}] x [${Math.round(r.top)}..${Math.round(r.bottom)}]`;
  assert.ok(
    r.left >= 0 && r.right <= r.width && r.top >= 0 && r.bottom <= r.height,
    `${where} is not inside the ${r.width}x${r.height} window`,
  );
  assert.deepEqual(r.clippedBy, [], `${where} is cut off by a scrolling container (row cells ${r.cells})`);
  assert.ok(r.hit, `${where}: a click at its centre does not reach it`);
}

/** A row of the tags table (the tag history table has rows of the same names). */
const tagRow = (p: Page, name: RegExp) => p.getByRole('table', { name: /^Tags of / }).getByRole('row', { name });

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  mkdirSync(shots, { recursive: true });
  for (const f of readdirSync(shots)) if (f.endsWith('.png')) rmSync(path.join(shots, f));
  s = await startServer('sqlite', {}, { auth: true });
  // Real advisory data from a local file in the upstream format, through the real updater.
  await importUpdater(
    s.berth.scanner!.service.advisories,
    getUpdater('debian-tracker'),
    path.join(ROOT, 'test/fixtures/scanner-data/debian-tracker.json'),
  );
  browser = await launchChromium();
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => console.log('page error:', e.message));
  a11yAnon = await (await browser.newContext({ bypassCSP: true })).newPage();
  a11yUser = await (await browser.newContext({ bypassCSP: true })).newPage();
  for (const p of [a11yAnon, a11yUser]) p.setDefaultTimeout(10_000);
  console.log(`ui.test.ts screenshots: ${shots}`);
});
after(async () => {
  await browser?.close();
  await s?.stop();
});

test('the UI end to end: first-run admin, organization, robot, pushed chart and image, security, errors', {
  skip,
  timeout: 120_000,
}, async (t) => {
  let robotToken = '';
  let imageDigest = '';
  let debianDigest = '';
  // Each step needs the ones before it: after a failure the rest are skipped, not timed out one by one.
  let broken = '';
  const step = (name: string, fn: () => Promise<void>) =>
    t.test(name, { skip: broken ? `after the failure of "${broken}"` : false }, async () => {
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
    await axe(a11yAnon, 'first run', s.url, (p) => text(p, 'Welcome to Berth'));
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
    // The accessibility pages use the same session (their context only bypasses the CSP to inject axe).
    await a11yUser.context().addCookies(await ctx.cookies());
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
    assert.match(
      (await page.getByLabel('podman login command', { exact: true }).textContent())!,
      new RegExp(`podman login ${host(s)} -u 'helm\\+ci'`),
    );
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
    const chart = await run('skopeo', [
      'copy',
      '--dest-creds',
      creds,
      '--dest-tls-verify=false',
      `oci:${makeChartLayout()}:1.2.3`,
      `docker://${host(s)}/helm/nginx:1.2.3`,
    ]);
    assert.equal(chart.status, 0, chart.out);
    const image = await run('skopeo', [
      'copy',
      '--dest-creds',
      creds,
      '--dest-tls-verify=false',
      `oci:${makeOciLayout('ui')}:latest`,
      `docker://${host(s)}/helm/app:1.0`,
    ]);
    assert.equal(image.status, 0, image.out);
    const debian = await run('skopeo', [
      'copy',
      '--dest-creds',
      creds,
      '--dest-tls-verify=false',
      `oci:${await makeDebianLayout()}:12`,
      `docker://${host(s)}/helm/debian:12`,
    ]);
    assert.equal(debian.status, 0, debian.out);
    debianDigest = (await api(s, 'GET', '/repository/helm/debian/tag/?specificTag=12', [ADMIN.user, ADMIN.pass])).json.tags[0]
      .manifest_digest;

    await page.goto(`${s.url}/repository/helm/nginx`);
    await tagRow(page, /1\.2\.3/).waitFor();
    await text(page, 'Helm chart');
    await text(page, 'nginx 1.2.3 (app 1.25.0)');
    await text(page, `helm pull oci://${host(s)}/helm/nginx --version 1.2.3`);
    // The row's actions are whole on screen at desktop and phone width (the Delete button was cut
    // off at 1280 px behind the long helm pull command).
    for (const [w, h] of [
      [1280, 900],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      const chartRow = tagRow(page, /1\.2\.3/);
      await assertOnScreen(page, chartRow.getByRole('button', { name: 'Delete' }), 'the Delete button of chart tag 1.2.3');
      await assertOnScreen(page, chartRow.getByRole('button', { name: /^Move/ }), 'the Move button of chart tag 1.2.3');
      // Asking for confirmation widens the cell: its buttons must stay on screen too.
      await chartRow.getByRole('button', { name: 'Delete' }).click();
      const ask = chartRow.getByRole('group', { name: 'Delete tag 1.2.3?' });
      await assertOnScreen(page, ask.getByRole('button', { name: 'Yes, delete' }), 'the confirming "Yes, delete" of chart tag 1.2.3');
      await assertOnScreen(page, ask.getByRole('button', { name: 'Cancel' }), 'the Cancel of chart tag 1.2.3');
      await ask.getByRole('button', { name: 'Cancel' }).click();
      await ask.waitFor({ state: 'detached' });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('tab', { name: 'Helm charts' }).click();
    const card = page.getByRole('article', { name: /Chart nginx 1\.2\.3/ });
    await card.waitFor();
    const body = (await card.textContent())!;
    for (const want of [
      '1.25.0',
      'A web server for the UI test',
      'Ada Lovelace',
      'ada@example.com',
      'common',
      '2.x.x',
      `berth chart pull oci://${host(s)}/helm/nginx --version 1.2.3`,
    ]) {
      assert.ok(body.includes(want), `chart card lacks ${want}: ${body}`);
    }
    await shot('chart');

    await page.goto(`${s.url}/repository/helm/app`);
    const row = tagRow(page, /1\.0/);
    await row.waitFor();
    await text(page, 'linux/amd64');
    await text(page, `podman pull ${host(s)}/helm/app:1.0`);
    const rowText = (await row.textContent())!;
    assert.match(rowText, /Image/);
    assert.match(rowText, /\d+(\.\d)? (B|KiB)/);
    await shot('tags');
    // A cosign-style signature tag (sha256-<64 hex>.sig: no place to break the line) in a repository
    // whose name is long too: the widest row a registry commonly shows.
    const sigTag = `sha256-${'9de160b90ec4'.repeat(5)}abcd.sig`;
    const signed = await run('skopeo', [
      'copy',
      '--src-creds',
      creds,
      '--src-tls-verify=false',
      '--dest-creds',
      creds,
      '--dest-tls-verify=false',
      `docker://${host(s)}/helm/app:1.0`,
      `docker://${host(s)}/helm/application-with-signatures:${sigTag}`,
    ]);
    assert.equal(signed.status, 0, signed.out);
    await page.goto(`${s.url}/repository/helm/application-with-signatures`);
    // (no ^: at phone width the cells' data-label captions are part of the row's name)
    const sigRow = tagRow(page, /sha256-9de160b90ec4/);
    await sigRow.waitFor();
    for (const [w, h] of [
      [1280, 900],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      await assertOnScreen(page, sigRow.getByRole('button', { name: 'Delete' }), 'the Delete button of a signature tag');
      await assertOnScreen(page, sigRow.getByRole('button', { name: /^Move/ }), 'the Move button of a signature tag');
      await sigRow.getByRole('button', { name: 'Delete' }).click();
      const ask = sigRow.getByRole('group', { name: `Delete tag ${sigTag}?` });
      await assertOnScreen(page, ask.getByRole('button', { name: 'Yes, delete' }), 'the confirming "Yes, delete" of a signature tag');
      await ask.getByRole('button', { name: 'Cancel' }).click();
      await ask.waitFor({ state: 'detached' });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot('tags-long');
    // Leave the counts the later steps check as they were.
    assert.equal((await api(s, 'DELETE', '/repository/helm/application-with-signatures', [ADMIN.user, ADMIN.pass])).status, 204);
    await page.goto(`${s.url}/repository/helm/app`);
    await row.waitFor();
    // The same for an image row.
    for (const [w, h] of [
      [1280, 900],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width: w, height: h });
      await assertOnScreen(page, row.getByRole('button', { name: 'Delete' }), 'the Delete button of tag 1.0');
      await assertOnScreen(page, row.getByRole('button', { name: /^Move/ }), 'the Move button of tag 1.0');
      await row.getByRole('button', { name: 'Delete' }).click();
      const ask = row.getByRole('group', { name: 'Delete tag 1.0?' });
      await assertOnScreen(page, ask.getByRole('button', { name: 'Yes, delete' }), 'the confirming "Yes, delete" of tag 1.0');
      await assertOnScreen(page, ask.getByRole('button', { name: 'Cancel' }), 'the Cancel of tag 1.0');
      await ask.getByRole('button', { name: 'Cancel' }).click();
      await ask.waitFor({ state: 'detached' });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
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

  await step(
    'tags: move (add), filter on the server, delete; restore from the server history after a reload and in another browser',
    async () => {
      await page.getByRole('button', { name: 'Move or copy tag 1.0' }).click();
      await page.getByLabel('Tag', { exact: true }).fill('stable');
      await page.getByRole('button', { name: 'Save tag' }).click();
      await text(page, /Tag stable now points at/);
      await tagRow(page, /stable/).waitFor();
      // The filter is the server's (filter_tag_name=like:…), not a client-side one.
      const filtered = page.waitForRequest(
        (r) => r.url().includes('/tag/?') && new URL(r.url()).searchParams.get('filter_tag_name') === 'like:stab',
      );
      await page.getByLabel('Filter tags').fill('stab');
      await filtered;
      // The unfiltered list also shows "stable": wait until the server's filtered answer has replaced it.
      await tagRow(page, /^1\.0/).waitFor({ state: 'detached' });
      await tagRow(page, /stable/).waitFor();
      assert.equal(await tagRow(page, /^1\.0/).count(), 0);
      await page.getByLabel('Filter tags').fill('zzz');
      await text(page, 'No tag matches "zzz".');
      await page.getByLabel('Filter tags').fill('');
      await tagRow(page, /stable/)
        .getByRole('button', { name: 'Delete' })
        .click();
      await page.getByRole('button', { name: 'Yes, delete' }).click();
      await text(page, /Tag stable deleted/);
      // The history is the server's: it is there after a reload, and in another browser with its own sign-in.
      await page.reload();
      const restore = /^Restore tag stable to /;
      await page.getByRole('button', { name: restore }).waitFor();
      assert.equal(await tagRow(page, /stable/).count(), 0);
      await shot('tag-history');
      const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const p2 = await other.newPage();
        await p2.goto(`${s.url}/repository/helm/app`);
        await p2.getByLabel('Username', { exact: true }).fill(ADMIN.user);
        await p2.getByLabel('Password', { exact: true }).fill(ADMIN.pass);
        await p2.getByRole('button', { name: 'Sign in' }).click();
        await p2.getByRole('button', { name: restore }).click();
        await text(p2, /Tag stable restored to /);
        await tagRow(p2, /stable/).waitFor();
      } finally {
        await other.close();
      }
      await page.reload();
      await tagRow(page, /stable/).waitFor();
      const h = await api(s, 'GET', '/repository/helm/app/tag/?onlyActiveTags=false&specificTag=stable', [ADMIN.user, ADMIN.pass]);
      assert.deepEqual(
        h.json.tags.map((t: { end_ts?: number }) => t.end_ts === undefined),
        [true, false],
        'restored (open) after the deleted lifetime',
      );
    },
  );

  await step('manifest and security: the scanner\'s real report (counts, fixed-in versions, filters) and real "unsupported"', async () => {
    // helm/app:1.0 holds a text file only: the in-process scanner really finds nothing it can index.
    assert.equal((await scanned('helm/app', imageDigest)).status, 'unsupported');
    await page.goto(`${s.url}/repository/helm/app/manifest/${imageDigest}`);
    await text(page, 'linux/amd64');
    await text(page, /Unsupported/);

    // helm/debian:12 was indexed on push and matched against the imported debian-tracker data.
    const report = await scanned('helm/debian', debianDigest);
    assert.equal(report.status, 'scanned', JSON.stringify(report));
    const found = report
      .data!.Layer.Features.flatMap((f) => f.Vulnerabilities.map((v) => `${v.Name} ${f.Name} ${f.Version} ${v.Severity} ${v.FixedBy}`))
      .sort();
    assert.deepEqual(
      found.map((x) => x.split(' ')[0]),
      ['CVE-2016-2781', 'CVE-2023-38545', 'CVE-2023-4911', 'CVE-2024-9681'],
      found.join('\n'),
    );
    await page.goto(`${s.url}/repository/helm/debian/manifest/${debianDigest}`);
    await text(page, 'Scanned — 4 vulnerabilities in 3 packages.');
    const counts = (await page.getByRole('list', { name: 'Vulnerabilities by severity' }).textContent())!;
    assert.match(counts, /0 Critical.*2 High.*0 Medium.*1 Low.*1 Negligible.*0 Unknown/);
    const curl = page.getByRole('row', { name: /CVE-2023-38545/ });
    assert.match((await curl.textContent())!, /High.*curl.*7\.88\.1-10\+deb12u3.*7\.88\.1-10\+deb12u4/);
    assert.match((await page.getByRole('row', { name: /CVE-2023-4911/ }).textContent())!, /High.*2\.36-9\+deb12u1.*2\.36-9\+deb12u3/);
    assert.match((await page.getByRole('row', { name: /CVE-2024-9681/ }).textContent())!, /Low.*curl.*no fix yet/);
    assert.match((await page.getByRole('link', { name: 'CVE-2023-38545' }).getAttribute('href')) ?? '', /CVE-2023-38545/);
    // Not affected (fixed before the installed version, or never affected): not shown.
    for (const absent of ['CVE-2023-3341', 'CVE-2020-8169']) assert.equal(await page.getByText(absent).count(), 0, absent);
    await shot('security');
    await page.getByLabel('Fixable only').check();
    await page.getByRole('row', { name: /CVE-2023-38545/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /CVE-2024-9681/ }).count(), 0);
    assert.equal(await page.getByRole('row', { name: /CVE-2016-2781/ }).count(), 0);
    await page.getByLabel('Fixable only').uncheck();
    await page.getByLabel('Severity', { exact: true }).selectOption('Negligible');
    await page.getByRole('row', { name: /CVE-2016-2781/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /CVE-2023-38545/ }).count(), 0);
    await page.getByLabel('Severity', { exact: true }).selectOption('Critical');
    await text(page, 'No vulnerability matches the filter.');

    // Routed in the browser, because they cannot be produced for real in a moment: "queued" lasts only until the
    // in-process worker claims the job, and "failed" needs SCANNER_MAX_ATTEMPTS failed attempts with backoff.
    for (const [status, want] of [
      ['queued', /Queued/],
      ['failed', /Failed — the scan did not finish: layer fetch timed out/],
    ] as const) {
      await page.unroute('**/api/v1/repository/helm/debian/manifest/*/security*');
      await page.route('**/api/v1/repository/helm/debian/manifest/*/security*', (route) =>
        route.fulfill({ json: { status, data: null, detail: 'layer fetch timed out' } }),
      );
      await page.reload();
      await text(page, want);
    }
    await page.unroute('**/api/v1/repository/helm/debian/manifest/*/security*');
  });

  await step('registry health for admins; creating a user', async () => {
    await page.getByRole('link', { name: 'Registry health' }).click();
    const stats = page.getByRole('list', { name: 'Registry counts' });
    await stats.waitFor();
    const txt = (await stats.textContent())!;
    assert.match(txt, /1Organizations/);
    assert.match(txt, /3Repositories/);
    assert.match(txt, /1Users/);
    assert.match(txt, /1Robots/);
    assert.match(txt, /[1-9][0-9.]* (B|KiB)Storage used \(6 blobs\)/); // config + layer of the chart and of the two images
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

  await step('accessibility: axe-core finds no serious or critical violation on the main pages at desktop and phone width', async () => {
    const u = s.url;
    await axe(a11yAnon, 'sign in', u, (p) => p.getByRole('button', { name: 'Sign in' }).waitFor());
    await axe(a11yUser, 'organizations', `${u}/organizations`, (p) => p.getByRole('link', { name: 'helm' }).waitFor());
    await axe(a11yUser, 'organization: repositories', `${u}/organization/helm`, (p) =>
      p.getByRole('tab', { name: 'Repositories' }).waitFor(),
    );
    await axe(a11yUser, 'organization: robots', `${u}/organization/helm`, async (p) => {
      await p.getByRole('tab', { name: 'Robot accounts' }).click();
      await text(p, 'helm+ci');
    });
    await axe(a11yUser, 'organization: teams', `${u}/organization/helm`, async (p) => {
      await p.getByRole('tab', { name: 'Teams and members' }).click();
      await text(p, 'deployers');
    });
    await axe(a11yUser, 'repositories', u, (p) => p.getByRole('link', { name: 'helm/app' }).waitFor());
    await axe(a11yUser, 'tags and tag history', `${u}/repository/helm/app`, async (p) => {
      await tagRow(p, /stable/).waitFor();
      await p.getByRole('table', { name: /Tag history/ }).waitFor();
    });
    await axe(a11yUser, 'repository settings', `${u}/repository/helm/app`, async (p) => {
      await p.getByRole('tab', { name: 'Settings' }).click();
      await p.getByLabel('Role of helm+ci').waitFor();
    });
    await axe(a11yUser, 'chart', `${u}/repository/helm/nginx`, async (p) => {
      await p.getByRole('tab', { name: 'Helm charts' }).click();
      await p.getByRole('article', { name: /Chart nginx/ }).waitFor();
    });
    await axe(a11yUser, 'security', `${u}/repository/helm/debian/manifest/${debianDigest}`, (p) => text(p, 'Scanned — 4 vulnerabilities'));
    await axe(a11yUser, 'registry health', `${u}/admin`, (p) => p.getByRole('list', { name: 'Registry counts' }).waitFor());
    assert.deepEqual(a11yProblems, [], `axe-core:\n${a11yProblems.join('\n')}`);
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
    await tagRow(page, /1\.0/).waitFor();
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
