// Reading a small stored blob (a config JSON) whole, with a hard limit: the one place that buffers a blob.
import type { BlobStore } from './blobstore.js';

export class BlobTooLarge extends Error {}

/** The bytes of a blob of at most `limit` bytes; throws BlobTooLarge (and stops reading) past it. */
export async function readSmallBlob(store: BlobStore, digest: string, limit: number): Promise<Buffer> {
  const stream = store.read(digest);
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
