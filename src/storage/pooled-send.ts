// Sends a file's bytes to a sink through a few reused buffers. A stream that allocates a fresh buffer per
// chunk leaves about 1 GB/s of short-lived memory for the garbage collector under concurrent large pulls
// (docs/PERFORMANCE.md); here each buffer goes back to the pool when the sink says it was flushed.
import type { FileHandle } from 'node:fs/promises';
import type { BlobSink } from './blobstore.js';

const BUFFERS = 4;
const BUFFER_BYTES = 256 * 1024;

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
    while (pos < end && !closed && !failure) {
      let buf = free.pop();
      if (!buf && allocated < BUFFERS) {
        allocated++;
        buf = Buffer.allocUnsafeSlow(BUFFER_BYTES);
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
  }
}
