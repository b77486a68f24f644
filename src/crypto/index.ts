// The only module that imports node:crypto. Every algorithm choice lives here.
import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** An incremental content hasher (for streaming blobs). */
export interface ContentHasher {
  update(chunk: Uint8Array): void;
  /** Returns the hex digest; the hasher cannot be used afterwards. */
  hex(): string;
}

export function contentHasher(algorithm: DigestAlgorithm): ContentHasher {
  const h: Hash = createHash(algorithm);
  return {
    update: (chunk) => { h.update(chunk); },
    hex: () => h.digest('hex'),
  };
}

export function hashHex(algorithm: DigestAlgorithm, data: Uint8Array | string): string {
  return createHash(algorithm).update(data).digest('hex');
}

export function newId(): string {
  return randomUUID();
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
