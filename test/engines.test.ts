// Berth runs on Node 20, 22 and 24 (issue 13, defect 9): package.json's `engines` says so honestly
// (it is inside every installed package's own `engines`, so `npm install` has no EBADENGINE
// warning), the cookie library fastify's light-my-request uses is one that Node 20 supports and
// that light-my-request works with, and no code path uses an API that Node 22 or 24 removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import semver from 'semver';
import Fastify from 'fastify';

const ROOT = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
/** The first release of every Node line Berth supports, and the Node running this test. */
const LINES = ['20.19.0', '22.12.0', '24.0.0', process.versions.node];

test("package.json's engines: Node 20, 22 and 24, and inside every installed package's own engines", () => {
  const ours: string = pkg.engines.node;
  for (const v of LINES) assert.ok(semver.satisfies(v, ours), `engines "${ours}" excludes Node ${v}`);
  const bad: string[] = [];
  for (const [where, p] of Object.entries(
    lock.packages as Record<string, { engines?: { node?: string } | string[]; optional?: boolean; os?: string[] }>,
  )) {
    if (!where || Array.isArray(p.engines) || !p.engines?.node) continue;
    if (p.optional && p.os && !p.os.includes(process.platform)) continue; // another platform's binary
    // npm warns EBADENGINE when the running Node is outside a package's range: no supported Node may be.
    for (const v of LINES)
      if (!semver.satisfies(v, p.engines.node))
        bad.push(`${where.replace(/^.*node_modules\//, '')} wants node ${p.engines.node}: Node ${v} would warn EBADENGINE`);
    if (!semver.subset(ours, p.engines.node))
      bad.push(`${where.replace(/^.*node_modules\//, '')} (${p.engines.node}) is narrower than our engines (${ours})`);
  }
  assert.deepEqual([...new Set(bad)], []);
  assert.equal(lock.packages[''].engines.node, ours, 'package-lock.json records the same engines');
});

test("light-my-request (fastify's inject) works with the cookie version pinned for Node 20", async () => {
  // The copy light-my-request resolves (npm may nest it under light-my-request).
  const lmr = path.dirname(createRequire(import.meta.url).resolve('light-my-request'));
  const cookieJson = JSON.parse(readFileSync(createRequire(path.join(lmr, 'index.js')).resolve('cookie/package.json'), 'utf8'));
  const cookieVersion = cookieJson.version as string;
  const cookieEngines = cookieJson.engines?.node ?? '*';
  assert.ok(semver.satisfies('20.19.0', cookieEngines), `cookie ${cookieVersion} wants node ${cookieEngines}`);
  assert.equal(pkg.overrides?.['light-my-request']?.cookie, `^${cookieVersion}`);
  const app = Fastify();
  app.get('/', async (req) => ({ cookie: req.headers.cookie ?? null }));
  try {
    const r = await app.inject({ method: 'GET', url: '/', cookies: { session: 'a b;c', other: 'x' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { cookie: 'session=a%20b%3Bc; other=x' });
    const bad = await app.inject({ method: 'GET', url: '/', cookies: { 'bad name': 'x' } }).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    assert.match(bad, /argument name is invalid/);
  } finally {
    await app.close();
  }
});

test('no code path uses what Node 22 or 24 removed or deprecated', () => {
  const patterns: Array<[RegExp, string]> = [
    [/\bimport\b[^;\n]*\bassert\s*\{\s*type\s*:/, 'import assertions (`assert { type }`: removed in Node 22, use `with`)'],
    [/(?:from|require\()\s*['"](?:node:)?punycode['"]/, 'the punycode module (deprecated, warns in Node 22+)'],
    [/\burl\.parse\(|\bparse\s*\}\s*from\s*['"](?:node:)?url['"]/, 'url.parse() (deprecated: use new URL())'],
    [/\bnew Buffer\(/, 'new Buffer() (deprecated)'],
    [/\bfs\.exists\(|\bfs\.promises\.exists\b/, 'fs.exists() (deprecated)'],
    [
      /\butil\.(?:isArray|isBoolean|isBuffer|isDate|isError|isFunction|isNull|isNumber|isObject|isPrimitive|isRegExp|isString|isSymbol|isUndefined|log|_extend)\(/,
      'util.is*/util.log/util._extend (removed in Node 23)',
    ],
    [/\bprocess\.binding\(/, 'process.binding() (deprecated)'],
    [/\bcrypto\.(?:createCipher|createDecipher)\(/, 'crypto.createCipher() (removed in Node 22)'],
    [/\.rmdir(?:Sync)?\([^)]*recursive/, 'fs.rmdir({ recursive }) (removed in Node 24? deprecated: use fs.rm)'],
    [/\bdirent\.path\b/, 'Dirent.path (removed in Node 24: use parentPath)'],
    [/\btls\.createSecurePair\(/, 'tls.createSecurePair() (removed in Node 24)'],
    [/\bSlowBuffer\b/, 'SlowBuffer (removed in Node 24)'],
    [/--experimental-loader|--loader\b/, '--loader (use --import)'],
    [/process\.version(?:s\.node)?\b[^;\n]*(?:startsWith|split|match)\(/, 'a branch on the Node version'],
  ];
  const files: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (n === 'node_modules' || n === 'dist' || n.startsWith('.')) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(?:ts|tsx|mjs|js|cjs)$/.test(n) && p !== path.join(ROOT, 'test/engines.test.ts')) files.push(p);
    }
  };
  for (const d of ['src', 'scripts', 'bin', 'bench', 'test', 'web/src']) walk(path.join(ROOT, d));
  const found: string[] = [];
  for (const f of files) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const [re, why] of patterns) if (re.test(line)) found.push(`${path.relative(ROOT, f)}:${i + 1}: ${why}`);
      });
  }
  assert.ok(files.length > 100, `${files.length} files read`);
  assert.deepEqual(found, []);
});
