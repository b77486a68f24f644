// The only module that imports node:crypto. Every algorithm choice lives here.
import { createHash, createHmac, randomBytes, randomUUID, type Hash } from 'node:crypto';

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
    update: (chunk) => {
      h.update(chunk);
    },
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

// ---- Accounts: password hashing, token digests, signing keys (issue 3) ----
import { pbkdf2 as pbkdf2Cb, timingSafeEqual, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';

/** PBKDF2-HMAC-SHA256 (FIPS-approved) with a per-password random salt. Format: pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>. */
export async function hashPassword(password: string, iterations: number): Promise<string> {
  const salt = randomBytes(16);
  const hash = await pbkdf2(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function pbkdf2(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2Cb(password.normalize('NFC'), salt, iterations, 32, 'sha256', (e, key) => (e ? reject(e) : resolve(key))),
  );
}

/** Checks a password against a stored hash in constant time; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== 'pbkdf2-sha256' || !/^\d+$/.test(parts[1])) return false;
  const expected = Buffer.from(parts[3], 'base64');
  const actual = await pbkdf2(password, Buffer.from(parts[2], 'base64'), Number(parts[1]));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The iteration count of a stored password hash (to re-hash when the configured count grows). */
export function passwordIterations(stored: string): number {
  return Number(stored.split('$')[1]) || 0;
}

/**
 * A high-entropy secret (robot token, app token, session id) is stored as its SHA-256 digest:
 * the database never holds the secret itself, and lookup by digest stays an index hit.
 */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export type SigningAlgorithm = 'ES256' | 'RS256';

/** A new key pair for signing registry tokens, as PEM (PKCS#8 private, SPKI public). */
export function generateSigningKey(alg: SigningAlgorithm): { privatePem: string; publicPem: string } {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 3072 });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The WebCrypto implementation (for X.509 certificate building) and ECDSA P-256 key pairs for certificates. */
export const webCrypto = webcrypto as unknown as Crypto;

export async function generateCertificateKeyPair(): Promise<CryptoKeyPair> {
  return webCrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webCrypto.subtle.exportKey('pkcs8', key));
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/** A positive random certificate serial number (hex). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  if (b[0] === 0) b[0] = 1;
  return b.toString('hex');
}

/** Basic facts of a PEM certificate (for `berth certs` messages and checks). */
export function certificateInfo(pem: string): { subject: string; validTo: string; subjectAltName?: string; fingerprint256: string } {
  const c = new X509Certificate(pem);
  return { subject: c.subject, validTo: c.validTo, subjectAltName: c.subjectAltName, fingerprint256: c.fingerprint256 };
}

/** Imports a PKCS#8 PEM ECDSA P-256 private key for certificate signing (a CA key kept on disk). */
export async function importCertificatePrivateKeyPem(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return webCrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
}

/** HMAC-SHA256 of `data` under `key`, as lowercase hex (webhook signatures). */
export function hmacSha256(key: string | Uint8Array, data: string | Uint8Array): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

// ---- Air-gap bundles: streaming SHA-256 and ECDSA P-256 signatures (issue 7) ----
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** An incremental SHA-256 (a bundle's content checksum, computed as the bytes stream past). */
export function sha256Hasher(): ContentHasher {
  return contentHasher('sha256');
}

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(
      `${what} is not an ECDSA P-256 key (got ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''})`,
    );
  }
}

/** The id of a P-256 key: sha256 of its public key's SPKI DER (hex). Accepts a private or public PEM. */
export function p256KeyId(pem: string): string {
  const pub = /PRIVATE KEY/.test(pem) ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  requireP256(pub, 'the key');
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** ECDSA P-256 with SHA-256 over `message`; the DER signature as base64. Throws for any other key type. */
export function signP256(privatePem: string, message: string | Uint8Array): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(privatePem);
  } catch (e) {
    throw new Error(`cannot read the signing key: ${(e as Error).message}`);
  }
  requireP256(key, 'the signing key');
  return cryptoSign('sha256', typeof message === 'string' ? Buffer.from(message) : message, key).toString('base64');
}

/** Verifies a signature made by signP256; false for a wrong key or altered message, never throws for a bad signature. */
export function verifyP256(publicPem: string, message: string | Uint8Array, signatureB64: string): boolean {
  let key: KeyObject;
  try {
    key = /PRIVATE KEY/.test(publicPem) ? createPublicKey(createPrivateKey(publicPem)) : createPublicKey(publicPem);
  } catch (e) {
    throw new Error(`cannot read the verification key: ${(e as Error).message}`);
  }
  requireP256(key, 'the verification key');
  try {
    return cryptoVerify('sha256', typeof message === 'string' ? Buffer.from(message) : message, key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** Imports a token-signing key pair (PEM, as stored) as WebCrypto keys for JWT signing; RSA keys under 2048 bits are refused. */
export async function importSigningKeys(
  alg: SigningAlgorithm,
  publicPem: string,
  privatePem?: string,
): Promise<{ publicKey: CryptoKey; privateKey?: CryptoKey }> {
  const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const publicKey = await webCrypto.subtle.importKey('spki', der(publicPem), params, true, ['verify']);
  const bits = (publicKey.algorithm as { modulusLength?: number }).modulusLength;
  if (bits !== undefined && bits < 2048) throw new Error(`RSA signing key of ${bits} bits refused: at least 2048 bits are required`);
  const privateKey = privatePem ? await webCrypto.subtle.importKey('pkcs8', der(privatePem), params, false, ['sign']) : undefined;
  return { publicKey, privateKey };
}

/**
 * An X.509 key identifier by RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey bits
 * (not RFC 5280's SHA-1, so certificates are built with approved algorithms only). Hex.
 */
export async function certificateKeyId(publicKey: CryptoKey): Promise<string> {
  const raw = Buffer.from(await webCrypto.subtle.exportKey('raw', publicKey));
  return createHash('sha256').update(raw).digest('hex').slice(0, 40);
}

/** HMAC-SHA256 (hex). */
export function hmacSha256Hex(key: Uint8Array | string, data: Uint8Array | string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

export * from './secrets.js';
export * from './fips.js';
