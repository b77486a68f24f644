// Replicas sharing one PostgreSQL database: each keeps a heartbeat row (table `replica`), so a replica can tell
// that others are live and which data-model cache they use. An in-memory cache (DATA_MODEL_CACHE_CONFIG.engine
// inmemory, the default) is never told about another process's writes: beside another live replica it serves
// stale tags and permissions for up to its TTL. Berth warns loudly then, at start-up and whenever a replica
// appears; it does not refuse (docs/SCALE-OUT.md says why).
import { hostname } from 'node:os';
import { newId } from '../crypto/index.js';
import type {} from '../db/types-replicas.js';
import type { ServiceContext } from './context.js';

/** How often a replica renews its row (seconds); a row unseen for LIVE_FOR_BEATS of these is a stopped replica. */
export const HEARTBEAT_SECONDS = 15;
const LIVE_FOR_BEATS = 3;

export interface ReplicaLog {
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface ReplicaWatch {
  readonly id: string;
  /** Renews this replica's heartbeat and warns about any live replica not seen before; returns the live others. */
  beat(): Promise<{ id: string; host: string; pid: number; cacheEngine: string }[]>;
  stop(): Promise<void>;
}

/**
 * On PostgreSQL: registers this replica, warns when its cache is in memory, checks for other live replicas now and
 * every `seconds`, and removes its row on stop. SQLite: one process owns the database, nothing to do.
 */
export async function watchReplicas(
  ctx: Pick<ServiceContext, 'db' | 'dialect' | 'now'>,
  cacheEngine: 'inmemory' | 'redis' | 'none',
  log: ReplicaLog,
  seconds = HEARTBEAT_SECONDS,
): Promise<ReplicaWatch | undefined> {
  if (ctx.dialect !== 'postgres') return undefined;
  const { db } = ctx;
  const id = newId();
  const startedAt = ctx.now();
  if (cacheEngine === 'inmemory') {
    log.warn(
      { cacheEngine },
      'DATA_MODEL_CACHE_CONFIG.engine is inmemory with a PostgreSQL database: right for one replica only. Replicas sharing this database must use engine redis (or none): an in-memory cache never hears of writes made by another replica',
    );
  }
  await db
    .insertInto('replica')
    .values({ id, host: hostname(), pid: process.pid, cache_engine: cacheEngine, started_at: startedAt, seen_at: startedAt })
    .execute();
  const warned = new Set<string>();
  const beat = async () => {
    const now = ctx.now();
    await db.updateTable('replica').set({ seen_at: now }).where('id', '=', id).execute();
    // Rows of replicas gone for a day (killed without stopping) are dropped by whoever is still beating.
    await db
      .deleteFrom('replica')
      .where('seen_at', '<', now - 24 * 3600_000)
      .execute();
    const others = (
      await db
        .selectFrom('replica')
        .select(['id', 'host', 'pid', 'cache_engine'])
        .where('id', '!=', id)
        .where('seen_at', '>=', now - LIVE_FOR_BEATS * seconds * 1000)
        .execute()
    ).map((r) => ({ id: r.id, host: r.host, pid: Number(r.pid), cacheEngine: r.cache_engine }));
    const fresh = others.filter((o) => !warned.has(o.id));
    for (const o of fresh) warned.add(o.id);
    const inMemory = others.filter((o) => o.cacheEngine === 'inmemory');
    if (fresh.length && cacheEngine === 'inmemory') {
      log.error(
        { replicas: others.map((o) => `${o.host}:${o.pid}`) },
        `another Berth replica shares this database (${others.length} live) while this one caches in memory (DATA_MODEL_CACHE_CONFIG.engine inmemory): it will serve stale tags and permissions after their writes. Set engine redis (or none) on every replica`,
      );
    } else if (fresh.some((o) => o.cacheEngine === 'inmemory')) {
      log.error(
        { replicas: inMemory.map((o) => `${o.host}:${o.pid}`) },
        `a Berth replica sharing this database caches in memory (DATA_MODEL_CACHE_CONFIG.engine inmemory): it will serve stale tags and permissions after writes made here. Set engine redis (or none) on every replica`,
      );
    }
    return others;
  };
  await beat();
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= beat()
      .catch((e: Error) => log.warn({ err: { message: e.message } }, 'replica heartbeat failed'))
      .finally(() => {
        running = undefined;
      });
  }, seconds * 1000);
  timer.unref();
  return {
    id,
    beat,
    async stop() {
      clearInterval(timer);
      await running;
      await db
        .deleteFrom('replica')
        .where('id', '=', id)
        .execute()
        .catch(() => undefined);
    },
  };
}
