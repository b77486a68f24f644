#!/usr/bin/env node
// Indexing speed: how fast Berth decodes a layer and walks its tar (src/scanner/indexer/layer-reader.ts
// with no scanner claiming anything, so this is decode + tar parse + drain), against the reference
// decoders piped to /dev/null in the same run: `gzip -dc` and `zstd -dc`.
//
//   node bench/indexing.mjs [--mib 200] [--runs 5] [--src /usr/lib/x86_64-linux-gnu] [--fzstd]
//
// The layer is a real tar of --mib MiB of files from --src (default: /usr, programs, libraries and data files), compressed
// with the gzip and zstd binaries (default levels). MB/s is of decoded tar bytes (1 MB = 10^6 bytes), the
// median of --runs alternating rounds, with CPU seconds of all processes involved. Each zstd decoder this Node can use is measured (zlib, zstd-binary, fzstd), Berth's
// default marked. The load average is printed next to the figures: the machine is shared.
import { spawnSync, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { readLayer } = await import('../src/scanner/indexer/layer-reader.ts');
const { availableZstdDecoders, decoder, zstdDecoder } = await import('../src/scanner/compression.ts');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MIB = Number(opt('mib', '200'));
const RUNS = Number(opt('runs', '5'));
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

/** CPU seconds of this process plus its waited-for children (/proc/self/stat utime stime cutime cstime). */
const TICK = 100;
function cpuAll() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
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

// Rounds alternate over every variant (forward, then backward), so a change of load lands on all of them; each
// figure is the median over --runs rounds, with the spread, the CPU seconds (this process and its children: the
// decoders) and the load average at the start of its runs.
const variants = [];
const measure = (label, fn) => variants.push({ label, fn, secs: [], cpu: [], load: [] });
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const { createGunzip } = await import('node:zlib');
const drain = async (stream) => {
  for await (const _ of stream);
};
const shell = (cmd) =>
  new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
measure('gzip -dc > /dev/null', () => binary('gzip', `${tarFile}.gz`));
measure('node zlib gunzip alone (no tar walk)', () =>
  drain(createReadStream(`${tarFile}.gz`, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }))),
);
measure('Berth gzip (zlib) decode + tar walk', () => berth(`${tarFile}.gz`));
measure('zstd -dc > /dev/null', () => binary('zstd', `${tarFile}.zst`));
measure('zstd -dc | cat > /dev/null', () => shell(`zstd -dc '${tarFile}.zst' | cat > /dev/null`));
measure('zstd -dc < file | cat (both pipes)', () => shell(`cat '${tarFile}.zst' | zstd -dc | cat > /dev/null`));
if (availableZstdDecoders().includes('zstd-binary')) {
  measure('zstd -dc file, Node drains its stdout', async () => {
    const p = spawn('zstd', ['-dc', `${tarFile}.zst`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => p.once('exit', resolve));
    await drain(p.stdout);
    await exited; // reaped, so its CPU time is counted
  });
  measure('Berth zstd-binary decoder, drained (no tar)', () =>
    drain(createReadStream(`${tarFile}.zst`, { highWaterMark: 1 << 20 }).pipe(decoder('zstd', { zstd: 'zstd-binary' }))),
  );
}
if (availableZstdDecoders().includes('zlib')) {
  // Node 22.15+/24: libzstd in this process (src/scanner/zstd-zlib.ts wraps it to refuse data after the last frame).
  const { createZstdDecompress } = await import('node:zlib');
  measure('node zlib zstd alone (no tar walk)', () =>
    drain(createReadStream(`${tarFile}.zst`, { highWaterMark: 1 << 20 }).pipe(createZstdDecompress({ chunkSize: 1 << 20 }))),
  );
  measure('Berth zlib zstd decoder, drained (no tar)', () =>
    drain(createReadStream(`${tarFile}.zst`, { highWaterMark: 1 << 20 }).pipe(decoder('zstd', { zstd: 'zlib', chunkSize: 1 << 20 }))),
  );
}
for (const kind of availableZstdDecoders()) {
  if (kind === 'fzstd' && !args.includes('--fzstd')) continue; // 5-10x slower: only when asked
  measure(`Berth zstd (${kind}${kind === zstdDecoder() ? ', default' : ''}) decode + tar walk`, () => berth(`${tarFile}.zst`, kind));
}
measure('Berth plain tar walk (no decoding)', () => berth(tarFile));

for (let round = 0; round < RUNS; round++) {
  for (const v of round % 2 ? [...variants].reverse() : variants) {
    v.load.push(loadavg()[0]);
    const c = cpuAll();
    const t = process.hrtime.bigint();
    await v.fn();
    v.secs.push(Number(process.hrtime.bigint() - t) / 1e9);
    v.cpu.push(cpuAll() - c);
  }
}
const rows = variants.map((v) => ({
  label: v.label,
  rate: tarBytes / 1e6 / med(v.secs),
  lo: tarBytes / 1e6 / Math.max(...v.secs),
  hi: tarBytes / 1e6 / Math.min(...v.secs),
  cpu: med(v.cpu),
  load: `${Math.min(...v.load).toFixed(1)}–${Math.max(...v.load).toFixed(1)}`,
}));
console.log(`\n${RUNS} alternating rounds, medians:`);
console.log('| what | MB/s (min–max) | CPU s (all processes) | load (1 min) |');
console.log('|---|---:|---:|---|');
for (const r of rows)
  console.log(`| ${r.label} | ${r.rate.toFixed(0)} (${r.lo.toFixed(0)}–${r.hi.toFixed(0)}) | ${r.cpu.toFixed(2)} | ${r.load} |`);
const rate = (l) => rows.find((r) => r.label.startsWith(l)).rate;
const def = rows.find((r) => r.label.includes('default'));
console.log(
  `ratio Berth/reference: gzip ${(rate('Berth gzip') / rate('node zlib gunzip')).toFixed(2)} of zlib alone, zstd default ${(
    def.rate / rate('zstd -dc | cat')
  ).toFixed(2)} of zstd -dc | cat (${(def.rate / rate('zstd -dc < file')).toFixed(2)} of cat | zstd -dc | cat)`,
);
