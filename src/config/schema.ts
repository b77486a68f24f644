// The shape of config.yaml: Quay's key names where they mean the same thing.
import { z } from 'zod';
import { accountsConfigSchema } from './schema-accounts.js';
import { artifactsConfigSchema } from './schema-artifacts.js';
import { scannerConfigSchema } from './schema-scanner.js';
import { airgapConfigSchema } from './schema-airgap.js';
import { metricsConfigSchema } from './schema-metrics.js';
import { fipsConfigSchema } from './schema-fips.js';
import { tagsConfigSchema } from './schema-tags.js';
import { auditConfigSchema } from './schema-audit.js';
import { identityConfigSchema } from './schema-identity.js';
import { edgeConfigSchema } from './schema-edge.js';
import { storageConfigSchema } from './schema-storage.js';
import { redisConfigSchema } from './schema-redis.js';
import { quotaConfigSchema } from './schema-quota.js';
import { mirrorConfigSchema } from './schema-mirror.js';
import { proxyCacheConfigSchema } from './schema-proxy-cache.js';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'must be HOST:PORT (for example 0.0.0.0:8080)');

export const configSchema = z
  .object({
    /** Quay: the registry's public host[:port]. Unset: the realm and token service follow the request's Host (or the listen address). */
    SERVER_HOSTNAME: z.string().min(1).optional(),
    PREFERRED_URL_SCHEME: z.enum(['http', 'https']).default('http'),
    DB_URI: z
      .string()
      .regex(/^(sqlite:\/\/\/|sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite:/// or postgresql://')
      .optional(),
    /**
     * max_connections: PostgreSQL pool size (default 10); prepared_statements: false runs every statement unnamed (for a
     * pooler in transaction mode that cannot keep named statements; default true: parsed and planned once per
     * connection). SQLite: wal_checkpoint_mib, how much the WAL may grow before
     * the checkpoint thread copies it into the database (default 4); wal_limit_mib, the size at which a checkpoint runs
     * in the foreground because the thread fell behind (default 64, at least twice wal_checkpoint_mib).
     */
    DB_CONNECTION_ARGS: z
      .object({
        max_connections: z.number().int().positive().optional(),
        prepared_statements: z.boolean().optional(),
        wal_checkpoint_mib: z.number().positive().max(1024).optional(),
        wal_limit_mib: z.number().positive().max(65536).optional(),
      })
      .loose()
      .refine((a) => (a.wal_limit_mib ?? 64) >= 2 * (a.wal_checkpoint_mib ?? 4), {
        message: 'wal_limit_mib must be at least twice wal_checkpoint_mib',
      })
      .optional(),
    /** Berth: where the server listens (also --listen). */
    LISTEN: hostPort.default('0.0.0.0:8080'),
    /** Berth: the data directory for the default SQLite file and blob store (also --data). */
    DATA_DIR: z.string().min(1).default('./data'),
    /** Berth: largest manifest accepted, in bytes. */
    MAXIMUM_MANIFEST_SIZE: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Berth: an upload session untouched for this many seconds may be removed by gc. */
    UPLOAD_EXPIRY_SECONDS: z
      .number()
      .int()
      .positive()
      .default(24 * 3600),
    /** Berth: every replica tries a gc pass this often (one at a time: a PostgreSQL advisory lock); 0: only `berth gc`. */
    GC_INTERVAL_SECONDS: z.number().int().nonnegative().default(0),
    /** Berth: blobs younger than this are never collected (protects pushes in flight). */
    GC_GRACE_SECONDS: z.number().int().nonnegative().default(3600),
    /** Berth: a safety-net sweep of every manifest, link, blob and stored file starts this long after the last one ended (0: only `berth gc --sweep`). */
    GC_SWEEP_INTERVAL_SECONDS: z
      .number()
      .int()
      .nonnegative()
      .default(7 * 24 * 3600),
    /** Berth: database rows a gc pass sweeps at most (a sweep goes on over as many passes as it needs). */
    GC_SWEEP_ROWS: z.number().int().positive().default(100_000),
    /** Berth: default and largest page size of tag list and catalog. */
    LIST_PAGE_MAX: z.number().int().positive().default(10000),
    /** Berth: seconds SIGTERM waits for in-flight requests. */
    SHUTDOWN_GRACE_SECONDS: z.number().int().nonnegative().default(30),
    ...accountsConfigSchema,
    ...artifactsConfigSchema,
    ...scannerConfigSchema,
    ...airgapConfigSchema,
    ...metricsConfigSchema,
    ...fipsConfigSchema,
    ...tagsConfigSchema,
    ...auditConfigSchema,
    ...identityConfigSchema,
    ...edgeConfigSchema,
    ...storageConfigSchema,
    ...redisConfigSchema,
    ...quotaConfigSchema,
    ...mirrorConfigSchema,
    ...proxyCacheConfigSchema,
  })
  .loose();

export type RawConfig = z.infer<typeof configSchema>;
