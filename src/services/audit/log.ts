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

/**
 * SQLite: rows per INSERT statement. A flush is written as statements of these sizes only (largest first, in one
 * transaction), so the statement texts are a fixed handful: each is compiled once (the connection's statement
 * cache) instead of once per distinct batch length.
 */
const CHUNKS = [500, 100, 20, 5, 1] as const;

function insertText(rows: number): string {
  const tuple = `(${COLUMNS.map(() => '?').join(', ')})`;
  return `insert into audit_log (${COLUMNS.join(', ')}) values ${Array.from({ length: rows }, () => tuple).join(', ')}`;
}

/**
 * PostgreSQL: one statement for a batch of any length, its rows as one jsonb parameter (an array of rows, each an
 * array of the COLUMNS values): one named statement and one Bind of one value instead of eight per row (pg's client
 * prepares and serialises every parameter apart; JSON.stringify does the whole batch at once): 7.8 → 5.5 µs of
 * Berth's CPU per entry, the server's the same (docs/PERFORMANCE.md, "Audit, sixth round"). jsonb, not json: json's
 * `->>` parses each row's text again per column. The rows go in in the batch's order (`with ordinality … order by`),
 * so ids follow the order recorded, as before.
 */
const PG_INSERT =
  `insert into audit_log (${COLUMNS.join(', ')}) select ` +
  COLUMNS.map((c, i) => (c === 'created_at' ? `(e->>${i})::bigint` : `e->>${i}`)).join(', ') +
  ' from jsonb_array_elements($1::jsonb) with ordinality as r(e, n) order by n';
/** Rows per PostgreSQL statement (a bound on one message's size; a normal flush is one statement). */
const PG_ROWS_PER_STATEMENT = 2000;

/**
 * What PostgreSQL cannot store in text: a lone surrogate (half of a UTF-16 pair; pg's client wrote it as U+FFFD, jsonb
 * refuses JSON.stringify's `\udXXX`) and NUL (refused either way). Written as U+FFFD.
 */
const UNSTORABLE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\0/g;
/** What those look like in JSON.stringify's output (a false alarm only costs the slow path). */
const ESCAPED_UNSTORABLE = /\\u(?:d[89a-f]|0000)/;

/**
 * The JSON parameter of PG_INSERT for `rows` (each the COLUMNS values). Strings come out as pg's client wrote a text
 * parameter (UTF-8, a lone surrogate as U+FFFD), so the rows are the bytes one parameter per value gave. A NUL, which
 * failed the whole flush before (and every retry after it, until MAX_PENDING dropped it), is written as U+FFFD too.
 */
