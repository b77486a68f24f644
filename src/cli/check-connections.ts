// berth config validate --check-connections: tries the blob store, the database and Redis once each (no migrations,
// nothing left behind but a deleted probe object) and prints one line per connection.
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { BerthConfig } from '../config/load.js';
import { describeStorage } from '../storage/open.js';
import type { UploadStateStore } from '../storage/upload-state.js';

export interface ConnectionCheck {
  what: string;
  ok: boolean;
  detail: string;
}

const TIMEOUT_MS = 5000;

/** No upload state is touched by a check. */
const NO_STATE: UploadStateStore = {
  create: () => Promise.reject(new Error('not used')),
  get: () => Promise.resolve(null),
  swap: () => Promise.resolve(null),
  delete: () => Promise.resolve(),
  list: () => Promise.resolve([]),
};

function writableDir(p: string): string | undefined {
  let dir = p;
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (e) {
    return `${dir} is not writable (${(e as NodeJS.ErrnoException).code})`;
  }
}

async function checkStorage(config: BerthConfig): Promise<ConnectionCheck> {
  const s = config.storage;
  const what = `storage (${s.configKey}, ${describeStorage(s)})`;
  if (s.kind === 'local') {
    const problem = writableDir(s.path);
    return { what, ok: !problem, detail: problem ?? 'writable' };
  }
  const { S3BlobStore } = await import('../storage/s3-blobstore.js');
  const store = new S3BlobStore(s, NO_STATE);
  try {
    await store.check();
    return { what, ok: true, detail: 'bucket reachable; listing, writing and deleting under the prefix work' };
  } catch (e) {
    return { what, ok: false, detail: (e as Error).message.replace(`${s.configKey} (${store.describe}): `, '') };
  } finally {
    store.close();
  }
}

async function checkDatabase(config: BerthConfig): Promise<ConnectionCheck> {
  if (config.db.kind === 'sqlite') {
    const problem = config.db.file === ':memory:' ? undefined : writableDir(path.dirname(config.db.file));
    return { what: `database (DB_URI, SQLite ${config.db.file})`, ok: !problem, detail: problem ?? 'directory writable' };
  }
  const u = new URL(config.db.uri);
  const what = `database (DB_URI, PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname})`;
  const client = new pg.Client({ connectionString: config.db.uri, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS });
  try {
    await client.connect();
    const r = await client.query<{ v: string }>('select version() as v');
    return { what, ok: true, detail: r.rows[0].v.split(' ').slice(0, 2).join(' ') };
  } catch (e) {
    return { what, ok: false, detail: `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim() };
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface RedisTarget {
  key: string;
  host: string;
  port: number;
  password?: string;
  ssl?: boolean;
}

/** Redis servers the config names: DATA_MODEL_CACHE_CONFIG (engine redis) and PULL_METRICS_REDIS, in Quay's shapes. */
function redisTargets(raw: Record<string, unknown>): RedisTarget[] {
  const out: RedisTarget[] = [];
  const cache = raw.DATA_MODEL_CACHE_CONFIG as { engine?: string; redis_config?: { primary?: Record<string, unknown> } } | undefined;
  const primary = cache?.engine === 'redis' ? cache.redis_config?.primary : undefined;
  if (primary && typeof primary.host === 'string') {
    out.push({
      key: 'DATA_MODEL_CACHE_CONFIG.redis_config.primary',
      host: primary.host,
      port: Number(primary.port ?? 6379),
      password: primary.password as string | undefined,
      ssl: !!primary.ssl,
    });
  }
  const pull = raw.PULL_METRICS_REDIS as Record<string, unknown> | undefined;
  if (pull && typeof pull.host === 'string') {
    out.push({
      key: 'PULL_METRICS_REDIS',
      host: pull.host,
      port: Number(pull.port ?? 6379),
      password: pull.password as string | undefined,
      ssl: !!pull.ssl,
    });
  }
  return out;
}

async function checkRedis(t: RedisTarget): Promise<ConnectionCheck> {
  const { Redis } = await import('ioredis');
  const what = `redis (${t.key}, ${t.host}:${t.port})`;
  const client = new Redis({
    host: t.host,
    port: t.port,
    password: t.password || undefined,
    tls: t.ssl ? {} : undefined,
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: (Error & { code?: string }) | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    return { what, ok: pong === 'PONG', detail: pong === 'PONG' ? 'PING answered' : `PING answered ${pong}` };
  } catch (e) {
    const err = lastError ?? (e as NodeJS.ErrnoException);
    return { what, ok: false, detail: `${err.code ?? ''} ${err.message}`.trim() };
  } finally {
    client.disconnect();
  }
}

export async function checkConnections(config: BerthConfig): Promise<ConnectionCheck[]> {
  return Promise.all([checkStorage(config), checkDatabase(config), ...redisTargets(config.raw as Record<string, unknown>).map(checkRedis)]);
}
