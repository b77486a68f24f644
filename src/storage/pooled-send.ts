// Sends a file's bytes to a sink through a few reused buffers. A stream that allocates a fresh buffer per
// chunk leaves about 1 GB/s of short-lived memory for the garbage collector under concurrent large pulls
// (docs/PERFORMANCE.md); here each buffer goes back to the pool when the sink says it was flushed.
import type { FileHandle } from 'node:fs/promises';
import type { BlobSink } from './blobstore.js';

// 3 × 1 MiB per response: a quarter of the reads, writes and callbacks of 256 KiB buffers, which costs about 40% less
// CPU per byte sent (docs/PERFORMANCE.md). Flushed buffers are kept for the next response (up to SPARE_MAX), so
// pulls one after another allocate nothing.
const BUFFERS = 3;
const BUFFER_BYTES = 1024 * 1024;
const SPARE_MAX = 6;
const SMALL_BYTES = 64 * 1024;
const spare: Buffer[] = [];

export class BlobTruncated extends Error {}

/** Writes bytes [start, end) of an open file to `dest`; stops quietly when `dest` closes first. */
export async function sendFileRange(fh: FileHandle, start: number, end: number, dest: BlobSink): Promise<void> {
  const free: Buffer[] = [];
  let allocated = 0;
  let inFlight = 0;
  let closed = dest.destroyed;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onClose = () => {
    closed = true;
    notify();
  };
  dest.once('close', onClose);
  const waitForChange = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  try {
    let pos = start;
    // A small blob (most layers of a config or a tiny image): one read into a buffer of its size, one write.
    if (end - start <= SMALL_BYTES && !closed) {
      const buf = Buffer.allocUnsafe(end - start);
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
        if (bytesRead === 0) throw new BlobTruncated(`blob ends at byte ${start + got}, expected ${end}`);
        got += bytesRead;
      }
      if (closed) return;
      inFlight++;
      dest.write(buf, (err) => {
        inFlight--;
        if (err) failure ??= err;
        notify();
      });
      pos = end;
    }
    while (pos < end && !closed && !failure) {
      let buf = free.pop();
      if (!buf && allocated < BUFFERS) {
        allocated++;
        buf = spare.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
      }
      if (!buf) {
        await waitForChange();
        continue;
      }
      const { bytesRead } = await fh.read(buf, 0, Math.min(BUFFER_BYTES, end - pos), pos);
      if (bytesRead === 0) throw new BlobTruncated(`blob ends at byte ${pos}, expected ${end}`);
      pos += bytesRead;
      if (closed) break;
      const chunk = buf;
      inFlight++;
      dest.write(chunk.subarray(0, bytesRead), (err) => {
        inFlight--;
        if (err) failure ??= err;
        else free.push(chunk);
        notify();
      });
    }
    // Every buffer handed over must be flushed before the caller ends the response.
    while (inFlight > 0 && !closed && !failure) await waitForChange();
    if (failure && !closed) throw failure;
  } finally {
    dest.off('close', onClose);
    // Only buffers the socket has flushed go back; one still queued on a closed socket is left to the GC.
    while (free.length && spare.length < SPARE_MAX) spare.push(free.pop()!);
  }
}