function pgRowsJson(rows: unknown[][]): string {
  const text = JSON.stringify(rows);
  if (!ESCAPED_UNSTORABLE.test(text)) return text;
  return JSON.stringify(rows.map((r) => r.map((v) => (typeof v === 'string' ? v.replace(UNSTORABLE, '\ufffd') : v))));
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

/**
 * A pull (manifest GET) as the request left it: the hook's only work per pull is this one small object. Its row
 * (namespace, Quay's metadata JSON) is built when the buffer is written, exactly as record() builds a pull_repo
 * entry's row (test/audit-rows.test.ts holds the two to the same bytes).
 */
class PendingPull {
  constructor(
    readonly repository: string,
    readonly reference: string,
    readonly useragent: string | null,
    readonly performerKind: Performer['kind'],
    readonly performer: string | null,
    readonly ip: string | null,
    readonly at: number,
  ) {}
}

type Pending = Row | PendingPull;

/** The metadata of a pull_repo entry (Quay's keys, in this order). */
export function pullMetadata(repository: string, reference: string, useragent: string | null): Record<string, unknown> {
  const i = repository.indexOf('/');
  const repo = i >= 0 ? repository.slice(i + 1) : repository;
  const namespace = i >= 0 ? repository.slice(0, i) : repository;
  return reference.includes(':')
    ? { repo, namespace, manifest_digest: reference, useragent }
    : { repo, namespace, tag: reference, useragent };
}

/** One pending entry's column values, in COLUMNS order. */
function values(p: Pending): unknown[] {
  if (!(p instanceof PendingPull))
    return [p.kind, p.namespace, p.repository, p.performer_kind, p.performer, p.ip, p.metadata, p.created_at];
  const i = p.repository.indexOf('/');
  return [
    'pull_repo',
    i >= 0 ? p.repository.slice(0, i) : p.repository,
    p.repository,
    p.performerKind,
    p.performer,
    p.ip,
    JSON.stringify(pullMetadata(p.repository, p.reference, p.useragent)),
    p.at,
  ];
}

/** Appends one pending entry's column values (in COLUMNS order) to `params`. */
function pushParams(params: unknown[], p: Pending): void {
  for (const v of values(p)) params.push(v);
}

export class AuditLog {
  private buffer: Pending[] = [];
  private readonly texts = new Map<number, string>();
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
    this.queued();
  }

  /**
   * Queues a pull_repo entry for a manifest GET of `repository` by `reference` (tag or digest): the same row as
   * record({ kind: 'pull_repo', repository, performer: performerOf(principal), ip, metadata: pullMetadata(…) }),
   * with the row built when the buffer is written rather than in the request.
   */
  recordPull(repository: string, reference: string, useragent: string | null, principal: Principal | undefined, ip: string | null): void {
    if (!this.opts.enabled || this.closed) return;
    const named = principal !== undefined && principal.kind !== 'anonymous';
    this.buffer.push(
      new PendingPull(
        repository,
        reference,
        useragent,
        named ? principal.kind : 'anonymous',
        named ? principal.name : null,
        ip ?? null,
        this.now(),
      ),
    );
    this.queued();
  }

  private queued(): void {
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

  /** The SQLite INSERT text for `rows` rows (one of CHUNKS), built once. */
  private insert(rows: number): string {
    let text = this.texts.get(rows);
    if (!text) {
      text = insertText(rows);
      this.texts.set(rows, text);
    }
    return text;
  }

  /**
   * The flush as statements: on SQLite of CHUNKS sizes, largest first; on PostgreSQL one PG_INSERT per
   * PG_ROWS_PER_STATEMENT rows. Each statement's values are built just before it runs.
   */
  private *statements(rows: Pending[]): Generator<CompiledQuery> {
    if (this.opts.dialect === 'postgres') {
      for (let i = 0; i < rows.length; i += PG_ROWS_PER_STATEMENT)
        yield CompiledQuery.raw(PG_INSERT, [pgRowsJson(rows.slice(i, i + PG_ROWS_PER_STATEMENT).map(values))]);
      return;
    }
    let i = 0;
    for (const size of CHUNKS) {
      for (; rows.length - i >= size; i += size) {
        const params: unknown[] = [];
        for (let j = i; j < i + size; j++) pushParams(params, rows[j]);
        yield CompiledQuery.raw(this.insert(size), params);
      }
    }
  }

  /**
   * The buffer in one transaction of INSERTs (SQLite: multi-row statements of 500 rows, then 100, 20, 5, 1, a
   * handful of statement texts each compiled once; PostgreSQL: one statement with the rows as one jsonb value),
   * written as raw statements (no query-builder work per entry), and without waiting
   * for the disk: SQLite commits it with synchronous=NORMAL on the reserved connection (the WAL is synced by the
   * next durable commit or checkpoint), PostgreSQL with synchronous_commit=off. The registry's own commits stay
   * fully durable; these entries may be lost by a power cut just after a flush. One transaction per flush: a
   * failed flush writes none of its entries (all are kept for the next one, none twice).
   */
  private async write(rows: Pending[]): Promise<void> {
    try {
      if (this.opts.dialect === 'postgres') {
        await this.db.transaction().execute(async (tx) => {
          await tx.executeQuery(CompiledQuery.raw('set local synchronous_commit = off'));
          for (const q of this.statements(rows)) await tx.executeQuery(q);
        });
      } else {
        await this.db.connection().execute(async (c) => {
          this.syncLevel ??= Number(
            (await c.executeQuery<{ synchronous: number }>(CompiledQuery.raw('pragma synchronous'))).rows[0]?.synchronous ?? 2,
          );
          await c.executeQuery(CompiledQuery.raw('pragma synchronous = NORMAL'));
          try {
            await c.transaction().execute(async (tx) => {
              for (const q of this.statements(rows)) await tx.executeQuery(q);
            });
          } finally {
            await c.executeQuery(CompiledQuery.raw(`pragma synchronous = ${this.syncLevel}`));
          }
        });
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
