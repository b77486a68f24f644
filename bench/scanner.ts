// Scanner bench (run: node --import tsx bench/scanner.ts): index time for a ~100 MB gzip'd layer
// holding a 500-package dpkg status, and match time for 2,000 packages against 200,000 advisories
// (SQLite, synthetic records in the real record shape).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { openDatabase } from '../src/db/database.ts';
import { AdvisoryStore } from '../src/scanner/store.ts';
import { indexLayers } from '../src/scanner/indexer/index.ts';
import { match } from '../src/scanner/matcher/index.ts';
import type { Advisory } from '../src/scanner/model.ts';
import type { Package } from '../src/scanner/indexer/types.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-scanner-'));
const rnd = (() => { let s = 42; return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31; })();

async function buildLayer(): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => { for await (const c of pack as AsyncIterable<Buffer>) out.push(c); })();
  const add = (name: string, data: Buffer, mode = 0o644) => new Promise<void>((r, j) => pack.entry({ name, mode }, data, (e) => (e ? j(e) : r())));
  let status = '';
  for (let i = 0; i < 500; i++) status += `Package: pkg${i}\nStatus: install ok installed\nVersion: 1.${i}.0-1\nArchitecture: amd64\nSource: src${i % 250}\n\n`;
  await add('etc/os-release', Buffer.from('ID=debian\nVERSION_ID=12\n'));
  await add('var/lib/dpkg/status', Buffer.from(status));
  // ~100 MB of files: half compressible text, half random bytes (so the gzip'd layer stays large).
  let total = 0;
  for (let i = 0; total < 100 * 1024 * 1024; i++) {
    const size = 256 * 1024;
    const b = Buffer.alloc(size);
    if (i % 2) for (let k = 0; k < size; k += 4) b.writeUInt32LE((rnd() * 2 ** 32) >>> 0, k);
    else b.fill(`line ${i} of some text file\n`);
    await add(`usr/share/data/f${i}.bin`, b);
    total += size;
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(out), { level: 1 });
}

async function* advisories(n: number): AsyncGenerator<Advisory> {
  for (let i = 0; i < n; i++) {
    const deb = i % 2 === 0;
    yield {
      updater: 'bench', id: `CVE-2099-${i}`, aliases: [], ecosystem: deb ? 'dpkg' : 'pep440',
      distribution: deb ? { id: 'debian', versionId: '12' } : null,
      package: deb ? `src${i % 5000}` : `py${i % 5000}`, packageKind: 'any',
      ranges: [[{ introduced: '0' }, { fixed: `1.${i % 1000}.0-1` }]], fixedIn: `1.${i % 1000}.0-1`,
      severity: 'Medium', links: [`https://example.invalid/${i}`], description: 'x'.repeat(300),
    } as Advisory;
  }
}

const layer = await buildLayer();
let best = Infinity;
let found = 0;
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const r = await indexLayers([() => Readable.from([layer])], { tmpDir: dir });
  best = Math.min(best, performance.now() - t);
  found = r.packages.length;
}
console.log(`index: ${(layer.length / 1e6).toFixed(1)} MB gzip'd layer (${found} packages): ${best.toFixed(0)} ms (best of 3)`);

const db = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'bench.db') });
const store = new AdvisoryStore(db.db, 'sqlite', { tmpDir: dir });
const t0 = performance.now();
await store.replaceUpdater('bench', 'v1', advisories(200_000));
console.log(`import: 200,000 advisories: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const pkgs: Package[] = [];
for (let i = 0; i < 2000; i++) {
  const deb = i < 1000;
  pkgs.push({ name: deb ? `pkg${i}` : `py${i}`, version: deb ? `1.${i % 800}.0-1` : `1.${i % 800}.0`, kind: 'binary', ecosystem: deb ? 'deb' : 'pypi', path: 'x', layerIndex: 0,
    ...(deb ? { source: { name: `src${i}`, version: `1.${i % 800}.0-1` } } : {}) });
}
const times: number[] = [];
let vulns = 0;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = await match(store, pkgs, { id: 'debian', version_id: '12' });
  times.push(performance.now() - t);
  vulns = r.packages.reduce((n, p) => n + p.vulnerabilities.length, 0);
}
console.log(`match: 2,000 packages against 200,000 advisories (${vulns} vulnerabilities): first ${times[0].toFixed(0)} ms, warm best ${Math.min(...times.slice(1)).toFixed(0)} ms`);
await db.close();
rmSync(dir, { recursive: true, force: true });
