// The one compression sniffer of the scanner: layers (indexer/layer-reader.ts), advisory feeds and
// air-gap bundles (updaters/fetcher.ts) are recognised by their first bytes here; zstd is decoded by
// ./zstd.ts and gzip by zlib.
import { createGunzip } from 'node:zlib';
import type { Transform } from 'node:stream';
import { ZstdDecompress } from './zstd.js';

export type Compression = 'gzip' | 'zstd' | 'zip' | 'xz' | 'bzip2' | 'none';

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

/** A decoder for a stream compression the scanner reads (gzip, zstd). */
export function decoder(c: 'gzip' | 'zstd', opts: { chunkSize?: number } = {}): Transform {
  return c === 'gzip' ? createGunzip(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}) : new ZstdDecompress();
}
