// Config keys of FIPS mode, TLS protocol policy and database secrets (Quay's names where Quay has the key).
import { z } from 'zod';

export const fipsConfigSchema = {
  /** Quay: run with FIPS-approved cryptography only; Berth refuses to start unless the process is in FIPS mode (also serve --fips). */
  FEATURE_FIPS: z.boolean().default(false),
  /** Quay: the TLS cipher suites the HTTPS listener offers (OpenSSL names; TLS 1.3 suites too). FIPS mode refuses non-approved ones. */
  SSL_CIPHERS: z
    .array(z.string().regex(/^[A-Za-z0-9_+-]+$/, 'must be one OpenSSL cipher suite name'))
    .min(1)
    .optional(),
  /** Quay: the TLS protocol versions the HTTPS listener accepts, e.g. [TLSv1.2, TLSv1.3]. */
  SSL_PROTOCOLS: z.array(z.string()).min(1).optional(),
  /**
   * Quay: the key that encrypts secrets stored in the database (token-signing private keys, AES-256-GCM).
   * Without it Berth keeps a random key in <DATA_DIR>/database-secret.key; replicas sharing a database need the same key.
   */
  DATABASE_SECRET_KEY: z.string().min(32, 'must be at least 32 characters (for example: openssl rand -hex 32)').optional(),
};
