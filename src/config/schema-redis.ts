// Config keys of Redis, with Quay's names: DATA_MODEL_CACHE_CONFIG (the data-model cache shared by replicas)
// and PULL_METRICS_REDIS (pull counts and last-pulled times, flushed to the database in batches). docs/SCALE-OUT.md.
import { z } from 'zod';

/** One Redis server as Quay writes it: { host, port, password, ssl } (db: Berth, a database number). */
export const redisServerSchema = z
  .object({
    host: z.string({ error: (i) => (i.input === undefined ? 'required' : 'must be a string') }).min(1, 'must not be empty'),
    port: z.number().int().min(1).max(65535).default(6379),
    password: z.string().optional(),
    ssl: z.boolean().default(false),
    db: z.number().int().min(0).max(15).optional(),
  })
  .loose();

export type RedisServerConfig = z.infer<typeof redisServerSchema>;

export const redisConfigSchema = {
  /** Quay: engine `inmemory` (one process; the default) or `redis` (shared by replicas, invalidated through pub/sub);
   *  Berth: `none` (no cache: every lookup reads the database; for replicas without Redis). */
  DATA_MODEL_CACHE_CONFIG: z
    .object({
      engine: z
        .enum(['inmemory', 'redis', 'none'], {
          error: (i) => `unsupported engine ${JSON.stringify(i.input)} (supported: inmemory, redis, none)`,
        })
        .default('inmemory'),
      redis_config: z.object({ primary: redisServerSchema }).loose().optional(),
      /** Berth: seconds an entry lives at most (invalidation normally drops it far sooner). */
      ttl_seconds: z.number().int().positive().max(86_400).default(300),
    })
    .loose()
    .superRefine((v, ctx) => {
      if (v.engine === 'redis' && !v.redis_config?.primary)
        ctx.addIssue({ code: 'custom', path: ['redis_config', 'primary'], message: 'required when engine is redis' });
    })
    .optional(),
  /** Quay: the Redis that counts pulls; unset: counted in memory. Either way flushed to the database in batches. */
  PULL_METRICS_REDIS: redisServerSchema.optional(),
  /** Berth: seconds between flushes of pull counts to the database. */
  PULL_METRICS_FLUSH_SECONDS: z.number().positive().max(3600).default(10),
};
