// One Redis connection (ioredis) from Quay's { host, port, password, ssl } with Berth's failure policy:
// commands fail at once while Redis is unreachable (no offline queue), the callers then use the database,
// the outage is logged once (and the recovery once), and `up` feeds berth_redis_up.
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import type { RedisServerConfig } from '../config/schema-redis.js';
import type { CacheLog } from './types.js';

// ioredis (about 20 MB resident) is loaded only when a Redis connection is configured.
const load = createRequire(import.meta.url);
const redisClass = (): typeof Redis => (load('ioredis') as typeof import('ioredis')).Redis;

export function redisOptions(cfg: RedisServerConfig, extra: RedisOptions = {}): RedisOptions {
  return {
    host: cfg.host,
    port: cfg.port,
    password: cfg.password || undefined,
    db: cfg.db,
    tls: cfg.ssl ? {} : undefined,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // Keep trying forever, at most every two seconds: Redis coming back is noticed within that.
    retryStrategy: (n: number) => Math.min(100 * n, 2000),
    ...extra,
  };
}

/**
 * The health of a server's Redis connections together: the outage is logged once when the first
 * connection drops (not once per connection or retry), and once more when all are back.
 */
export class RedisHealth {
  private readonly down = new Set<string>();
  private outage = false;
  log?: CacheLog;

  report(role: string, up: boolean, where: string, err?: Error): void {
    if (up) this.down.delete(role);
    else this.down.add(role);
    if (!up && !this.outage) {
      this.outage = true;
      const msg = `Redis at ${where} is unreachable${err ? ` (${err.message})` : ''}: serving from the database until it is back`;
      if (this.log) this.log.warn({ event: 'redis_down', role, where }, msg);
      else process.stderr.write(`berth: ${msg}\n`);
    } else if (up && this.outage && this.down.size === 0) {
      this.outage = false;
      this.log?.info({ event: 'redis_up', where }, `Redis at ${where} is reachable again`);
    }
  }
}

export class RedisConnection {
  readonly client: Redis;
  private wasUp = false;
  private closing = false;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(
    readonly cfg: RedisServerConfig,
    readonly role: string,
    readonly health: RedisHealth,
    extra: RedisOptions = {},
  ) {
    this.client = new (redisClass())(redisOptions(cfg, extra));
    const where = `${cfg.host}:${cfg.port}`;
    this.client.on('ready', () => {
      this.wasUp = true;
      health.report(role, true, where);
      for (const l of this.listeners) l(true);
    });
    const down = (err?: Error) => {
      if (this.closing) return;
      for (const l of this.listeners) l(false);
      health.report(role, false, where, err);
    };
    this.client.on('error', (err: Error) => down(err));
    this.client.on('close', () => {
      if (this.wasUp) down();
    });
  }

  get up(): boolean {
    return this.client.status === 'ready';
  }

  onChange(l: (up: boolean) => void): void {
    this.listeners.push(l);
  }

  /** Resolves once connected, or false after `ms` (start-up goes on either way). */
  async ready(ms: number): Promise<boolean> {
    if (this.up) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      t.unref?.();
      this.client.once('ready', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true; // a deliberate close is not an outage
    this.client.disconnect();
  }
}
