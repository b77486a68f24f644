// Table of migration 0022_key_fingerprint (src/db/migrations-key-fingerprint.ts).
export interface SecretKeyFingerprintTable {
  /** Always 1: one row. */
  id: number;
  /** SecretBox.keyId of the key (an HMAC under the key: identifies it, reveals nothing). */
  key_id: string;
  /** Where the first server took the key from: the key file's path, or DATABASE_SECRET_KEY. */
  source: string;
  created_at: number;
}

declare module './types.js' {
  interface Database {
    secret_key_fingerprint: SecretKeyFingerprintTable;
  }
}
