// The Redis engine, for replicas: a first level in this process (GenerationStore) in front of a shared
// second level in Redis. Keys:
//   <prefix>gen             HASH group -> generation (HINCRBY on every invalidation)
//   <prefix>v:<group>:<gen> HASH key -> JSON value, expiring after the TTL
//   <prefix>inv             pub/sub channel: "<group>\n<generation>" after every invalidation
// A replica reads and writes values under the generation it knows; an invalidation moves the generation
// in Redis and tells every replica, so values loaded before it are never read again anywhere.
// While either connection is down (or after the subscriber reconnects, when messages may have been
// missed) the first level is dropped and lookups go to the database.
import type { RedisConnection } from './redis-connection.js';
import { GenerationStore } from './memory.js';
import type { CacheLog, DataModelCache } from './types.js';

export const DEFAULT_PREFIX = 'berth:cache:';

export class RedisCache implements DataModelCache {
  readonly engine = 'redis' as const;
  private readonly l1: GenerationStore;
  private subscribed = false;
  log?: CacheLog;

  constructor(
    private readonly conn: RedisConnection,
    private readonly sub: RedisConnection,
    private readonly ttlSeconds: number,
    private readonly prefix = DEFAULT_PREFIX,
  ) {
    this.l1 = new GenerationStore(ttlSeconds * 1000);
    const channel = `${prefix}inv`;
    sub.client.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      const i = message.lastIndexOf('\n');
      const gen = Number(message.slice(i + 1));
      if (i > 0 && Number.isSafeInteger(gen)) this.l1.advance(message.slice(0, i), gen);
    });
    const resubscribe = () => {
      this.subscribed = false;
      this.l1.reset();
      sub.client.subscribe(channel).then(
        () => {
          this.l1.reset();
          this.subscribed = true;
        },
        () => undefined,
      );
    };
    sub.onChange((up) => {
      if (up) resubscribe();
      else {
        this.subscribed = false;
        this.l1.reset();
      }
    });
    conn.onChange((up) => {
      if (!up) this.l1.reset();
    });
    if (sub.up) resubscribe();
  }

  /** Both connections up and subscribed: only then are cached values trusted. */
  get usable(): boolean {
    return this.subscribed && this.conn.up && this.sub.up;
  }

  private async generation(group: string): Promise<number> {
    if (this.l1.known(group)) return this.l1.gen(group);
    const raw = await this.conn.client.hget(`${this.prefix}gen`, group);
    const gen = Number(raw ?? 0);
    if (gen > this.l1.gen(group) || !this.l1.known(group)) this.l1.advance(group, Math.max(gen, this.l1.gen(group)));
    return this.l1.gen(group);
  }

  async fetch<T>(group: string, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.usable) return load();
    let gen: number;
    try {
      gen = await this.generation(group);
    } catch {
      return load();
    }
    const hit = this.l1.get(group, key);
    if (hit) return hit.value as T;
    const vkey = `${this.prefix}v:${group}:${gen}`;
    try {
      const raw = await this.conn.client.hget(vkey, key);
      if (raw !== null) {
        const value = decode(raw) as T;
        this.l1.set(group, key, value, gen);
        return value;
      }
    } catch {
      return load();
    }
    const value = await load();
    if (value !== undefined && this.usable) {
      this.l1.set(group, key, value, gen);
      this.conn.client
        .multi()
        .hset(vkey, key, encode(value))
        .expire(vkey, this.ttlSeconds)
        .exec()
        .catch(() => undefined);
    }
    return value;
  }

  async invalidate(...groups: string[]): Promise<void> {
    for (const group of groups) {
      this.l1.advance(group);
      try {
        const gen = await this.conn.client.hincrby(`${this.prefix}gen`, group, 1);
        this.l1.advance(group, Math.max(gen, this.l1.gen(group)));
        await this.conn.client.publish(`${this.prefix}inv`, `${group}\n${gen}`);
      } catch (e) {
        this.l1.reset(); // re-read every generation from Redis once it answers
        // The other replicas cannot be told: their entries expire within the TTL (docs/SCALE-OUT.md).
        this.log?.warn({ event: 'cache_invalidation_failed', group, err: (e as Error).message }, 'cache invalidation did not reach Redis');
      }
    }
  }

  async close(): Promise<void> {
    await this.sub.close();
    await this.conn.close();
  }
}

/** JSON with byte arrays (manifest content) as base64. */
export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, k, v) {
    const raw = this[k];
    if (raw instanceof Uint8Array) return { $b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    return v;
  });
}

export function decode(text: string): unknown {
  return JSON.parse(text, (_k, v) =>
    v && typeof v === 'object' && typeof v.$b64 === 'string' && Object.keys(v).length === 1 ? Buffer.from(v.$b64, 'base64') : v,
  );
}
