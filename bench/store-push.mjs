#!/usr/bin/env node
// CPU of the file-system part of a small push, without HTTP or the database: the calls the local blob store makes for
// regbench's push_small (a session's file at POST and at the PUT its size check, or neither where the store makes the
// file at the first write; the append of a 4-64 KiB body with its
// fdatasync, the link into blobs/ with the fan-out directory's fsync, the existence check, the upload file's removal),
// --blobs times with --conc at once, in a child process per run that loads dist/storage/fs-blobstore.js of this
// checkout or of --baseline (another checkout's root), alternating A and B each round. Reports the CPU (all threads of
// the child, process.cpuUsage) per blob and the median of per-round ratios with a bootstrap CI (bench/lib/ab.mjs).
// A full push A/B (bench/small-push.mjs) swings ±20% per round on a shared machine; this isolates the storage calls.
//
//   node bench/store-push.mjs [--rounds 8] [--blobs 2000] [--conc 16] [--baseline ../other] [--dir /tmp]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatPaired, pairedRatios, parseOptions, ROOT } from './lib/ab.mjs';

if (process.argv[2] === '--child') {
  const [, , , root, dir, blobs, conc] = process.argv;
  const { FsBlobStore } = await import(pathToFileURL(path.join(root, 'dist/storage/fs-blobstore.js')).href);
  const { hashHex, newId } = await import(pathToFileURL(path.join(root, 'dist/crypto/index.js')).href);
  const { Readable } = await import('node:stream');
  const filler = Buffer.alloc(65536);
  for (let j = 0; j < filler.length; j++) filler[j] = Math.floor(Math.random() * 256);
  const runId = newId();
  const store = new FsBlobStore(dir);
  await store.init();
  const one = async (i) => {
    // A distinct blob each time: random filler (made before the clock starts) with the run's id and the index in front.
    const buf = Buffer.alloc(4096 + ((i * 7919) % 61440));
    filler.copy(buf, 0, 0, buf.length);
    buf.write(`${runId}:${i}:`, 0);
    const digest = `sha256:${hashHex('sha256', buf)}`;
    const id = newId();
    // As UploadService does: a store that makes the session's file at its first write (createsUploadOnWrite) gets
    // no create at POST and no size check at the PUT's write, which makes the file.
    if (store.createsUploadOnWrite) await store.appendUpload(id, 0, Readable.from([buf]), undefined, undefined, { durable: false });
    else {
      await store.createUpload(id);
      await store.uploadSize(id);
      await store.appendUpload(id, 0, Readable.from([buf]));
    }
    await store.syncUpload(id);
    await store.commitUpload(id, digest);
    await store.stat(digest);
    await store.deleteUpload(id);
  };
  // Blobs `from` … `from + n - 1`: the warm-up's and the measured run's contents differ.
  const run = async (n, from) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: +conc }, async () => {
        while (next < n) await one(from + next++);
      }),
    );
  };
  await run(200, 0); // warm-up (JIT, fan-out directories)
  const c0 = process.cpuUsage();
  await run(+blobs, 200);
  const c = process.cpuUsage(c0);
  store.close();
  process.stdout.write(JSON.stringify({ cpuUs: (c.user + c.system) / +blobs }));
  process.exit(0);
}

const opt = parseOptions({ rounds: 8, blobs: 2000, conc: 16, baseline: '', dir: os.tmpdir() });
const sides = [{ label: 'this', root: ROOT }];
if (opt.baseline) sides.push({ label: 'baseline', root: path.resolve(opt.baseline) });
const cpu = (root) => {
  const dir = mkdtempSync(path.join(opt.dir, 'berth-store-push-'));
  try {
    const out = execFileSync(process.execPath, [import.meta.filename, '--child', root, dir, String(opt.blobs), String(opt.conc)]);
    return JSON.parse(out.toString()).cpuUs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
const ratios = [];
const results = Object.fromEntries(sides.map((s) => [s.label, []]));
for (let r = 0; r < opt.rounds; r++) {
  const order = r % 2 ? [...sides].reverse() : sides;
  const got = {};
  for (const s of order) got[s.label] = cpu(s.root);
  for (const s of sides) results[s.label].push(got[s.label]);
  if (got.baseline) ratios.push(got.this / got.baseline);
  console.error(
    `round ${r + 1}: ${sides.map((s) => `${s.label} ${got[s.label].toFixed(1)} µs/blob`).join(', ')}, load ${os.loadavg()[0].toFixed(1)}`,
  );
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const s of sides) console.log(`${s.label}: median ${med(results[s.label]).toFixed(1)} µs CPU per blob`);
if (ratios.length) console.log(`this/baseline: ${formatPaired(pairedRatios(ratios))}`);
