#!/usr/bin/env node
// Builds the web UI (web/ -> web/dist) with Vite.
//   node scripts/build-web.mjs             always build
//   node scripts/build-web.mjs --if-stale  build only when web/dist is missing or older than a source file
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');
const marker = path.join(web, 'dist', 'index.html');

function newest(p) {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(
    0,
    ...readdirSync(p)
      .filter((n) => n !== 'dist' && n !== 'node_modules')
      .map((n) => newest(path.join(p, n))),
  );
}

export function webIsStale() {
  let built;
  try {
    built = statSync(marker).mtimeMs;
  } catch {
    return true;
  }
  return newest(web) > built;
}

export async function buildWeb() {
  const { build } = await import('vite');
  await build({ root: web, configFile: path.join(web, 'vite.config.ts'), logLevel: 'warn' });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--if-stale') && !webIsStale()) process.exit(0);
  const t = Date.now();
  await buildWeb();
  console.log(`web UI built into web/dist in ${Date.now() - t} ms`);
}
