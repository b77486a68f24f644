// The one compression sniffer of the scanner: layers (indexer/layer-reader.ts), advisory feeds and
// air-gap bundles (updaters/fetcher.ts) are recognised by their first bytes here, and this module
// alone decides which decoder reads them.
//
// gzip: zlib. zstd, fastest first (`zstdDecoder()` says which one this process uses):
//   - 'zlib': Node's own `zlib.createZstdDecompress` (Node 22.15+, 23.8+, 24): libzstd in-process
//     (./zstd-zlib.ts), where it decodes every frame of a multi-frame input (Node 22.23.5's stops after the
//     first one, so there the next decoder is used): found by trying it, never by the Node version;
//   - 'zstd-binary': a `zstd -dc` child process (./zstd-child.ts) when Node has no usable zstd and the
//     zstd binary is on the PATH (the container images install it): libzstd on its own core;
//   - 'fzstd': fzstd, pure JavaScript in a warm worker thread (./zstd.ts), about 4x slower than the
//     others, so that a laptop with neither still indexes zstd layers. It does not verify zstd's content
//     checksum (a layer's bytes are guarded by its sha256 digest, checked when it was pushed).
import * as zlib from 'node:zlib';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { ZstdDecompress } from './zstd.js';
import { ZstdChildDecompress } from './zstd-child.js';
import { ZlibZstdDecompress, hasZlibZstd, zlibZstdDecodesEveryFrame } from './zstd-zlib.js';

export type Compression = 'gzip' | 'zstd' | 'zip' | 'xz' | 'bzip2' | 'none';
export type ZstdDecoderKind = 'zlib' | 'zstd-binary' | 'fzstd';

/** How many leading bytes `detectCompression` needs at most. */
export const SNIFF_BYTES = 6;

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

/** Node's zlib decodes zstd, every frame of it (./zstd-zlib.ts). */
const zlibZstd = (): boolean => hasZlibZstd() && zlibZstdDecodesEveryFrame();

let binary: string | null | undefined;
/** The zstd executable on the PATH, or null (looked up once). */
export function zstdBinary(): string | null {
  if (binary !== undefined) return binary;
  binary = null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'zstd');
    try {
      accessSync(candidate, constants.X_OK);
      binary = candidate;
      break;
    } catch {
      // not here
    }
  }
  return binary;
}

/** Which zstd decoder this process uses (see the note at the top). */
export function zstdDecoder(): ZstdDecoderKind {
  if (zlibZstd()) return 'zlib';
  if (zstdBinary()) return 'zstd-binary';
  return 'fzstd';
}

/** The zstd decoders this process could use, fastest first. */
export function availableZstdDecoders(): ZstdDecoderKind[] {
  const out: ZstdDecoderKind[] = [];
  if (zlibZstd()) out.push('zlib');
  if (zstdBinary()) out.push('zstd-binary');
  out.push('fzstd');
  return out;
}

export interface DecoderOptions {
  /** Output chunk size for zlib's decoders. */
  chunkSize?: number;
  /** Use this zstd decoder instead of the fastest available (tests and benchmarks compare them). */
  zstd?: ZstdDecoderKind;
}

/** A decoder for a stream compression the scanner reads (gzip, zstd). */
export function decoder(c: 'gzip' | 'zstd', opts: DecoderOptions = {}): Duplex {
  const zopts = opts.chunkSize ? { chunkSize: opts.chunkSize } : {};
  if (c === 'gzip') return zlib.createGunzip(zopts);
  const kind = opts.zstd ?? zstdDecoder();
  if (kind === 'zlib') return new ZlibZstdDecompress(zopts);
  if (kind === 'zstd-binary') {
    const bin = zstdBinary();
    if (!bin) throw new Error('no zstd binary on the PATH');
    return new ZstdChildDecompress(bin);
  }
  return new ZstdDecompress();
}
