// A blob fetched from the upstream streams to the client WHILE it is written to an upload file: the bytes
// pass a digest check that holds back the last chunk, so a client never receives the end of wrong content
// (its connection is cut instead) and wrong content is never stored. Verified bytes are committed like a push.
import { PassThrough, type Readable } from 'node:stream';
import { newId } from '../../crypto/index.js';
import { parseDigest } from '../../oci/digest.js';
import type { ServiceContext } from '../context.js';
import { linkBlob } from '../blob-links.js';
import { MAX_BLOB_BYTES } from '../uploads.js';
import { digestVerifier, type Blob } from '../../upstream/index.js';

export interface TeedBlob {
  /** What the client reads: the upstream's bytes, ending only after they were verified. */
  stream: Readable;
  /** Content-Length from the upstream, when it sent one. */
  size?: number;
  /** Settles when the blob is stored (resolves) or was refused / failed (rejects). */
  stored: Promise<void>;
}

/** Tees an upstream blob response into the client stream and the blob store of `repositoryId`. */
export function teeBlob(ctx: ServiceContext, repositoryId: number, digest: string, upstream: Blob): TeedBlob {
  const parsed = parseDigest(digest);
  if (!parsed) throw new Error(`not a digest: ${digest}`);
  const verifier = digestVerifier(digest, upstream.size);
  const toStore = new PassThrough();
  const toClient = new PassThrough();
  // Their errors are observed by their readers (the store's pipeline, the response); never unhandled meanwhile.
  toStore.on('error', () => undefined);
  toClient.on('error', () => undefined);
  upstream.stream.on('error', (e) => verifier.destroy(e));
  upstream.stream.on('aborted', () => verifier.destroy(new Error('the upstream closed the connection mid-blob')));
  upstream.stream.pipe(verifier);
  verifier.on('error', (e) => {
    toStore.destroy(e);
    toClient.destroy(e);
  });
  verifier.pipe(toStore);
  verifier.pipe(toClient);
  // A client that goes away must not stop the store's copy: its pipe is dropped, the other keeps flowing.
  toClient.on('close', () => {
    if (!toClient.writableFinished) verifier.unpipe(toClient);
    verifier.resume();
  });
  const id = newId();
  const { store, db } = ctx;
  const stored = (async () => {
    await store.createUpload(id, { singleRequest: true });
    try {
      const written = await store.appendUpload(id, 0, toStore, undefined, MAX_BLOB_BYTES);
      await store.syncUpload(id);
      await store.commitUpload(id, digest);
      await linkBlob(db, repositoryId, digest, written, ctx.now(), undefined, async () => {
        if (!(await store.stat(digest))) await store.commitUpload(id, digest);
      });
    } finally {
      await store.deleteUpload(id).catch(() => undefined);
    }
  })();
  stored.catch(() => undefined);
  return { stream: toClient, size: upstream.size, stored };
}
