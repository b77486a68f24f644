// The air-gap bundle format (docs/AIRGAP.md has the full specification).
//
// A bundle is newline-delimited JSON, optionally gzip- or zstd-compressed as a whole:
//
//   line 1      header  {"format":"berth-updates","version":1,"created":ISO,"updaters":[UpdaterEntry…]}
//   lines 2..n  records {"u":updater,"a":Advisory}      (a full data set, or a delta's new/changed record)
//                       {"u":updater,"w":key}          (a delta: the record with that key is withdrawn)
//   last line   trailer {"end":"berth-updates","lines":n-1,"sha256":hex,"signature"?:{alg,key_id,value}}
//
// `sha256` is over the exact uncompressed bytes of every line before the trailer, newlines
// included, so the header (fingerprints, counts, delta bases) is covered too. The optional
// signature is ECDSA P-256 over the string `berth-updates:v1:sha256:<hex>`. Records are grouped by
// updater in header order.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { PassThrough, Transform, type Writable, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Advisory } from '../model.js';

export const BUNDLE_FORMAT = 'berth-updates';
export const BUNDLE_VERSION = 1;

export interface UpdaterEntry {
  name: string;
  /** The fingerprint of the updater's data set after this bundle is applied. */
  fingerprint: string;
  /** Record lines ({"u","a"}) of this updater in the bundle. */
  records: number;
  /** Withdrawal lines ({"u","w"}) (deltas only). */
  withdrawn?: number;
  /** When the data was fetched from upstream (ISO 8601): the data's age is measured from here. */
  fetched: string;
  /** Present on a delta: the fingerprint the importer must hold for this updater. */
  delta_base?: string;
  /** The number of records the full data set has once the delta is applied (deltas only). */
  total?: number;
}

export interface BundleHeader {
  format: typeof BUNDLE_FORMAT;
  version: number;
  created: string;
  /** Which Berth wrote it (informational). */
  generator?: string;
  updaters: UpdaterEntry[];
}

export interface BundleTrailer {
  end: typeof BUNDLE_FORMAT;
  lines: number;
  sha256: string;
  signature?: { alg: 'ES256'; key_id: string; value: string };
}

export type RecordLine = { u: string; a: Advisory } | { u: string; w: string };

/** The string a bundle signature signs. */
export function signedMessage(sha256: string): string {
  return `berth-updates:v1:sha256:${sha256}`;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

// ---- lines --------------------------------------------------------------------------------------

/**
 * Splits a byte stream into lines (without the newline), as Buffers holding the exact bytes, so a
 * checksum over them is over what was written. Memory: one chunk plus the current partial line.
 */
export async function* splitLines(source: AsyncIterable<Buffer | Uint8Array>, maxLine = 64 * 1024 * 1024): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  for await (const c of source) {
    const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        pending.push(chunk.subarray(start));
        pendingLen += chunk.length - start;
        if (pendingLen > maxLine) throw new BundleError(`a line is longer than ${maxLine} bytes: not a bundle`);
        break;
      }
      const piece = chunk.subarray(start, nl);
      if (pending.length) {
        pending.push(piece);
        yield Buffer.concat(pending, pendingLen + piece.length);
        pending = [];
        pendingLen = 0;
      } else yield piece;
      start = nl + 1;
    }
  }
  if (pendingLen) yield Buffer.concat(pending, pendingLen);
}

// ---- compression --------------------------------------------------------------------------------

export type BundleCompression = 'gzip' | 'zstd' | 'none';

/** Compression chosen by file name: `.gz` gzip, `.zst` zstd, anything else plain. */
export function compressionFor(file: string): BundleCompression {
  if (/\.gz$/i.test(file)) return 'gzip';
  if (/\.zst$/i.test(file)) return 'zstd';
  return 'none';
}

export interface BundleSink {
  /** Where NDJSON text goes. */
  input: Writable;
  /** Resolves when every byte is on disk (or rejects with the first error). */
  done: Promise<void>;
}

/**
 * A compressing writer to a file (or stdout when `file` is '-').
 *
 * zstd: Node 20's zlib has no zstd and the project's `fzstd` only decompresses. There is no
 * well-kept pure-JavaScript zstd *encoder* on npm (the maintained ones are native addons or
 * WebAssembly builds with their own release cadence), so writing `.zst` spawns the `zstd` binary
 * (Debian package `zstd`, present on most distributions) with a clear error when it is missing.
 * Reading `.zst` never needs it (fzstd). gzip uses zlib in-process.
 */
export function bundleSink(file: string, compression: BundleCompression = compressionFor(file)): BundleSink {
  const out: Writable = file === '-' ? process.stdout : createWriteStream(file);
  const closed =
    file === '-'
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          out.on('close', resolve);
          out.on('error', reject);
        });
  if (compression === 'none') {
    const input = new PassThrough({ highWaterMark: 1 << 20 });
    input.pipe(out);
    const done = new Promise<void>((resolve, reject) => {
      input.on('error', reject);
      if (file === '-') input.on('end', resolve);
      else closed.then(resolve, reject);
    });
    return { input, done };
  }
  if (compression === 'gzip') {
    const gz = createGzip({ level: 6, chunkSize: 1 << 16 });
    gz.pipe(out);
    const done = new Promise<void>((resolve, reject) => {
      gz.on('error', reject);
      if (file === '-') gz.on('end', resolve);
      else closed.then(resolve, reject);
    });
    return { input: gz, done };
  }
  const child = spawn('zstd', ['-q', '-c', '-3', '-T0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout.pipe(out);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new BundleError(
          e.code === 'ENOENT'
            ? 'writing a .zst bundle needs the `zstd` program (apt-get install zstd), or name the bundle .gz'
            : `zstd: ${e.message}`,
        ),
      );
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new BundleError(`zstd exited ${code}: ${stderr.trim()}`));
      if (file === '-') resolve();
      else closed.then(resolve, reject);
    });
  });
  child.stdin.on('error', () => {}); // surfaced through 'close'/'error' above
  return { input: child.stdin, done };
}

/** Writes one string to a stream, waiting for 'drain' when its buffer is full. */
export async function writeLine(w: Writable, text: string): Promise<void> {
  if (!w.write(text)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        w.off('error', onError);
        resolve();
      };
      const onError = (e: Error) => {
        w.off('drain', onDrain);
        reject(e);
      };
      w.once('drain', onDrain);
      w.once('error', onError);
    });
  }
}

/** A Transform that counts the bytes passing through (progress display). */
export function byteCounter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

export type { Readable };
