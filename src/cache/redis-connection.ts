// One Redis connection (ioredis) from Quay's { host, port, password, ssl } with Berth's failure policy:
// commands fail at once while Redis is unreachable (no offline queue), the callers then use the database,
// the outage is logged once (and the recovery once), and `up` feeds berth_redis_up.
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisServerConfig } from '../config/schema-redis.js';
import type { CacheLog } from './types.js';

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

export class RedisConnection {
  readonly client: Redis;
  private wasUp = false;
  private downLogged = false;
  private readonly listeners: ((up: boolean) => void)[] = [];
  log?: CacheLog;

  constructor(readonly cfg: RedisServerConfig, readonly role: string, extra: RedisOptions = {}) {
    this.client = new Redis(redisOptions(cfg, extra));
    this.client.on('ready', () => {
      if (this.downLogged) this.log?.info({ event: 'redis_up', role, host: cfg.host, port: cfg.port }, `Redis (${role}) is reachable again`);
      this.downLogged = false;
      this.wasUp = true;
      for (const l of this.listeners) l(true);
    });
    const down = (err?: Error) => {
      for (const l of this.listeners) l(false);
      if (this.downLogged) return;
      this.downLogged = true;
      const msg = `Redis (${role}) at ${cfg.host}:${cfg.port} is unreachable${err ? ` (${err.message})` : ''}: serving from the database until it is back`;
      if (this.log) this.log.warn({ event: 'redis_down', role, host: cfg.host, port: cfg.port }, msg);
      else process.stderr.write(`berth: ${msg}\n`);
    };
    this.client.on('error', (err: Error) => down(err));
    this.client.on('close', () => { if (this.wasUp || this.downLogged) down(); });
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
      this.client.once('ready', () => { clearTimeout(t); resolve(true); });
    });
  }

  async close(): Promise<void> {
    this.downLogged = true; // a deliberate close is not an outage
    this.client.disconnect();
  }
}
