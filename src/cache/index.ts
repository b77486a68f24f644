// Builds the data-model cache and the Redis connections from DATA_MODEL_CACHE_CONFIG and PULL_METRICS_REDIS,
// and reports whether Redis is up (berth_redis_up). Without Redis: the in-memory engine, nothing to connect.
import type { BerthConfig } from '../config/load.js';
import type { RedisServerConfig } from '../config/schema-redis.js';
import { InMemoryCache } from './memory.js';
import { RedisCache } from './redis.js';
import { RedisConnection, RedisHealth } from './redis-connection.js';
import type { CacheLog, DataModelCache } from './types.js';

export type { DataModelCache, CacheLog } from './types.js';
export { CacheGroups } from './types.js';

export interface RedisSetup {
  /** Undefined with engine `none`: every lookup reads the database. */
  cache?: DataModelCache;
  /** The connection pull counts go through (PULL_METRICS_REDIS), when configured. */
  pullMetrics?: RedisConnection;
  /** Every Redis connection this server uses; empty without Redis. */
  connections: RedisConnection[];
  /** 1 when every configured Redis connection is up, 0 when any is down; undefined without Redis. */
  up(): number | undefined;
  set log(log: CacheLog);
  close(): Promise<void>;
}

function sameServer(a: RedisServerConfig, b: RedisServerConfig): boolean {
  return a.host === b.host && a.port === b.port && (a.db ?? 0) === (b.db ?? 0) && a.password === b.password && a.ssl === b.ssl;
}

export function buildRedisSetup(config: BerthConfig): RedisSetup {
  const raw = config.raw;
  const cacheCfg = raw.DATA_MODEL_CACHE_CONFIG;
  const ttl = cacheCfg?.ttl_seconds ?? 300;
  const connections: RedisConnection[] = [];
  const health = new RedisHealth();
  let cache: DataModelCache | undefined = cacheCfg?.engine === 'none' ? undefined : new InMemoryCache(ttl);
  let redisCache: RedisCache | undefined;
  let main: RedisConnection | undefined;
  if (cacheCfg?.engine === 'redis' && cacheCfg.redis_config?.primary) {
    const primary = cacheCfg.redis_config.primary;
    main = new RedisConnection(primary, 'data model cache', health);
    // A subscribed connection can run nothing else; it keeps an offline queue so it re-subscribes by itself.
    const sub = new RedisConnection(primary, 'cache invalidation', health, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    connections.push(main, sub);
    cache = redisCache = new RedisCache(main, sub, ttl);
  }
  let pullMetrics: RedisConnection | undefined;
  const pm = raw.PULL_METRICS_REDIS;
  if (pm) {
    pullMetrics = main && sameServer(main.cfg, pm) ? main : new RedisConnection(pm, 'pull metrics', health);
    if (!connections.includes(pullMetrics)) connections.push(pullMetrics);
  }
  return {
    cache,
    pullMetrics,
    connections,
    up: () => (connections.length ? (connections.every((c) => c.up) ? 1 : 0) : undefined),
    set log(log: CacheLog) {
      health.log = log;
      if (redisCache) redisCache.log = log;
    },
    async close() {
      await cache?.close();
      for (const c of connections) await c.close();
    },
  };
}
