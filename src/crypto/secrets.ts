// Secrets stored in the database (token-signing private keys) are sealed with AES-256-GCM.
// The 256-bit key is derived with HKDF-SHA256 (SP 800-56C) from DATABASE_SECRET_KEY or from the
// random key file Berth keeps in its data directory. Each sealed value carries a key id (so a
// server with the wrong key says so instead of failing obscurely) and is bound to its context
// (for example the row it lives in) as additional authenticated data.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'aes256gcm.v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyError extends Error {}

export class SecretBox {
  /** A short public identifier of the key (not secret: an HMAC of a constant under the key). */
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(material: Uint8Array) {
    if (material.length < 32)
      throw new SecretKeyError('the database secret key must have at least 32 bytes (for example 64 hex characters)');
    this.key = Buffer.from(hkdfSync('sha256', material, 'berth-database-secret', 'aes-256-gcm v1', 32));
    this.keyId = createHmac('sha256', this.key).update('berth key id').digest('hex').slice(0, 16);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(`${PREFIX}.`);
  }

  /** Encrypts text; `context` (for example "signing_key:<kid>") must be given again to open it. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const b64 = (b: Buffer) => b.toString('base64url');
    return [PREFIX, this.keyId, b64(iv), b64(ct), b64(cipher.getAuthTag())].join('.');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    // PREFIX itself contains one dot: aes256gcm . v1 . keyid . iv . ct . tag
    if (parts.length !== 6 || `${parts[0]}.${parts[1]}` !== PREFIX) throw new SecretKeyError('not a sealed secret');
    const [, , keyId, iv, ct, tag] = parts;
    if (keyId !== this.keyId) {
      throw new SecretKeyError(
        `this secret was sealed with another database secret key (key id ${keyId}; this server's is ${this.keyId}): ` +
          'every replica must use the same DATABASE_SECRET_KEY (or the same key file)',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError('a sealed secret failed authentication (it was altered or moved to another row)');
    }
  }
}

/** New random key material for the key file (hex text, 256 bits). */
export function newSecretKeyMaterial(): string {
  return randomBytes(32).toString('hex');
}
