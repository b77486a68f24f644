// Directory fsyncs (src/storage/dir-sync.ts) on a real directory: callers that arrive while one is in flight share the
// next, a kept descriptor is closed only once the fsync running through it has ended, and afterwards syncs open the
// directory again. The descriptors are plain numbers (src/storage/fd-calls.ts): a number closed under a running fsync
// could name another file by then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DirSyncer } from '../src/storage/dir-sync.ts';
import { statPath } from '../src/storage/fd-calls.ts';

/** Descriptors of this process open on `dir` (Linux /proc; null where there is none). */
function openOn(dir: string): number | null {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return null;
  }
  let n = 0;
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === dir) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('concurrent callers share fsyncs, and each resolves after one that began after its call', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-dirsync-'));
  try {
    const s = new DirSyncer();
    await Promise.all(Array.from({ length: 20 }, () => s.sync(dir)));
    assert.ok(s.syncs >= 1 && s.syncs <= 2, `${s.syncs} fsyncs for 20 callers at once`);
    const before = s.syncs;
    await s.sync(dir);
    assert.equal(s.syncs, before + 1, 'a caller after the others gets a fsync of its own');
    assert.equal(openOn(dir) ?? 0, 0, 'no descriptor is left open without keepOpen');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kept descriptor closes only after the fsync running through it; later syncs open the directory', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-dirsync-'));
  try {
    const s = new DirSyncer();
    await s.keepOpen(dir);
    if (openOn(dir) !== null) assert.equal(openOn(dir), 1, 'keepOpen holds one descriptor');
    writeFileSync(path.join(dir, 'entry'), 'x');
    const running = s.sync(dir);
    s.close();
    // The sync in flight went through the kept descriptor: it must complete, not fail with EBADF.
    await running;
    assert.equal(s.syncs, 1);
    await settle();
    if (openOn(dir) !== null) assert.equal(openOn(dir), 0, 'the kept descriptor is closed once the fsync ended');
    await s.sync(dir);
    assert.equal(s.syncs, 2, 'after close a sync opens the directory itself');
    await settle();
    if (openOn(dir) !== null) assert.equal(openOn(dir), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('closing kept descriptors while fsyncs run through them never fails those fsyncs (200 times)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-dirsync-'));
  try {
    for (let i = 0; i < 200; i++) {
      const s = new DirSyncer();
      await s.keepOpen(dir);
      const running = s.sync(dir);
      s.close();
      await running;
    }
    await settle();
    if (openOn(dir) !== null) assert.equal(openOn(dir), 0, 'every kept descriptor was closed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing path rejects with its errno code (the store maps ENOENT to "not there")', async () => {
  await assert.rejects(statPath(path.join(os.tmpdir(), 'berth-no-such-file-' + process.pid)), { code: 'ENOENT' });
});
