// bin/berth.js runs dist/bundle/ (scripts/build-server.mjs): the server and the libraries it loads at start, bundled
// and minified, for about 10 MiB less resident memory (docs/PERFORMANCE.md, "Memory, fifth round"). These tests check
// that a started server really runs the bundle (fastify, commander and prom-client come from it, not from
// node_modules; prom-client's collectors register in the bundled registry, GET /metrics), that what stays outside it
// still loads from node_modules (the native SQLite binding) or on first use (a chunk split off at a dynamic import,
// `config validate --check-connections`), and that dist/ counts as stale when the installed libraries change (the
// bundle holds copies of them).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUNDLED, serverIsStale } from '../scripts/build-server.mjs';
import { BERTH_BIN, spawnServer } from './helpers/server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'berth-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a started server runs dist/bundle/: the bundled libraries do not load from node_modules, the others do on first use', async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist/bundle/main.js')), 'the build wrote dist/bundle/main.js');
  assert.ok(!serverIsStale(), 'dist/ is current (the test runner builds it), so bin/berth.js runs the bundle');
  // Written when the server exits: every CommonJS file it loaded.
  const loadedFile = path.join(dir, 'loaded.json');
  const preload = path.join(dir, 'record-loaded.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loadedFile)}, JSON.stringify(Object.keys(require.cache))));\n`,
  );
  const s = await spawnServer(['--data', path.join(dir, 'data')], { AUTHENTICATION_TYPE: 'None' }, 60_000, ['--require', preload]);
  let metrics: string;
  try {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 200, s.output());
    metrics = await r.text();
  } finally {
    s.proc.kill('SIGTERM');
    await s.exited;
  }
  // prom-client's collectors registered in the same registry as Berth's own series.
  assert.match(metrics, /^nodejs_heap_size_total_bytes \d+/m);
  assert.match(metrics, /^process_resident_memory_bytes \d+/m);
  assert.match(metrics, /^quay_/m);
  const loaded: string[] = JSON.parse(readFileSync(loadedFile, 'utf8'));
  const from = (pkg: string) => loaded.filter((f) => f.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`));
  for (const pkg of ['fastify', 'commander', 'prom-client', 'semver']) {
    assert.ok(BUNDLED.includes(pkg), pkg);
    assert.deepEqual(from(pkg), [], `${pkg} runs from the bundle`);
  }
  assert.ok(from('better-sqlite3').length > 0, 'the native SQLite binding stays in node_modules');
  assert.ok(
    loaded.some((f) => f.startsWith(path.join(ROOT, 'node_modules'))),
    'the recorder saw the process load files (it would pass vacuously otherwise)',
  );
});

test('a chunk split off at a dynamic import loads on first use (config validate --check-connections)', async () => {
  const cfg = path.join(dir, 'check.yaml');
  writeFileSync(
    cfg,
    `AUTHENTICATION_TYPE: None\nDISTRIBUTED_STORAGE_CONFIG:\n  local: [LocalStorage, { storage_path: ${path.join(dir, 'blobs')} }]\nDB_URI: sqlite:///${path.join(dir, 'check.db')}\n`,
  );
  const chunks = readdirSync(path.join(ROOT, 'dist/bundle')).filter((f) => /^chunk-.*\.js$/.test(f));
  assert.ok(chunks.length > 0, 'the bundle is split at its dynamic imports');
  const { stdout } = await promisify(execFile)(process.execPath, [BERTH_BIN, 'config', 'validate', cfg, '--check-connections'], {
    env: { ...process.env, DB_URI: '' },
  });
  assert.match(stdout, /connections work/);
});

test('dist/ is stale when a source file or the installed libraries are newer than the build', () => {
  const root = path.join(dir, 'checkout');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  mkdirSync(path.join(root, 'node_modules'), { recursive: true });
  writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(root, 'node_modules', '.package-lock.json'), '{}\n');
  assert.equal(serverIsStale(root), true, 'no build yet');
  mkdirSync(path.join(root, 'dist'));
  writeFileSync(path.join(root, 'dist', '.built'), 'now\n');
  const at = (file: string, s: number) => utimesSync(path.join(root, file), s, s);
  const t = Math.floor(Date.now() / 1000) - 1000;
  at('src/a.ts', t);
  at('src', t);
  at('node_modules/.package-lock.json', t);
  at('dist/.built', t + 10);
  assert.equal(serverIsStale(root), false, 'built after the sources and the install');
  at('node_modules/.package-lock.json', t + 20);
  assert.equal(serverIsStale(root), true, 'npm installed libraries after the build');
  at('dist/.built', t + 30);
  assert.equal(serverIsStale(root), false);
  at('src/a.ts', t + 40);
  assert.equal(serverIsStale(root), true, 'a source file changed after the build');
});
