#!/usr/bin/env node
// Compiles the server (src/**/*.ts -> dist/**/*.js) file by file with esbuild, the same transform tsx applies
// at run time, so `bin/berth.js` can start without a TypeScript loader (less memory, faster start).
//   node scripts/build-server.mjs             always build
//   node scripts/build-server.mjs --if-stale  build only when dist/ is missing or older than a source file
// dist/ mirrors src/ at the same depth, so paths resolved from import.meta (web/dist, node_modules) still hold.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.built');

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

export function serverIsStale() {
  let built;
  try {
    built = statSync(stamp).mtimeMs;
  } catch {
    return true;
  }
  try {
    return newestSource(src) > built;
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
  writeFileSync(path.join(tmp, '.built'), `${new Date().toISOString()} ${files.length} files\n`);
  rmSync(dist, { recursive: true, force: true });
  renameSync(tmp, dist);
  return files.length;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--if-stale') && !serverIsStale()) process.exit(0);
  const t = Date.now();
  const n = await buildServer();
  console.log(`server compiled into dist/ (${n} files) in ${Date.now() - t} ms`);
}
