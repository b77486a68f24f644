#!/usr/bin/env node
// Compiles the server (src/**/*.ts -> dist/**/*.js) file by file with esbuild, the same transform tsx applies
// at run time, so `bin/berth.js` can start without a TypeScript loader (less memory, faster start).
//   node scripts/build-server.mjs             always build
//   node scripts/build-server.mjs --if-stale  build only when dist/ is missing or older than a source file
// dist/ mirrors src/ at the same depth, so paths resolved from import.meta (web/dist, node_modules) still hold.
// dist/bundle/ holds what `bin/berth.js` runs: the same program bundled from src/cli/main.ts with the libraries it
// loads at start (BUNDLED below), whitespace and syntax minified (names kept, so stack traces still read), split at
// its dynamic imports. One module in place of ~1,000 CommonJS and ES modules, and less source text kept on the heap
// for lazy compilation: 10 MiB less resident memory at idle (docs/PERFORMANCE.md, "Memory, fifth round").
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Newest modification time among the sources (and the directories, which change when a file is removed). */
function newestSource(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Whether dist/ must be rebuilt: missing, or older than a source file or than the installed libraries (npm writes
 * node_modules/.package-lock.json on every install; dist/bundle/ holds copies of the libraries in BUNDLED below).
 */
export function serverIsStale(base = root) {
  let built;
  try {
    built = statSync(path.join(base, 'dist', '.built')).mtimeMs;
  } catch {
    return true;
  }
  const installed = statSync(path.join(base, 'node_modules', '.package-lock.json'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (installed > built) return true;
  try {
    return newestSource(path.join(base, 'src')) > built;
  } catch {
    return false;
  } // an install that ships dist/ without src/
}

// Relative imports written with a .ts extension (allowed by tsconfig) must name the emitted .js file.
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;

export async function buildServer() {
  const { transform } = await import('esbuild');
  // Built beside dist/ and swapped in whole, so a server starting meanwhile never sees half a build.
  const tmp = `${dist}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const files = sources(src);
  for (const file of files) {
    const rel = path.relative(src, file);
    const out = path.join(tmp, rel.replace(/\.ts$/, '.js'));
    const result = await transform(readFileSync(file, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: file,
      sourcemap: 'external',
    });
    mkdirSync(path.dirname(out), { recursive: true });
    const code = result.code.replace(TS_SPECIFIER, '$1$2$3.js$2');
    writeFileSync(out, `${code}//# sourceMappingURL=${path.basename(out)}.map\n`);
    writeFileSync(`${out}.map`, result.map);
  }
  await bundle(path.join(tmp, 'bundle'));
  writeFileSync(path.join(tmp, '.built'), `${new Date().toISOString()} ${files.length} files\n`);
  rmSync(dist, { recursive: true, force: true });
  renameSync(tmp, dist);
  return files.length;
}

/**
 * Libraries bundled into dist/bundle/: those every `serve` loads at start (semver: fastify checks plugin versions
 * with it; prom-client with @opentelemetry/api, which its CPU collector loads). Every other dependency stays an
 * import of node_modules at run time: native (better-sqlite3), loaded only when a feature is used (pg, ioredis, the
 * S3 and Kubernetes clients, LDAP, OIDC, ...) or starting workers from files beside themselves (fastify's logger
 * pino and its transports' thread-stream).
 */
export const BUNDLED = ['fastify', 'zod', 'kysely', 'yaml', 'commander', 'semver', 'prom-client'];
const UNBUNDLED_TRANSITIVE = ['pino', 'thread-stream'];

async function bundle(outdir) {
  const { build } = await import('esbuild');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...UNBUNDLED_TRANSITIVE]
    .filter((name) => !BUNDLED.includes(name))
    .flatMap((name) => [name, `${name}/*`]);
  await build({
    entryPoints: { main: path.join(src, 'cli/main.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    chunkNames: 'chunk-[hash]',
    external,
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'error',
    // The bundled CommonJS libraries call require(); an ES module has none.
    banner: {
      js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--if-stale') && !serverIsStale()) process.exit(0);
  const t = Date.now();
  const n = await buildServer();
  console.log(`server compiled into dist/ (${n} files) in ${Date.now() - t} ms`);
}
