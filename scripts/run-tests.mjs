#!/usr/bin/env node
// Runs the whole test suite with Node's test runner (TypeScript through tsx).
//   npm test                 every test file
//   npm test -- test/x.test.ts   just those files
// BERTH_FIPS=1 runs everything in FIPS mode: node --enable-fips with OPENSSL_CONF naming an OpenSSL FIPS provider
// (BERTH_FIPS_OPENSSL_CONF, default /var/cache/berth-fips/openssl.cnf from scripts/fips-provider.sh), for the test
// processes and every server they spawn; test servers also run with FEATURE_FIPS on.
// PostgreSQL tests run when the server at BERTH_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test)
// answers; otherwise they are skipped and this script says so.
// Before any test: tsc --noEmit (BERTH_TEST_SKIP_TYPECHECK=1 skips it) and biome ci (BERTH_TEST_SKIP_LINT=1 skips it).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(import.meta.dirname, '..');
function find(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === 'helpers' ? [] : find(p);
    return n.endsWith('.test.ts') ? [p] : [];
  });
}

// The FIPS pass (BERTH_FIPS=1 with no files named) runs the FIPS set: every file that touches crypto, TLS, tokens
// or signatures, plus one end-to-end file per area (README, "FIPS mode"); BERTH_FIPS_ALL=1 runs everything instead.
const { FIPS_SET } = await import('./fips-set.mjs');
const named = process.argv.slice(2);
const fipsSubset = process.env.BERTH_FIPS === '1' && !named.length && process.env.BERTH_FIPS_ALL !== '1';
const files = named.length ? named : fipsSubset ? FIPS_SET.map((f) => path.join(root, f)) : find(path.join(root, 'test')).sort();
// Test files run side by side (each starts its own servers on random ports and its own databases);
// BERTH_TEST_CONCURRENCY=1 runs them one at a time.
const concurrency = Number(process.env.BERTH_TEST_CONCURRENCY ?? 3);
const uri = process.env.BERTH_TEST_PG ?? 'postgresql://postgres@127.0.0.1:5432/test';
let pgOk = process.env.BERTH_TEST_SKIP_PG !== '1';
if (pgOk) {
  const c = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 2000 });
  pgOk = await c.connect().then(
    () => true,
    () => false,
  );
  await c.end().catch(() => {});
}
if (!pgOk) {
  const { readFileSync } = await import('node:fs');
  const pgFiles = files.filter((f) => readFileSync(f, 'utf8').includes('testDialects(')).map((f) => path.relative(root, f));
  console.log(`NOTE: PostgreSQL is not reachable at ${uri}: the PostgreSQL variants of these suites are SKIPPED:`);
  for (const f of pgFiles) console.log(`      - ${f}`);
  console.log('      Start PostgreSQL (or set BERTH_TEST_PG=postgresql://user@host:port/db) and run npm test again to cover it.');
}
const fipsEnv = {};
if (process.env.BERTH_FIPS === '1') {
  const conf = process.env.BERTH_FIPS_OPENSSL_CONF ?? '/var/cache/berth-fips/openssl.cnf';
  Object.assign(fipsEnv, {
    OPENSSL_CONF: conf,
    BERTH_FIPS_OPENSSL_CONF: conf,
    FEATURE_FIPS: 'true',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-fips`.trim(),
  });
  const probe = spawnSync(process.execPath, ['-p', 'require("node:crypto").getFips()'], {
    env: { ...process.env, ...fipsEnv },
    encoding: 'utf8',
  });
  if (probe.stdout.trim() !== '1') {
    console.log(`BERTH_FIPS=1, but node does not run in FIPS mode with OPENSSL_CONF=${conf}:\n${probe.stderr.trim()}`);
    console.log('Build the provider first: scripts/fips-provider.sh (or set BERTH_FIPS_OPENSSL_CONF)');
    process.exit(1);
  }
  console.log(`FIPS mode: every test process runs with --enable-fips and OPENSSL_CONF=${conf} (crypto.getFips() = 1)`);
}
// The type checker is part of the suite: a type error fails the run before any test starts.
if (process.env.BERTH_TEST_SKIP_TYPECHECK !== '1') {
  const tscArgs = (p) => [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', p];
  let tsc = spawnSync(process.execPath, tscArgs(root), { cwd: root, stdio: 'inherit' });
  // The web UI (web/tsconfig.json: DOM libs) is type-checked too.
  if (tsc.status === 0) tsc = spawnSync(process.execPath, tscArgs(path.join(root, 'web')), { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.log('typecheck failed (tsc --noEmit): fix the errors above');
    process.exit(1);
  }
  console.log('typecheck: ok');
}
// The formatter and the linter (Biome, biome.json) are part of the suite too: an error fails the run (warnings do not).
if (process.env.BERTH_TEST_SKIP_LINT !== '1') {
  const biome = spawnSync(process.execPath, [path.join(root, 'node_modules/@biomejs/biome/bin/biome'), 'ci', '--diagnostic-level=error'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (biome.status !== 0) {
    console.log('lint/format failed (biome ci): fix the errors above, or run npx biome format --write');
    process.exit(1);
  }
  console.log('lint and format: ok');
}
// Servers the tests spawn run bin/berth.js, which runs the compiled server (dist/) when it is current: build it.
const { serverIsStale, buildServer } = await import('./build-server.mjs');
if (serverIsStale()) {
  console.log(`compiled the server into dist/ (${await buildServer()} files)`);
}
// The UI tests and the server's `/` need web/dist: build it when it is missing or older than web/.
const { webIsStale, buildWeb } = await import('./build-web.mjs');
if (webIsStale()) {
  console.log('building the web UI (web/dist is missing or stale)');
  await buildWeb();
}
// The spec reporter on the terminal; beside it, every skipped test with its reason (scripts/skip-reporter.mjs),
// listed at the end so that coverage that did not run is never silent.
const { mkdtempSync, readFileSync: readText, rmSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const skipDir = mkdtempSync(path.join(tmpdir(), 'berth-skips-'));
const skipFile = path.join(skipDir, 'skips.jsonl');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(root, 'scripts/skip-reporter.mjs')}`,
    `--test-reporter-destination=${skipFile}`,
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...fipsEnv, BERTH_TEST_SKIP_PG: pgOk ? '0' : '1' },
  },
);
let skipped = [];
try {
  skipped = readText(skipFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  // no file: the runner did not start
}
rmSync(skipDir, { recursive: true, force: true });
if (skipped.length === 0) {
  console.log('\nskipped: none');
} else {
  console.log(`\nskipped: ${skipped.length} test(s), and why:`);
  const byReason = new Map();
  for (const sk of skipped) {
    const key = sk.reason || '(no reason given)';
    if (!byReason.has(key)) byReason.set(key, []);
    byReason.get(key).push(`${sk.file ? `${path.relative(root, sk.file)}: ` : ''}${sk.name}${sk.kind === 'todo' ? ' (todo)' : ''}`);
  }
  for (const [reason, tests] of byReason) {
    console.log(`  - ${reason} (${tests.length}):`);
    for (const t of tests.slice(0, 8)) console.log(`      ${t}`);
    if (tests.length > 8) console.log(`      … and ${tests.length - 8} more`);
  }
}
process.exit(r.status ?? 1);
