// Config keys of accounts, registry auth and HTTPS (Quay's names where Quay has the key).
import { z } from 'zod';

const bool = z.boolean();

export const accountsConfigSchema = {
  /** Quay: Database (accounts in Berth's database) or LDAP (docs/AUTH.md). Berth: None = open registry, anyone reads and writes everything (tests, local play only). */
  AUTHENTICATION_TYPE: z.enum(['Database', 'LDAP', 'None']).default('Database'),
  /** Quay: usernames that are superusers. */
  SUPER_USERS: z.array(z.string().min(1)).default([]),
  /** Quay: anonymous callers may pull public repositories. */
  FEATURE_ANONYMOUS_ACCESS: bool.default(true),
  /** Quay: repositories created by a push are private. */
  CREATE_PRIVATE_REPO_ON_PUSH: bool.default(true),
  /** Quay: users may create app-specific tokens (login with username $app). */
  FEATURE_APP_SPECIFIC_TOKENS: bool.default(true),
  /** Quay: anyone may sign up through the API (Berth's default: off; superusers always may create users). */
  FEATURE_USER_CREATION: bool.default(false),
  /** Berth: PBKDF2-HMAC-SHA256 iterations for new password hashes. */
  PBKDF2_ITERATIONS: z.number().int().min(1000).max(10_000_000).default(600_000),
  /** Berth: lifetime of registry bearer tokens. */
  TOKEN_EXPIRATION_SECONDS: z.number().int().min(30).max(86_400).default(3600),
  /** Berth: algorithm of the keys Berth generates to sign registry tokens. */
  TOKEN_SIGNING_ALGORITHM: z.enum(['ES256', 'RS256']).default('ES256'),
  /** Berth: a signing key older than this is replaced by a new one (new kid); the old one keeps verifying until its tokens expire. */
  TOKEN_KEY_ROTATION_DAYS: z.number().positive().default(30),
  /** Berth: lifetime of a UI session cookie. */
  SESSION_EXPIRATION_SECONDS: z
    .number()
    .int()
    .min(60)
    .default(12 * 3600),
  /** Berth: failed logins allowed per account and per client address before each further attempt is delayed. */
  LOGIN_FAILURE_LIMIT: z.number().int().min(1).default(5),
  /** Berth: the first delay after the limit, doubled at each further failure (capped at 15 minutes). */
  LOGIN_BACKOFF_SECONDS: z.number().positive().default(2),
  /** Berth: the first superuser, created on start when no user exists yet. */
  BOOTSTRAP_ADMIN: z
    .object({
      username: z.string().min(1),
      email: z.string().optional(),
      password: z.string().min(8).optional(),
      password_file: z.string().min(1).optional(),
    })
    .refine((v) => v.password !== undefined || v.password_file !== undefined, 'needs password or password_file')
    .optional(),
  /** Berth: serve HTTPS with this PEM certificate chain and key (reloaded when the files change). */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /** Berth: with TLS on, also serve plain HTTP here (HOST:PORT) for local clients. */
  HTTP_LISTEN: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT')
    .optional(),
};
