// zstd decoding with Node's own zlib (`zlib.createZstdDecompress`, Node 22.15+, 23.8+, 24): libzstd in this
// process, no child process and no pipe.
//
// Held to what the `zstd -dc` child accepts (./zstd-child.ts), so a layer indexes, or fails, the same whichever
// decoder this Node has:
//   - every frame. A layer may be several zstd frames back to back with skippable frames among them (a zstd:chunked
//     layer is hundreds of frames and ends with a skippable one). Some Node releases' zlib stop at the end of the
//     first frame and drop the rest without an error (Node 22.23.5 does: a two-frame layer decodes to its first
//     frame). `zlibZstdDecodesEveryFrame()` decodes a small input of two frames around a skippable frame once;
//     compression.ts uses this decoder only on a Node where it gives back both.
//   - nothing after the last frame. Node's zlib ends its output at the end of a frame when what follows is not
//     another frame, and drops it; the zstd binary refuses it ("unsupported format"). ZlibZstdDecompress compares
//     the bytes it handed to zlib with those zlib consumed (`bytesWritten`) and fails with a ZstdTrailingDataError.
import * as zlib from 'node:zlib';
import { Duplex } from 'node:stream';

type ZlibStream = Duplex & { bytesWritten: number };
/** Node's zstd decoder where this Node has one (not in Node 20's type definitions). */
const native = (zlib as unknown as { createZstdDecompress?: (opts: { chunkSize?: number }) => ZlibStream }).createZstdDecompress;
const nativeSync = (zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;

/** "a\n" and "b\n" as two zstd frames with a skippable frame between them (written by the zstd binary). */
const EVERY_FRAME_PROBE = Buffer.from('28b52ffd0058110000610a502a4d1803000000736b7028b52ffd0058110000620a', 'hex');

let everyFrame: boolean | undefined;

/** Whether this Node's zlib has a zstd decoder at all. */
export function hasZlibZstd(): boolean {
  return typeof native === 'function';
}

/** Whether this Node's zlib zstd decoder reads past the first frame (see the note at the top; tried once). */
export function zlibZstdDecodesEveryFrame(): boolean {
  if (everyFrame !== undefined) return everyFrame;
  everyFrame = false;
  if (native && nativeSync) {
    try {
      everyFrame = nativeSync(EVERY_FRAME_PROBE).toString('latin1') === 'a\nb\n';
    } catch {
      // a decoder that fails on it is no better
    }
  }
  return everyFrame;
}

/** Bytes followed the last zstd frame (the zstd binary says "unsupported format"). */
export class ZstdTrailingDataError extends Error {
  constructor(readonly extra: number) {
    super(`${extra === 1 ? '1 byte' : `at least ${extra} bytes`} after the end of the zstd stream`);
    this.name = 'ZstdTrailingDataError';
  }
}

/** Streaming zstd decoding with Node's zlib, refusing data after the last frame (see the note at the top). */
export class ZlibZstdDecompress extends Duplex {
  private readonly inner: ZlibStream;
  /** Compressed bytes handed to zlib. */
  private given = 0;
  /** zlib ended its output (the end of the input's last frame). */
  private innerEnded = false;
  /** The end of the input, waiting for zlib to end its output. */
  private finalCb: ((err?: Error | null) => void) | undefined;

  constructor(opts: { chunkSize?: number } = {}) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    if (!native) throw new Error('this Node has no zlib zstd decoder');
    this.inner = native(opts);
    this.inner.on('data', (c: Buffer) => {
      if (!this.push(c)) this.inner.pause();
    });
    this.inner.on('error', (err) => this.destroy(err));
    this.inner.on('end', () => {
      this.innerEnded = true;
      const extra = this.given - this.inner.bytesWritten;
      if (extra > 0) {
        this.destroy(new ZstdTrailingDataError(extra));
        return;
      }
      // The output ends once the input has ended too: data written after this frame is an error, not ignored.
      const cb = this.finalCb;
      this.finalCb = undefined;
      if (cb) {
        this.push(null);
        cb();
      }
    });
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.innerEnded) {
      cb(chunk.length ? new ZstdTrailingDataError(chunk.length) : null);
      return;
    }
    this.given += chunk.length;
    this.inner.write(chunk, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.innerEnded) {
      this.push(null);
      cb();
      return;
    }
    this.finalCb = cb;
    this.inner.end();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}
