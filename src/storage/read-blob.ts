// Reading a small stored blob (a config JSON) whole, with a hard limit: the one place that buffers a blob.
import type { Readable } from 'node:stream';
import type { BlobStore } from './blobstore.js';

export class BlobTooLarge extends Error {}

/**
 * The bytes of a blob of at most `limit` bytes; throws BlobTooLarge (and stops reading) past it.
 * `size` (the descriptor's) sizes the read: the stream then reads exactly that many bytes plus one to see
 * the end, instead of through a 1 MiB buffer and an extra read. A blob longer than its descriptor said is
 * read again whole, so the result never depends on the hint.
 */
export async function readSmallBlob(store: BlobStore, digest: string, limit: number, size?: number): Promise<Buffer> {
  if (size !== undefined && Number.isSafeInteger(size) && size > 0 && size <= limit) {
    const bytes = await collect(store.read(digest, { start: 0, end: size }), digest, limit);
    if (bytes.length <= size) return bytes;
  }
  return collect(store.read(digest), digest, limit);
}

async function collect(stream: Readable, digest: string, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) {
      stream.destroy();
      throw new BlobTooLarge(`blob ${digest} is larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, n);
}
