// Scanner bench (run: node --import tsx bench/scanner.ts): index time for a ~100 MB layer (gzip and
// zstd) holding a 500-package dpkg status, next to the time to read and decompress the same file;
// and match time for 2,000 packages against 200,000 advisories (SQLite, synthetic records in the
// real record shape). BENCH_SCANNER_ONLY=index stops after the index case.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import tarStream from 'tar-stream';
import { indexLayers } from '../src/scanner/indexer/index.ts';
import type { Advisory } from '../src/scanner/model.ts';
import type { Package } from '../src/scanner/indexer/types.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-scanner-'));
// xorshift32: really incompressible bytes (the LCG this replaced lost precision in floating point and
// repeated, which zstd's long window found: the "random" half shrank to almost nothing).
const rnd32 = (() => {
  let s = 42;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
})();

/** ~100 MB of files, half compressible text and half random bytes: 256 KiB each, or (`small`) 0.5-6.5 KiB each in a few thousand directories, as in a real root file system. */
async function buildLayer(small = false): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  const add = (name: string, data: Buffer, mode = 0o644) =>
    new Promise<void>((r, j) => pack.entry({ name, mode }, data, (e) => (e ? j(e) : r())));
  let status = '';
  for (let i = 0; i < 500; i++)
    status += `Package: pkg${i}\nStatus: install ok installed\nVersion: 1.${i}.0-1\nArchitecture: amd64\nSource: src${i % 250}\n\n`;
  await add('etc/os-release', Buffer.from('ID=debian\nVERSION_ID=12\n'));
  await add('var/lib/dpkg/status', Buffer.from(status));
  // Half random bytes, so the compressed layer stays large.
  let total = 0;
  for (let i = 0; total < 100 * 1024 * 1024; i++) {
    const size = small ? 512 + (rnd32() % 6144) : 256 * 1024;
    const b = Buffer.alloc(size);
    if (i % 2) for (let k = 0; k + 4 <= size; k += 4) b.writeUInt32LE(rnd32(), k);
    else b.fill(`line ${i} of some text file\n`);
    const dir = !small
      ? 'usr/share/data'
      : [
          `usr/lib/node_modules/app/node_modules/dep${i % 700}/lib`,
          `usr/lib/python3/dist-packages/mod${i % 500}/sub`,
          `usr/share/doc/pkg${i % 900}`,
        ][i % 3];
    await add(`${dir}/f${i}.bin`, b);
    total += size;
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

async function* advisories(n: number): AsyncGenerator<Advisory> {
  for (let i = 0; i < n; i++) {
    const deb = i % 2 === 0;
    yield {
      updater: 'bench',
      id: `CVE-2099-${i}`,
      aliases: [],
      ecosystem: deb ? 'dpkg' : 'pep440',
      distribution: deb ? { id: 'debian', versionId: '12' } : null,
      package: deb ? `src${i % 5000}` : `py${i % 5000}`,
      packageKind: 'any',
      ranges: [[{ introduced: '0' }, { fixed: `1.${i % 1000}.0-1` }]],
      fixedIn: `1.${i % 1000}.0-1`,
      severity: 'Medium',
      links: [`https://example.invalid/${i}`],
      description: 'x'.repeat(300),
    } as Advisory;
  }
}

// Index case. The layer is written to disk (gzip, and zstd when the zstd binary is there) and read
// back as the blob store would hand it out (a file stream). Next to Berth's index time, the floors
// for the same file, measured in the same run: reading it (cat, Node) and decompressing it (gzip -dc /
// zstd -dc, Node's zlib / the fzstd decoder Berth uses). Wall time is noisy on a loaded machine, so
// CPU seconds (user + system, all threads) are printed too; best of 3 of each.
// A second gzip layer holds the same ~100 MB in ~29,000 small files: what per-entry costs amount to.
const tarBytes = await buildLayer();
const gzFile = path.join(dir, 'layer.tar.gz');
writeFileSync(gzFile, gzipSync(tarBytes, { level: 1 }));
const zstFile = path.join(dir, 'layer.tar.zst');
const haveZstd = spawnSync('zstd', ['-q', '-3', '-f', '-o', zstFile], { input: tarBytes, maxBuffer: 1 << 30 }).status === 0;
const smallTar = await buildLayer(true);
const smallFile = path.join(dir, 'small-files.tar.gz');
writeFileSync(smallFile, gzipSync(smallTar, { level: 1 }));

interface Cost {
  wall: number;
  cpu: number;
  first?: { wall: number; cpu: number };
}
const ms = (c: { wall: number; cpu: number }) => `${c.wall.toFixed(0)} ms (CPU ${c.cpu.toFixed(0)} ms)`;
/** Best wall and best CPU time of `runs` runs of fn in this process (CPU of all its threads), and the first run's. */
async function inProcess(fn: () => Promise<unknown>, runs = 3): Promise<Cost> {
  const best: Cost = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    best.first ??= { wall, cpu };
    best.wall = Math.min(best.wall, wall);
    best.cpu = Math.min(best.cpu, cpu);
  }
  return best;
}
/** The same for a shell command, timed by bash's `time` (real, user, sys). */
function command(cmd: string, runs = 3): Cost {
  const best = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time (${cmd})`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    const [real, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    best.wall = Math.min(best.wall, real * 1000);
    best.cpu = Math.min(best.cpu, (user + sys) * 1000);
  }
  return best;
}
const drain = async (s: Readable) => {
  for await (const _ of s);
};
// Files are read in 1 MiB chunks, as FsBlobStore.read hands blobs to the scanner.
const read = (file: string) => createReadStream(file, { highWaterMark: 1 << 20 });
const nodeRead = (file: string) => drain(read(file));
const nodeGunzip = (file: string) => drain(read(file).pipe(createGunzip({ chunkSize: 1 << 20 })));
const nodeUnzstd = (file: string) =>
  new Promise<void>((resolve, reject) => {
    const d = new ZstdDecompress(() => {});
    read(file)
      .on('data', (c) => d.push(c as Buffer))
      .on('end', () => {
        d.push(new Uint8Array(0), true);
        resolve();
      })
      .on('error', reject);
  });
let found = 0;
let entries = 0;
const berth = async (file: string) => {
  const r = await indexLayers([() => read(file)], { tmpDir: dir });
  found = r.packages.length;
  entries = r.perLayer[0].entries;
};

const variants: Array<{ name: string; tar: number; file: string; decode: string; node: string; nodeDecode: (f: string) => Promise<void> }> =
  [{ name: 'gzip', tar: tarBytes.length, file: gzFile, decode: 'gzip -dc', node: 'Node zlib', nodeDecode: nodeGunzip }];
if (haveZstd)
  variants.push({ name: 'zstd', tar: tarBytes.length, file: zstFile, decode: 'zstd -dc', node: 'fzstd', nodeDecode: nodeUnzstd });
else console.log('index: zstd binary not installed, zstd variant skipped');
variants.push({
  name: 'gzip, small files',
  tar: smallTar.length,
  file: smallFile,
  decode: 'gzip -dc',
  node: 'Node zlib',
  nodeDecode: nodeGunzip,
});
console.log('index: ~100 MB of files and a 500-package dpkg status per layer; best of 3, wall (CPU):');
for (const v of variants) {
  const size = statSync(v.file).size;
  const cat = command(`cat ${v.file} > /dev/null`);
  const read = await inProcess(() => nodeRead(v.file));
  const dec = command(`${v.decode} ${v.file} > /dev/null`);
  const ndec = await inProcess(() => v.nodeDecode(v.file));
  const idx = await inProcess(() => berth(v.file));
  console.log(
    `  ${v.name} (${(v.tar / 1e6).toFixed(1)} MB tar, ${(size / 1e6).toFixed(1)} MB compressed): read: cat ${ms(cat)}, Node ${ms(read)}; decompress: ${v.decode} ${ms(dec)}, ${v.node} ${ms(ndec)}; Berth index (${entries} entries, ${found} packages) ${ms(idx)}, first run ${ms(idx.first!)}`,
  );
}
if (process.env.BENCH_SCANNER_ONLY === 'index') {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
// The match case's modules load only now: with them in the heap, each full GC that the index case's
// buffers set off costs more (the Node zlib floor measured 50 ms CPU alone, 180-280 ms with them).
const { openDatabase } = await import('../src/db/database.ts');
const { AdvisoryStore } = await import('../src/scanner/store.ts');
const { match } = await import('../src/scanner/matcher/index.ts');

const db = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'bench.db') });
const store = new AdvisoryStore(db.db, 'sqlite', { tmpDir: dir });
const t0 = performance.now();
await store.replaceUpdater('bench', 'v1', advisories(200_000));
console.log(`import: 200,000 advisories: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const pkgs: Package[] = [];
for (let i = 0; i < 2000; i++) {
  const deb = i < 1000;
  pkgs.push({
    name: deb ? `pkg${i}` : `py${i}`,
    version: deb ? `1.${i % 800}.0-1` : `1.${i % 800}.0`,
    kind: 'binary',
    ecosystem: deb ? 'deb' : 'pypi',
    path: 'x',
    layerIndex: 0,
    ...(deb ? { source: { name: `src${i}`, version: `1.${i % 800}.0-1` } } : {}),
  });
}
const times: number[] = [];
let vulns = 0;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = await match(store, pkgs, { id: 'debian', version_id: '12' });
  times.push(performance.now() - t);
  vulns = r.packages.reduce((n, p) => n + p.vulnerabilities.length, 0);
}
console.log(
  `match: 2,000 packages against 200,000 advisories (${vulns} vulnerabilities): first ${times[0].toFixed(0)} ms, warm best ${Math.min(...times.slice(1)).toFixed(0)} ms`,
);
await db.close();
rmSync(dir, { recursive: true, force: true });
