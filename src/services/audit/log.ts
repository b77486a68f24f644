// The audit log writer: entries go to an in-process buffer that is written in one multi-row INSERT
// every AUDIT_LOG_FLUSH_MS or as soon as it holds AUDIT_LOG_BATCH_SIZE entries, and on close().
// Recording never waits for the database and never throws into the request that caused it.
//
// Durability: what is in the buffer when the process dies without closing (SIGKILL, OOM, power loss)
// is lost: at most AUDIT_LOG_FLUSH_MS worth of entries (default one second) of this process.
// A failed write keeps the entries and tries again at the next flush; beyond MAX_PENDING entries the
// oldest are dropped with one warning line (the database is down: the registry keeps serving).
import { CompiledQuery } from 'kysely';
import type { DB, Dialect } from '../../db/database.js';
import type { Principal } from '../accounts/context.js';
import type { LogKind } from './kinds.js';

export interface Performer {
  kind: 'user' | 'robot' | 'anonymous';
  name?: string;
}

export interface AuditEntry {
  kind: LogKind;
  namespace?: string | null;
  repository?: string | null;
  performer: Performer;
  ip?: string | null;
  metadata?: Record<string, unknown>;
  /** Milliseconds since the epoch; defaults to the time of record(). */
  at?: number;
}

export interface AuditLogOptions {
  dialect: Dialect;
  enabled: boolean;
  flushMs: number;
  batchSize: number;
  retentionDays: number;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

const MAX_PENDING = 100_000;
const PRUNE_INTERVAL_MS = 3600_000;
const PRUNE_BATCH = 5000;

export function performerOf(p: Principal | undefined): Performer {
  if (!p || p.kind === 'anonymous') return { kind: 'anonymous' };
  return { kind: p.kind, name: p.name };
}

/** A performer from an account name alone (registry tokens carry the name): robots are "owner+name". */
export function performerNamed(name: string | undefined | null): Performer {
  if (!name) return { kind: 'anonymous' };
  return { kind: name.includes('+') ? 'robot' : 'user', name };
}

const COLUMNS = ['kind', 'namespace', 'repository', 'performer_kind', 'performer', 'ip', 'metadata', 'created_at'] as const;

function insertQuery(dialect: Dialect, rows: Row[]): CompiledQuery {
  const params: unknown[] = [];
  let n = 0;
  const tuples = rows.map((r) => {
    const ph = COLUMNS.map((c) => {
      params.push(r[c]);
      n++;
      return dialect === 'postgres' ? `$${n}` : '?';
    });
    return `(${ph.join(', ')})`;
  });
  return CompiledQuery.raw(`insert into audit_log (${COLUMNS.join(', ')}) values ${tuples.join(', ')}`, params);
}

type Row = {
  kind: string;
  namespace: string | null;
  repository: string | null;
  performer_kind: Performer['kind'];
  performer: string | null;
  ip: string | null;
  metadata: string;
  created_at: number;
};

export class AuditLog {
  private buffer: Row[] = [];
  private timer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private closed = false;
  private dropped = 0;
  private readonly now: () => number;
  private syncLevel?: number;

  constructor(
    private readonly db: DB,
    readonly opts: AuditLogOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Queues one entry; cheap (an array push), never throws, never waits. */
  record(e: AuditEntry): void {
    if (!this.opts.enabled || this.closed) return;
    this.buffer.push({
      kind: e.kind,
      namespace: e.namespace ?? (e.repository ? e.repository.split('/')[0] : null),
      repository: e.repository ?? null,
      performer_kind: e.performer.kind,
      performer: e.performer.name ?? null,
      ip: e.ip ?? null,
      metadata: JSON.stringify(e.metadata ?? {}),
      created_at: e.at ?? this.now(),
    });
    if (this.buffer.length >= this.opts.batchSize) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.flushMs);
      this.timer.unref();
    }
  }

  /** Writes everything buffered so far; resolves when it is in the database (or the write failed). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.buffer.length) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const rows = this.buffer;
    this.buffer = [];
    this.flushing = this.write(rows).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  /**
   * One multi-row INSERT per 500 entries, written as a raw statement (no query-builder work per entry), and
   * without waiting for the disk: SQLite commits it with synchronous=NORMAL on the reserved connection (the
   * WAL is synced by the next durable commit or checkpoint), PostgreSQL with synchronous_commit=off. The
   * registry's own commits stay fully durable; these entries may be lost by a power cut just after a flush.
   */
  private async write(rows: Row[]): Promise<void> {
    try {
      for (let i = 0; i < rows.length; i += 500) {
        const q = insertQuery(this.opts.dialect, rows.slice(i, i + 500));
        if (this.opts.dialect === 'postgres') {
          await this.db.transaction().execute(async (tx) => {
            await tx.executeQuery(CompiledQuery.raw('set local synchronous_commit = off'));
            await tx.executeQuery(q);
          });
        } else {
          await this.db.connection().execute(async (c) => {
            this.syncLevel ??= Number(
              (await c.executeQuery<{ synchronous: number }>(CompiledQuery.raw('pragma synchronous'))).rows[0]?.synchronous ?? 2,
            );
            await c.executeQuery(CompiledQuery.raw('pragma synchronous = NORMAL'));
            try {
              await c.executeQuery(q);
            } finally {
              await c.executeQuery(CompiledQuery.raw(`pragma synchronous = ${this.syncLevel}`));
            }
          });
        }
      }
    } catch (err) {
      this.buffer = [...rows, ...this.buffer];
      if (this.buffer.length > MAX_PENDING) {
        const over = this.buffer.length - MAX_PENDING;
        this.buffer.splice(0, over);
        this.dropped += over;
      }
      this.opts.log?.warn(
        { err: (err as Error).message, pending: this.buffer.length, dropped: this.dropped },
        'audit log write failed; will retry',
      );
      if (!this.closed && !this.timer) {
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            void this.flush();
          },
          Math.max(this.opts.flushMs, 1000),
        );
        this.timer.unref();
      }
    }
  }

  /** Deletes entries older than LOGS_RETENTION_DAYS (in batches); returns how many went. */
  async prune(): Promise<number> {
    if (this.opts.retentionDays <= 0) return 0;
    const cutoff = this.now() - this.opts.retentionDays * 86_400_000;
    let total = 0;
    for (;;) {
      const ids = (await this.db.selectFrom('audit_log').select('id').where('created_at', '<', cutoff).limit(PRUNE_BATCH).execute()).map(
        (r) => r.id,
      );
      if (!ids.length) return total;
      await this.db.deleteFrom('audit_log').where('id', 'in', ids).execute();
      total += ids.length;
    }
  }

  /** Starts the hourly retention job. */
  start(): void {
    if (this.pruneTimer || this.opts.retentionDays <= 0) return;
    const run = () => {
      this.prune().catch((err) => this.opts.log?.warn({ err: (err as Error).message }, 'audit log pruning failed'));
    };
    run();
    this.pruneTimer = setInterval(run, PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  /** Stops the timers and writes what is buffered (called on shutdown, before the database closes). */
  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
