// The JavaScript budget of the web UI: what the first page load fetches (web/dist/index.html's module
// scripts and modulepreloads), gzipped as a server or CDN would send it, stays under 300 KB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const DIST = path.resolve(import.meta.dirname, '..', 'web', 'dist');
const BUDGET = 300 * 1024;

test('the JavaScript of the first page load is under 300 KB gzipped', async () => {
  const { webIsStale, buildWeb } = await import('../scripts/build-web.mjs');
  if (webIsStale()) await buildWeb();
  const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const urls = new Set<string>();
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) urls.add(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)) urls.add(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\bhref="([^"]+)"[^>]*\brel="modulepreload"/g)) urls.add(m[1]);
  assert.ok(urls.size > 0, 'index.html loads no script: is web/dist a real build?');
  let raw = 0;
  let gzipped = 0;
  const lines: string[] = [];
  for (const u of urls) {
    assert.match(u, /^\/[^/]/, `${u}: scripts are served by Berth itself (CSP script-src 'self')`);
    const bytes = readFileSync(path.join(DIST, u));
    const gz = gzipSync(bytes, { level: 9 }).length;
    raw += bytes.length;
    gzipped += gz;
    lines.push(`  ${u}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
  }
  console.log(
    `first-load JavaScript: ${urls.size} file(s), ${(raw / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)\n${lines.join('\n')}`,
  );
  assert.ok(gzipped < BUDGET, `first-load JavaScript is ${(gzipped / 1024).toFixed(1)} KB gzipped, over the ${BUDGET / 1024} KB budget`);
});
