// Upload bodies arrive as fresh buffers that V8 frees only when it collects: the blob store collects the young
// generation every few MiB of body it reads, so a large push does not pile up ~32 MiB of dead buffers first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { COLLECT_EVERY_BYTES, bodyBytesRead, pendingBodyBytes } from '../src/storage/body-garbage.ts';
import { FsBlobStore } from '../src/storage/fs-blobstore.ts';

const MiB = 1024 * 1024;

/** `total` bytes as fresh 64 KiB buffers, as Node's HTTP parser hands a request body over. */
function socketLikeBody(total: number, onChunk: () => void): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < total; i += 64 * 1024) {
        onChunk();
        yield Buffer.allocUnsafeSlow(64 * 1024).fill(i & 0xff);
      }
    })(),
    { objectMode: false },
  );
}

test('a 96 MiB upload read as 64 KiB buffers keeps under 16 MiB of them alive or dead at any time', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-body-garbage-'));
  try {
    const store = new FsBlobStore(dir);
    await store.init();
    await store.createUpload('body-garbage-1');
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const body = socketLikeBody(96 * MiB, () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)));
    const n = await store.appendUpload('body-garbage-1', 0, body);
    assert.equal(n, 96 * MiB);
    assert.ok(peak < 16 * MiB, `array buffers peaked ${(peak / MiB).toFixed(1)} MiB above the start`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bodyBytesRead collects at each COLLECT_EVERY_BYTES and starts counting again', () => {
  bodyBytesRead(COLLECT_EVERY_BYTES); // whatever earlier tests left, a collection now
  assert.equal(pendingBodyBytes(), 0);
  bodyBytesRead(COLLECT_EVERY_BYTES - 1);
  assert.equal(pendingBodyBytes(), COLLECT_EVERY_BYTES - 1);
  bodyBytesRead(1);
  assert.equal(pendingBodyBytes(), 0);
});
