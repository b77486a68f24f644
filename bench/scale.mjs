#!/usr/bin/env node
// Flat at scale (docs/PERFORMANCE.md): request latencies on a small registry and on a large one
// (bench/scale-gen.mjs: 100,000 repositories, 1,000,000 tags, 10,000,000 blobs by default), the same
// requests on both, p50/p99 of sequential requests and the large/small ratio of p50.
//
//   node bench/scale.mjs --dialect sqlite   [--large-sqlite FILE]     (a generated file; generated when absent)
//   node bench/scale.mjs --dialect postgres [--large-postgres URI]    (a generated database; generated into a
//                                                                      fresh one when absent)
//   options: --samples 200 --gc (also time one gc pass on each) --json FILE
//            --small "orgs,repos,tags,blobs" (default 10,100,1000,10000) --large "…" (for generation)
//
// Berth runs in this process (createBerth) with Database authentication, a BOOTSTRAP_ADMIN superuser and a
// user `reader` in team `readers` of one organization that may read one repository among all. Measured:
//   catalog first / deep        GET /v2/_catalog?n=100 (superuser), and ?n=100&last=<a name near the end>
//   tags first / deep           GET /v2/<big>/tags/list?n=100 of the big repository, and &last=<near the end>
//   manifest by tag             GET /v2/<big>/manifests/<random tag> (a different tag each time: no cache hit)
//   blob HEAD                   HEAD /v2/<big>/blobs/<random layer>
//   token issue (reader)        GET /v2/auth?scope=repository:<the one repository>:pull with Basic credentials
//   pull as reader              GET /v2/<the one repository>/manifests/<tag> with that token
//   catalog as reader           GET /v2/_catalog?n=100 with a registry:catalog:* token (filtered to 1 repository)
//   api org list (admin/reader) GET /api/v1/repository?namespace=<org>
//   gc pass                     collectGarbage() once (--gc)
// The machine's load average is printed with every figure.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { generate, layout, repoName, tagName, orgName, DEFAULTS } from './scale-gen.mjs';
import { flag, generatedPostgres, load, opt, SMALL, sayer, sizes } from './lib/scale-setup.mjs';

const { loadConfig } = await import('../src/config/load.ts');
const { createBerth } = await import('../src/server.ts');
const { collectGarbage } = await import('../src/services/gc.ts');
const { freePort } = await import('../test/helpers/server.ts');

const DIALECT = opt('dialect', 'sqlite');
const SAMPLES = Number(opt('samples', '200'));
const LARGE = sizes(opt('large'), DEFAULTS);
const ADMIN = ['admin', 'admin-password-1'];
const READER = ['reader', 'reader-password-1'];
const say = sayer('scale');
const basic = ([u, p]) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

async function prepare(size, label) {
  // A given database keeps its data directory next to it: Berth's secret key file there decrypts the
  // token signing key stored in the database, so a second run on the same database needs the same one.
  const keep =
    label === 'large'
      ? (opt('large-sqlite') ?? (opt('large-postgres') ? path.join(tmpdir(), 'berth-scale-large-pg') : undefined))
      : undefined;
  const dir = keep
    ? `${keep.replace(/[:/@]+/g, (m) => (keep.startsWith('/') ? m : '_'))}.berth-data`
    : mkdtempSync(path.join(tmpdir(), `berth-scale-${label}-`));
  mkdirSync(dir, { recursive: true });
  if (DIALECT === 'sqlite') {
    const given = label === 'large' ? opt('large-sqlite') : undefined;
    const file = given ?? path.join(dir, 'berth.db');
    if (!given || !existsSync(given)) await generate({ kind: 'sqlite', file }, size);
    return { dir, uri: `sqlite:${file}`, drop: async () => (keep ? undefined : rmSync(dir, { recursive: true, force: true })) };
  }
  const given = label === 'large' ? opt('large-postgres') : undefined;
  if (given) return { dir, uri: given, drop: async () => undefined };
  return generatedPostgres(size, dir);
}

