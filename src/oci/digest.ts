// Digest parsing and validation (OCI image-spec "Digests").
import { DIGEST_ALGORITHMS, type DigestAlgorithm, hashHex } from '../crypto/index.js';
import { RegistryError } from './errors.js';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha384: 96, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: string;
}

/** Parses a digest string; null if it is not a supported, well-formed digest. */
export function parseDigest(value: string): ParsedDigest | null {
  const m = DIGEST_RE.exec(value);
  if (!m) return null;
  const algorithm = m[1] as DigestAlgorithm;
  if (!DIGEST_ALGORITHMS.includes(algorithm)) return null;
  const hex = m[2];
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) return null;
  return { algorithm, hex, digest: value };
}

export function looksLikeDigest(value: string): boolean {
  return value.includes(':');
}

/** Parses a digest or throws DIGEST_INVALID naming what was wrong. */
export function requireDigest(value: string, what = 'digest'): ParsedDigest {
  const d = parseDigest(value);
  if (!d) {
    const algo = value.split(':')[0];
    const reason =
      value.includes(':') && !DIGEST_ALGORITHMS.includes(algo as DigestAlgorithm)
        ? `unsupported digest algorithm "${algo}" (supported: ${DIGEST_ALGORITHMS.join(', ')})`
        : `malformed ${what} "${value.slice(0, 200)}"`;
    throw new RegistryError('DIGEST_INVALID', reason, { digest: value.slice(0, 200) });
  }
  return d;
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${hashHex(algorithm, data)}`;
}
