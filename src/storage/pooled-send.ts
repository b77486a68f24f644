// Sends a file's bytes to a sink through a few reused buffers. A stream that allocates a fresh buffer per
// chunk leaves about 1 GB/s of short-lived memory for the garbage collector under concurrent large pulls
// (docs/PERFORMANCE.md); here each buffer goes back to the pool when the sink says it was flushed.
import { read as fsRead } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { BlobSink } from './blobstore.js';

// 3 × 1 MiB per response: a quarter of the reads, writes and callbacks of 256 KiB buffers, which costs about 40% less
// CPU per byte sent (docs/PERFORMANCE.md). Flushed buffers are kept for the next response (up to SPARE_MAX), so
// pulls one after another allocate nothing; once no large send has ended for SPARE_IDLE_MS they are let go, so one
// pull does not keep 3–6 MiB resident for the rest of the process's life (docs/PERFORMANCE.md, "Memory, fourth round").
const BUFFERS = 3;
const BUFFER_BYTES = 1024 * 1024;
const SPARE_MAX = 6;
export const SPARE_IDLE_MS = 2000;
const SMALL_BYTES = 64 * 1024;
const spare: Buffer[] = [];
let spareTimer: NodeJS.Timeout | undefined;

/** Keeps the spare buffers for another SPARE_IDLE_MS (one timer for the whole pool, re-armed by each send's end). */
function keepSpares(): void {
  if (spareTimer) {
    spareTimer.refresh();
    return;
  }
  spareTimer = setTimeout(() => {
    spareTimer = undefined;
    spare.length = 0;
  }, SPARE_IDLE_MS);
  spareTimer.unref();
}

/** For tests: how many 1 MiB buffers wait for the next send. */
export function spareBuffers(): number {
  return spare.length;
}

export class BlobTruncated extends Error {}

/**
 * Writes bytes [start, end) of an open file to `dest`; stops quietly when `dest` closes first.
 * One read at a time (fs.read with a callback on the descriptor: no promise per chunk) into a free buffer, handed to
 * the socket at once; the next read starts while the socket sends, and waits only when all BUFFERS are queued.
 */
export function sendFileRange(fh: FileHandle, start: number, end: number, dest: BlobSink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fd = fh.fd;
    const free: Buffer[] = [];
    let allocated = 0;
    let inFlight = 0;
    let reading = false;
    let settled = false;
    /** Set when the send ended while a read was running: settled once that read is back (the caller closes the file). */
    let ending: { err?: Error } | undefined;
    let pos = start;
    const done = (err?: Error) => {
      if (settled) return;
      if (reading) {
        ending ??= { err };
        return;
      }
      settled = true;
      dest.off('close', onClose);
      // Only buffers the socket has flushed go back; one still queued on a closed socket is left to the GC.
      while (free.length && spare.length < SPARE_MAX) spare.push(free.pop()!);
      if (spare.length) keepSpares();
      if (err) reject(err);
      else resolve();
    };
    const onClose = () => done();
    const written = (buf: Buffer | undefined) => (err?: Error | null) => {
      inFlight--;
      if (settled) return;
      // A write error on a socket that closed meanwhile is the client going away: stop quietly (on 'close').
      if (err) {
        if (!dest.destroyed) done(err);
        return;
      }
      if (buf) free.push(buf);
      pump();
    };
    const pump = () => {
      if (settled || reading) return;
      if (pos >= end) {
        // Every buffer handed over must be flushed before the caller ends the response.
        if (inFlight === 0) done();
        return;
      }
      let buf = free.pop();
      if (!buf && allocated < BUFFERS) {
        allocated++;
        buf = spare.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
      }
      if (!buf) return; // all buffers queued on the socket: the next flush calls pump again
      const want = Math.min(BUFFER_BYTES, end - pos);
      const target = buf;
      reading = true;
      read(fd, target, want, pos, (err, n) => {
        reading = false;
        if (ending) return done(ending.err);
        if (err) return done(err);
        if (n === 0) return done(new BlobTruncated(`blob ends at byte ${pos}, expected ${end}`));
        pos += n;
        inFlight++;
        dest.write(n === target.length ? target : target.subarray(0, n), written(target));
        pump();
      });
    };
    if (dest.destroyed) return done();
    dest.once('close', onClose);
    // A small blob (a config or a tiny layer): one read into a buffer of its size, one write.
    if (end - start <= SMALL_BYTES) {
      const buf = Buffer.allocUnsafe(end - start);
      const fill = (got: number) => {
        if (got === buf.length) {
          pos = end;
          inFlight++;
          dest.write(buf, written(undefined));
          return;
        }
        reading = true;
        read(fd, buf.subarray(got), buf.length - got, start + got, (err, n) => {
          reading = false;
          if (ending) return done(ending.err);
          if (err) return done(err);
          if (n === 0) return done(new BlobTruncated(`blob ends at byte ${start + got}, expected ${end}`));
          fill(got + n);
        });
      };
      if (end > start) return fill(0);
    }
    pump();
  });
}

function read(fd: number, buf: Buffer, length: number, position: number, cb: (err: Error | null, n: number) => void): void {
  fsRead(fd, buf, 0, length, position, (err, n) => cb(err, n));
}