async function start(db) {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const doc = {
    AUTHENTICATION_TYPE: 'Database',
    SERVER_HOSTNAME: listen,
    PBKDF2_ITERATIONS: 1000,
    FEATURE_SECURITY_SCANNER: false,
    BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
  };
  const file = path.join(db.dir, 'config.yaml');
  writeFileSync(file, stringifyYaml(doc));
  const config = loadConfig({ file, data: db.dir, listen, env: { DB_URI: db.uri } });
  const t = performance.now();
  const berth = await createBerth(config, {});
  const url = await berth.listen();
  say(`berth up on ${db.uri.replace(/\/\/.*@/, '//')} in ${((performance.now() - t) / 1000).toFixed(1)} s (migrations included)`);
  return { berth, url, host: listen };
}

async function api(s, method, p, creds, body) {
  const r = await fetch(`${s.url}/api/v1${p}`, {
    method,
    headers: { authorization: basic(creds), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text };
}

async function token(s, scopes, creds) {
  const q = new URLSearchParams({ service: s.host });
  for (const sc of scopes) q.append('scope', sc);
  const r = await fetch(`${s.url}/v2/auth?${q}`, { headers: { authorization: basic(creds) } });
  const j = await r.json();
  if (!j.token) throw new Error(`token for ${scopes}: ${r.status} ${JSON.stringify(j)}`);
  return j.token;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function timeIt(label, n, fn) {
  for (let i = 0; i < Math.min(5, n); i++) await fn(i); // warm-up
  const xs = [];
  const before = load();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i + 5);
    xs.push(performance.now() - t);
  }
  const r = { label, p50: pct(xs, 50), p99: pct(xs, 99), n, load: before };
  say(`${label}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (load ${before})`); // as it goes: a gc that runs out of memory loses nothing
  return r;
}

async function expectOk(r, what) {
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
}

async function measure(size, label) {
  const db = await prepare(size, label);
  const s = await start(db);
  try {
    const { big, per } = layout(size);
    const bigRepo = repoName(1, size.orgs);
    // The reader's one repository: repository `pick` (owned by organization (pick-1) % orgs), and one of its tags.
    const pick = Math.min(size.repos, Math.floor(size.repos / 2) + 1);
    const org = orgName((pick - 1) % size.orgs);
    const readerRepo = repoName(pick, size.orgs);
    const readerTag = tagName(big + 1 + (pick - 2));
    for (const [r, what] of [
      [await api(s, 'POST', '/user/', ADMIN, { username: READER[0], password: READER[1], email: 'reader@example.com' }), 'user'],
      [await api(s, 'PUT', `/organization/${org}/team/readers`, ADMIN, { role: 'member' }), 'team'],
      [await api(s, 'PUT', `/organization/${org}/team/readers/members/${READER[0]}`, ADMIN), 'member'],
      [await api(s, 'PUT', `/repository/${readerRepo}/permissions/team/readers`, ADMIN, { role: 'read' }), 'permission'],
    ]) {
      if (r.status >= 300 && r.status !== 409 && !/exists/i.test(r.text)) throw new Error(`setup ${what}: ${r.status} ${r.text}`);
    }
    const out = [];
    const adminCatalog = await token(s, ['registry:catalog:*'], ADMIN);
    const adminBig = await token(s, [`repository:${bigRepo}:pull`], ADMIN);
    const h = (t) => ({ authorization: `Bearer ${t}` });
    const deepRepo = repoName(size.repos - 50, size.orgs);
    const deepTag = tagName(big - 50);
    out.push(
      await timeIt('catalog first page', SAMPLES, async () =>
        expectOk(await fetch(`${s.url}/v2/_catalog?n=100`, { headers: h(adminCatalog) }), 'catalog'),
      ),
    );
    out.push(
      await timeIt('catalog deep page', SAMPLES, async () =>
        expectOk(
          await fetch(`${s.url}/v2/_catalog?n=100&last=${encodeURIComponent(deepRepo)}`, { headers: h(adminCatalog) }),
          'catalog deep',
        ),
      ),
    );
    out.push(
      await timeIt('tag list first page (big repo)', SAMPLES, async () =>
        expectOk(await fetch(`${s.url}/v2/${bigRepo}/tags/list?n=100`, { headers: h(adminBig) }), 'tags'),
      ),
    );
    out.push(
      await timeIt('tag list deep page (big repo)', SAMPLES, async () =>
        expectOk(await fetch(`${s.url}/v2/${bigRepo}/tags/list?n=100&last=${deepTag}`, { headers: h(adminBig) }), 'tags deep'),
      ),
    );
    // Different tags each time (a cache hit would measure nothing): spread over the big repository.
    const jOf = (i) => 1 + ((i * 7919) % big);
    out.push(
      await timeIt('manifest GET by tag', SAMPLES, async (i) =>
        expectOk(
          await fetch(`${s.url}/v2/${bigRepo}/manifests/${tagName(jOf(i))}`, {
            headers: { ...h(adminBig), accept: 'application/vnd.oci.image.manifest.v1+json' },
          }),
          'manifest',
        ),
      ),
    );
    out.push(
      await timeIt('blob HEAD', SAMPLES, async (i) => {
        const j = jOf(i);
        const d = `sha256:${(j * per + 1 + (i % (per - 1))).toString(16).padStart(64, '0')}`;
        const r = await fetch(`${s.url}/v2/${bigRepo}/blobs/${d}`, { method: 'HEAD', headers: h(adminBig) });
        if (r.status !== 200) throw new Error(`blob HEAD ${d}: ${r.status}`);
      }),
    );
    let readerToken = '';
    out.push(
      await timeIt('token issue (team member, 1 of N repos)', Math.min(SAMPLES, 100), async () => {
        readerToken = await token(s, [`repository:${readerRepo}:pull`], READER);
      }),
    );
    out.push(
      await timeIt('pull manifest as team member', SAMPLES, async () =>
        expectOk(
          await fetch(`${s.url}/v2/${readerRepo}/manifests/${readerTag}`, {
            headers: { ...h(readerToken), accept: 'application/vnd.oci.image.manifest.v1+json' },
          }),
          'reader pull',
        ),
      ),
    );
    const readerCatalog = await token(s, ['registry:catalog:*'], READER);
    out.push(
      await timeIt('catalog as team member (1 visible)', SAMPLES, async () => {
        const r = await fetch(`${s.url}/v2/_catalog?n=100`, { headers: h(readerCatalog) });
        const j = await r.json();
        if (j.repositories?.length !== 1) throw new Error(`reader catalog: ${JSON.stringify(j).slice(0, 200)}`);
      }),
    );
    out.push(
      await timeIt('api repository list of an org (superuser)', SAMPLES, async () => {
        const r = await fetch(`${s.url}/api/v1/repository?namespace=${org}`, { headers: { authorization: basic(ADMIN) } });
        const j = await r.json();
        if (!(j.repositories?.length > 0)) throw new Error(`org list: ${r.status}`);
      }),
    );
    out.push(
      await timeIt('api repository list of an org (team member)', SAMPLES, async () => {
        const r = await fetch(`${s.url}/api/v1/repository?namespace=${org}`, { headers: { authorization: basic(READER) } });
        const j = await r.json();
        if (j.repositories?.length !== 1) throw new Error(`reader org list: ${r.status}`);
      }),
    );
    if (flag('gc')) {
      const before = load();
      const t = performance.now();
      let peak = process.memoryUsage().rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
      const report = await collectGarbage(s.berth.ctx, {}).finally(() => clearInterval(sampler));
      say(`gc peak RSS of this process: ${(peak / 2 ** 20).toFixed(0)} MiB`);
      const ms = performance.now() - t;
      out.push({ label: 'gc pass', p50: ms, p99: ms, n: 1, load: before, report });
      say(`gc: ${(ms / 1000).toFixed(1)} s ${JSON.stringify(report)}`);
    }
    for (const r of out) say(`${label} ${r.label}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (load ${r.load})`);
    return out;
  } finally {
    await s.berth.close();
    await db.drop();
  }
}

const small = await measure(SMALL, 'small');
const large = await measure(LARGE, 'large');
const rows = small.map((r, i) => ({ label: r.label, small: r, large: large[i], ratio: large[i].p50 / r.p50 }));
console.log(`\n${DIALECT}: small ${JSON.stringify(SMALL)} vs large ${JSON.stringify(LARGE)}; ${SAMPLES} sequential requests each\n`);
console.log('| request | small p50 / p99 (ms) | large p50 / p99 (ms) | large/small p50 | load (large) |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.small.p50.toFixed(2)} / ${r.small.p99.toFixed(2)} | ${r.large.p50.toFixed(2)} / ${r.large.p99.toFixed(2)} | ${r.ratio.toFixed(2)}x | ${r.large.load} |`,
  );
}
if (opt('json')) writeFileSync(opt('json'), JSON.stringify({ dialect: DIALECT, small: SMALL, large: LARGE, rows }, null, 2));
process.exit(0);
