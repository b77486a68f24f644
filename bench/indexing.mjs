#!/usr/bin/env node
// Indexing speed: how fast Berth decodes a layer and walks its tar (src/scanner/indexer/layer-reader.ts
// with no scanner claiming anything, so this is decode + tar parse + drain), against the reference
// decoders piped to /dev/null in the same run: `gzip -dc` and `zstd -dc`.
//
//   node bench/indexing.mjs [--mib 200] [--runs 3] [--src /usr/lib/x86_64-linux-gnu]
//
// The layer is a real tar of --mib MiB of files from --src (default: /usr, programs, libraries and data files), compressed
// with the gzip and zstd binaries (default levels). MB/s is of decoded tar bytes (1 MB = 10^6 bytes), the
// best of --runs. Each zstd decoder this Node can use is measured (zlib, zstd-binary, fzstd), Berth's
// default marked. The load average is printed next to the figures: the machine is shared.
import { spawnSync, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { readLayer } = await import('../src/scanner/indexer/layer-reader.ts');
const { availableZstdDecoders, zstdDecoder } = await import('../src/scanner/compression.ts');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MIB = Number(opt('mib', '200'));
const RUNS = Number(opt('runs', '3'));
const SRC = opt('src', '/usr');

const dir = mkdtempSync(path.join(tmpdir(), 'berth-bench-indexing-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Regular files under root, up to `limit` bytes in all (sorted walk, so runs pick the same files). */
function pick(root, limit) {
  const out = [];
  const seen = new Set(); // hard links would be stored as links, not bytes
  let total = 0;
  const walk = (d) => {
    let names;
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (total >= limit) return;
      const p = path.join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 0 && !seen.has(st.ino) && total + st.size <= limit * 1.05) {
        seen.add(st.ino);
        out.push(path.relative(root, p));
        total += st.size;
      }
    }
  };
  walk(root);
  return out;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const files = pick(SRC, MIB * 1024 * 1024);
const list = path.join(dir, 'files.txt');
writeFileSync(list, `${files.join('\n')}\n`);
const tarFile = path.join(dir, 'layer.tar');
const run = (cmd) => {
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`failed: ${cmd}`);
};
run(`tar -C '${SRC}' -cf '${tarFile}' -T '${list}'`);
run(`gzip -c '${tarFile}' > '${tarFile}.gz'`);
run(`zstd -q -c '${tarFile}' > '${tarFile}.zst'`);
const tarBytes = statSync(tarFile).size;
const mb = (n) => (n / 1e6).toFixed(1);
console.log(
  `layer: ${files.length} files, tar ${mb(tarBytes)} MB, gzip ${mb(statSync(`${tarFile}.gz`).size)} MB, zstd ${mb(statSync(`${tarFile}.zst`).size)} MB`,
);
console.log(`node ${process.version}; zstd decoders available: ${availableZstdDecoders().join(', ')} (default ${zstdDecoder()})`);

async function best(fn) {
  let min = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

const binary = (cmd, file) =>
  new Promise((resolve, reject) => {
    const p = spawn(cmd, ['-dc', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });

async function berth(file, zstd) {
  const r = await readLayer(createReadStream(file, { highWaterMark: 1 << 20 }), [], zstd ? { zstdDecoder: zstd } : {});
  if (r.bytes > tarBytes) throw new Error('read more than the tar holds');
}

const rows = [];
const measure = async (label, fn) => {
  const before = load();
  const s = await best(fn);
  rows.push({ label, secs: s, rate: tarBytes / 1e6 / s, load: before });
  console.log(`${label.padEnd(40)} ${(tarBytes / 1e6 / s).toFixed(0).padStart(6)} MB/s  (${s.toFixed(2)} s; load ${before})`);
};

const { createGunzip } = await import('node:zlib');
const drain = async (stream) => {
  for await (const _ of stream);
};
await measure('gzip -dc > /dev/null', () => binary('gzip', `${tarFile}.gz`));
await measure('node zlib gunzip alone (no tar walk)', () =>
  drain(createReadStream(`${tarFile}.gz`, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }))),
);
await measure('Berth gzip (zlib) decode + tar walk', () => berth(`${tarFile}.gz`));
await measure('zstd -dc > /dev/null', () => binary('zstd', `${tarFile}.zst`));
await measure(
  'zstd -dc | cat > /dev/null',
  () =>
    new Promise((resolve, reject) => {
      const p = spawn('sh', ['-c', `zstd -dc '${tarFile}.zst' | cat > /dev/null`], { stdio: 'inherit' });
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
    }),
);
for (const kind of availableZstdDecoders()) {
  await measure(`Berth zstd (${kind}${kind === zstdDecoder() ? ', default' : ''}) decode + tar walk`, () => berth(`${tarFile}.zst`, kind));
}
await measure('Berth plain tar walk (no decoding)', () => berth(tarFile));
const rate = (l) => rows.find((r) => r.label.startsWith(l)).rate;
console.log(
  `ratio Berth/binary: gzip ${(rate('Berth gzip') / rate('gzip -dc')).toFixed(2)}, zstd default ${(
    rows.find((r) => r.label.includes('default')).rate / rate('zstd -dc')
  ).toFixed(2)}`,
);
