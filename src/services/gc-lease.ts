// One garbage collector at a time across replicas: on PostgreSQL a session advisory lock held on one pooled connection
// for the whole pass (a replica that dies mid-pass loses its connection, and with it the lock); on SQLite, one process
// owns the database, so an in-process flag is the lease.
import { sql } from 'kysely';
import type { ServiceContext } from './context.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';

/** pg_advisory_lock key of gc: "berthgc!" as a 64-bit integer. */
const GC_LOCK_KEY = 0x6265727468676321n;

export type GcRun = { ran: true; report: GcReport } | { ran: false; reason: string };

const running = new WeakSet<object>();

/** Runs one gc pass unless another one (this process, or any replica on the same PostgreSQL database) is running. */
export async function collectGarbageExclusive(ctx: ServiceContext, opts: GcOptions = {}): Promise<GcRun> {
  if (running.has(ctx.db)) return { ran: false, reason: 'a gc pass is already running in this process' };
  running.add(ctx.db);
  try {
    if (ctx.dialect !== 'postgres') return { ran: true, report: await collectGarbage(ctx, opts) };
    return await ctx.db.connection().execute(async (conn) => {
      const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${GC_LOCK_KEY.toString()}::bigint) as ok`.execute(conn);
      if (!got.rows[0]?.ok) return { ran: false, reason: 'another replica holds the gc lease' } as const;
      try {
        return { ran: true, report: await collectGarbage(ctx, opts) } as const;
      } finally {
        await sql`select pg_advisory_unlock(${GC_LOCK_KEY.toString()}::bigint)`.execute(conn).catch(() => undefined);
      }
    });
  } finally {
    running.delete(ctx.db);
  }
}

/** Runs gc every `seconds` (GC_INTERVAL_SECONDS); returns a stop function. Failures are logged and retried next time. */
export function scheduleGc(ctx: ServiceContext, seconds: number, log: { warn(o: object, m: string): void }): () => Promise<void> {
  let current: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (current) return;
    current = collectGarbageExclusive(ctx)
      .catch((e: Error) => log.warn({ err: { message: e.message } }, 'scheduled gc failed'))
      .finally(() => {
        current = undefined;
      });
  }, seconds * 1000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await current;
  };
}
