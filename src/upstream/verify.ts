// A pass-through stream that hashes what flows and fails at the end when the bytes do not match the digest.
import { Transform, type TransformCallback } from 'node:stream';
import { contentHasher, type ContentHasher, type DigestAlgorithm } from '../crypto/index.js';
import { parseDigest } from '../oci/digest.js';
import { UpstreamDigestError } from './errors.js';

/**
 * Passes chunks through unchanged and errors (UpstreamDigestError) instead of ending when the hash of
 * everything that passed is not `digest`, or when `size` is given and the byte count differs. The last
 * chunk is held back until the check passes, so a reader never sees the end of a wrong stream.
 */
export function digestVerifier(digest: string, size?: number): Transform {
  const d = parseDigest(digest);
  if (!d) throw new UpstreamDigestError(`"${digest}" is not a supported digest`, digest, '');
  const hasher: ContentHasher = contentHasher(d.algorithm as DigestAlgorithm);
  let bytes = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hasher.update(chunk);
      bytes += chunk.length;
      const out = held;
      held = chunk;
      cb(null, out);
    },
    flush(cb: TransformCallback) {
      const actual = `${d.algorithm}:${hasher.hex()}`;
      if (size !== undefined && bytes !== size)
        return cb(new UpstreamDigestError(`the upstream sent ${bytes} bytes for blob ${digest} of ${size} bytes`, digest, actual));
      if (actual !== digest)
        return cb(new UpstreamDigestError(`the upstream sent bytes with digest ${actual} for blob ${digest}`, digest, actual));
      if (held) this.push(held);
      cb();
    },
  });
}
