// The durable indexing queue (table scan_job, migration 0004_scanner_index).
//
// One row per manifest digest. States:
//   queued       waiting (next_attempt_at says from when: the backoff after a failed attempt)
//   indexing     claimed by a worker until lease_until; an expired lease means the worker died and
//                the job may be claimed again (that claim counts as the next attempt)
//   indexed      done, an index report exists
//   unsupported  done, nothing recognisable in the image (or not an image): never "no vulnerabilities"
//   failed       gave up after maxAttempts; last_error says why
// A claim is one conditional UPDATE whose WHERE repeats the claimable condition, so of two replicas
// racing for a row exactly one gets it back (RETURNING). Rows survive restarts; nothing is in memory.
// A worker claims the queued jobs that are due in batches (up to `claimBatch` rows in one statement; on PostgreSQL
// the rows another replica is claiming at that moment are skipped, SKIP LOCKED, not waited for) and records the
// outcomes of a batch in one statement (`settle`; PostgreSQL: one UPDATE over arrays; SQLite: one transaction): two
// statements and two commits per batch rather than per job (docs/PERFORMANCE.md "PostgreSQL small push, seventh round").
import { sql } from 'kysely';
import type { DB, Dialect } from '../db/database.js';
import type { ScanJobTable } from '../db/types.js';
import { prepared } from '../db/prepared.js';

// The queries every job runs, compiled once (../db/prepared.ts).
const insertJob = prepared(3, (db: DB, digest: string, repository: string, now: number) =>
  db
    .insertInto('scan_job')
    .values({
      manifest_digest: digest,
      repository,
      state: 'queued',
      attempts: 0,
      lease_until: null,
      lease_owner: null,
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('manifest_digest').doNothing()),
);
const claimable = prepared(1, (db: DB, now: number) =>
  db
    .selectFrom('scan_job')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'queued'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('state', '=', 'indexing'), eb('lease_until', '<', now)]),
      ]),
    )
    .orderBy('next_attempt_at')
    .limit(5),
);
const claimQueued = prepared(5, (db: DB, digest: string, owner: string, leaseUntil: number, attempts: number, now: number) =>
  db
    .updateTable('scan_job')
    .set({ state: 'indexing', lease_until: leaseUntil, lease_owner: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
    .where('manifest_digest', '=', digest)
    .where('state', '=', 'queued')
    .where('attempts', '=', attempts)
    .where('next_attempt_at', '<=', now)
    // The claimed row comes back with the claim: no read after it.
    .returningAll(),
);
// The next queued job, claimed in one statement: the UPDATE's WHERE repeats the subquery's condition, so of two
// workers (or replicas) that picked the same row only one gets it back; the other gets nothing and looks again.
const claimNextQueued = prepared(3, (db: DB, owner: string, leaseUntil: number, now: number) =>
  db
    .updateTable('scan_job')
    .set({ state: 'indexing', lease_until: leaseUntil, lease_owner: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
    .where('manifest_digest', '=', (eb) =>
      eb
        .selectFrom('scan_job')
        .select('manifest_digest')
        .where('state', '=', 'queued')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(1),
    )
    .where('state', '=', 'queued')
    .where('next_attempt_at', '<=', now)
    .returningAll(),
);
// Up to `limit` queued jobs that are due, claimed in one statement. The UPDATE's WHERE repeats the subquery's
// condition: a row another worker claimed between the subquery's snapshot and this row's update is re-checked after
// that worker's commit and left out. PostgreSQL locks the rows it picks (FOR UPDATE) and skips rows locked by a
// concurrent claim (SKIP LOCKED), so two replicas claiming at once get different jobs rather than one of them none.
const claimBatchQueued = (skipLocked: boolean) =>
  prepared(4, (db: DB, owner: string, leaseUntil: number, now: number, limit: number) =>
    db
      .updateTable('scan_job')
      .set({ state: 'indexing', lease_until: leaseUntil, lease_owner: owner, attempts: sql<number>`attempts + 1`, updated_at: now })
      .where('manifest_digest', 'in', (eb) => {
        const due = eb
          .selectFrom('scan_job')
          .select('manifest_digest')
          .where('state', '=', 'queued')
          .where('next_attempt_at', '<=', now)
          .orderBy('next_attempt_at')
          .limit(limit);
        return skipLocked ? due.forUpdate().skipLocked() : due;
      })
      .where('state', '=', 'queued')
      .where('next_attempt_at', '<=', now)
      .returningAll(),
  );
const claimBatchPg = claimBatchQueued(true);
const claimBatchPortable = claimBatchQueued(false);
/**
 * PostgreSQL: the outcomes of a batch in one statement, one element of each array per job: its new state, last_error,
 * next_attempt_at (null: unchanged) and `back` (1: handed back unstarted, its claim undone: attempts - 1, last_error
 * kept). Only rows still leased to `owner` change (a lease that expired and went to another worker stays theirs).
 */
const settlePg = prepared(
  7,
  (
    db: DB,
    owner: string,
    now: number,
    digests: string[],
    states: string[],
    notes: (string | null)[],
    next: (number | null)[],
    back: number[],
  ) =>
    sql<{ manifest_digest: string }>`update scan_job as j set
  state = v.state, lease_until = null, lease_owner = null, updated_at = ${now}::bigint,
  attempts = j.attempts - v.back,
  last_error = case when v.back = 1 then j.last_error else v.note end,
  next_attempt_at = coalesce(v.next, j.next_attempt_at)
from unnest(${digests}::text[], ${states}::text[], ${notes}::text[], ${next}::bigint[], ${back}::int[]) as v(digest, state, note, next, back)
where j.manifest_digest = v.digest and j.lease_owner = ${owner} and j.state = 'indexing'
returning j.manifest_digest`,
);
const jobRow = prepared(1, (db: DB, digest: string) => db.selectFrom('scan_job').selectAll().where('manifest_digest', '=', digest));
const finishJob = prepared(5, (db: DB, digest: string, owner: string, state: string, note: string | null, now: number) =>
  db
    .updateTable('scan_job')
    .set({ state, lease_until: null, lease_owner: null, updated_at: now, last_error: note })
    .where('manifest_digest', '=', digest)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'indexing'),
);
const failJob = prepared(6, (db: DB, digest: string, owner: string, state: string, lastError: string, now: number, nextAttemptAt: number) =>
  db
    .updateTable('scan_job')
    .set({ state, lease_until: null, lease_owner: null, last_error: lastError, updated_at: now, next_attempt_at: nextAttemptAt })
    .where('manifest_digest', '=', digest)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'indexing'),
);

/** How often, at most, an idle worker looks for jobs whose worker died (their lease expired). */
const EXPIRED_CHECK_MS = 1000;

export const JOB_STATES = ['queued', 'indexing', 'indexed', 'failed', 'unsupported'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface ScanJob {
  digest: string;
  repository: string;
  state: JobState;
  attempts: number;
  leaseUntil: number | null;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * What a worker records for one job of its batch: done (indexed, unsupported), failed for good, back to queued after a
 * backoff (`nextAttemptAt`), or handed back unstarted (`back`: the claim is undone, attempts as before).
 */
export type Settlement =
  | { digest: string; state: 'indexed' | 'unsupported'; note?: string }
  | { digest: string; state: 'queued' | 'failed'; error: string; nextAttemptAt: number }
  | { digest: string; state: 'queued'; back: true };

export interface QueueOptions {
  /** PostgreSQL: batch claims skip rows locked by a concurrent claim, and a batch's outcomes are one statement. */
  dialect?: Dialect;
  maxAttempts?: number;
  leaseMs?: number;
  /** Backoff before attempt n+1 (n = attempts so far): default 5 s · 4^(n-1), at most 1 h. */
  backoffMs?: (attempts: number) => number;
  now?: () => number;
}

function toJob(r: ScanJobTable): ScanJob {
  return {
    digest: r.manifest_digest,
    repository: r.repository,
    state: r.state as JobState,
    attempts: Number(r.attempts),
    leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export class ScanQueue {
  readonly maxAttempts: number;
  readonly leaseMs: number;
  private readonly backoff: (attempts: number) => number;
  private readonly now: () => number;
  private readonly pg: boolean;

  constructor(
    private readonly db: DB,
    opts: QueueOptions = {},
  ) {
    this.pg = opts.dialect === 'postgres';
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.leaseMs = opts.leaseMs ?? 600_000;
    this.backoff = opts.backoffMs ?? ((n) => Math.min(3_600_000, 5000 * 4 ** Math.max(0, n - 1)));
    this.now = opts.now ?? Date.now;
  }

  /**
   * Queues a manifest. An existing job is left alone (queued, running or done) unless `force`
   * (a scan on request), which re-queues a finished or failed job with fresh attempts.
   * Returns true when the job was (re)queued.
   */
  async enqueue(digest: string, repository: string, opts: { force?: boolean } = {}, db: DB = this.db): Promise<boolean> {
    const now = this.now();
    const inserted = await insertJob(db, digest, repository, now);
    if (Number(inserted.numAffectedRows ?? 0n) > 0) return true;
    if (!opts.force) return false;
    const r = await db
      .updateTable('scan_job')
      .set({
        state: 'queued',
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        lease_until: null,
        lease_owner: null,
        updated_at: now,
        repository,
      })
      .where('manifest_digest', '=', digest)
      .where('state', '!=', 'indexing')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Claims the next runnable job for `owner`, or undefined. Safe against other workers and replicas. A queued job is
   * claimed in one statement; jobs whose worker died (an expired lease) are looked for when that found nothing, at
   * most every EXPIRED_CHECK_MS (or a quarter of the lease, if shorter): an idle queue is polled with one statement.
   */
  async claim(owner: string): Promise<ScanJob | undefined> {
    const now = this.now();
    const next = (await claimNextQueued(this.db, owner, now + this.leaseMs, now)).rows[0];
    if (next) return toJob(next);
    return this.claimExpired(owner, now);
  }

  /**
   * Claims up to `max` runnable jobs for `owner` (oldest due first), or none. The queued jobs that are due are claimed
   * in one statement; when there are none, a job whose worker died is looked for as `claim` does (at most one). Each
   * job of the batch is leased to `owner` from now: `heartbeat` keeps the leases of those not yet settled, and
   * `settle` records them all (or hands back those the worker did not start).
   */
  async claimBatch(owner: string, max: number): Promise<ScanJob[]> {
    const now = this.now();
    const rows = (await (this.pg ? claimBatchPg : claimBatchPortable)(this.db, owner, now + this.leaseMs, now, Math.max(1, max))).rows;
    if (rows.length) return rows.map(toJob).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt);
    const expired = await this.claimExpired(owner, now);
    return expired ? [expired] : [];
  }

  /** A job whose lease expired, looked for at most every EXPIRED_CHECK_MS (or a quarter of the lease, if shorter). */
  private claimExpired(owner: string, now: number): Promise<ScanJob | undefined> {
    const every = Math.min(EXPIRED_CHECK_MS, this.leaseMs / 4);
    // (A clock that went back, as a test's may, does not put the check off.)
    if (now < this.nextExpiredCheck && this.nextExpiredCheck - now <= every) return Promise.resolve(undefined);
    this.nextExpiredCheck = now + every;
    return this.claimAny(owner);
  }

  private nextExpiredCheck = 0;

  /** Claims any runnable job: queued, or one whose lease expired (failed for good when its attempts are used up). */
  private async claimAny(owner: string): Promise<ScanJob | undefined> {
    for (let tries = 0; tries < 5; tries++) {
      const now = this.now();
      const candidates = (await claimable(this.db, now)).rows;
      if (!candidates.length) return undefined;
      for (const c of candidates) {
        const expiredLease = c.state === 'indexing';
        // A job whose worker died mid-attempt: if that was the last attempt, it fails here.
        if (expiredLease && Number(c.attempts) >= this.maxAttempts) {
          await this.db
            .updateTable('scan_job')
            .set({
              state: 'failed',
              lease_until: null,
              lease_owner: null,
              updated_at: now,
              last_error:
                c.last_error ?? `the worker holding the job stopped (lease expired) on attempt ${c.attempts} of ${this.maxAttempts}`,
            })
            .where('manifest_digest', '=', c.manifest_digest)
            .where('state', '=', 'indexing')
            .where('lease_until', '=', c.lease_until)
            .execute();
          continue;
        }
        const claimed = expiredLease
          ? await this.db
              .updateTable('scan_job')
              .set({
                state: 'indexing',
                lease_until: now + this.leaseMs,
                lease_owner: owner,
                attempts: sql<number>`attempts + 1`,
                updated_at: now,
                last_error: c.last_error ?? 'the previous worker stopped (lease expired)',
              })
              .where('manifest_digest', '=', c.manifest_digest)
              .where('state', '=', c.state)
              .where('attempts', '=', c.attempts)
              .where('lease_until', '<', now)
              .returningAll()
              .executeTakeFirst()
          : (await claimQueued(this.db, c.manifest_digest, owner, now + this.leaseMs, Number(c.attempts), now)).rows[0];
        if (claimed) return toJob(claimed);
      }
    }
    return undefined;
  }

  /** Extends the lease of running jobs (long layers; the rest of a claimed batch). */
  async heartbeat(digests: string | readonly string[], owner: string): Promise<void> {
    const list = typeof digests === 'string' ? [digests] : digests;
    if (!list.length) return;
    await this.db
      .updateTable('scan_job')
      .set({ lease_until: this.now() + this.leaseMs })
      .where('manifest_digest', 'in', list)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'indexing')
      .execute();
  }

  /**
   * What a failed attempt of a job claimed with `attempts` becomes: back to queued after the backoff, or failed for
   * good when its attempts are used up or `permanent` (the input can never be indexed).
   */
  failure(digest: string, attempts: number, error: string, permanent = false): Settlement {
    const now = this.now();
    const final = permanent || attempts >= this.maxAttempts;
    return {
      digest,
      state: final ? 'failed' : 'queued',
      error: error.slice(0, 2000),
      nextAttemptAt: final ? now : now + this.backoff(attempts),
    };
  }

  /**
   * Records the outcomes of jobs leased to `owner` (a claimed batch) together: one statement on PostgreSQL, one
   * transaction of the single-job statements elsewhere. Returns the digests whose outcome counted: a job whose lease
   * expired and went to another worker is left to that worker.
   */
  async settle(owner: string, outcomes: readonly Settlement[]): Promise<Set<string>> {
    if (!outcomes.length) return new Set();
    const now = this.now();
    if (this.pg) {
      const r = await settlePg(
        this.db,
        owner,
        now,
        outcomes.map((o) => o.digest),
        outcomes.map((o) => o.state),
        outcomes.map((o) => ('back' in o ? null : 'error' in o ? o.error : (o.note ?? null))),
        outcomes.map((o) => ('nextAttemptAt' in o ? o.nextAttemptAt : null)),
        outcomes.map((o) => ('back' in o ? 1 : 0)),
      );
      return new Set(r.rows.map((x) => x.manifest_digest));
    }
    return this.db.transaction().execute(async (tx) => {
      const done = new Set<string>();
      for (const o of outcomes) {
        const r =
          'back' in o
            ? await tx
                .updateTable('scan_job')
                .set({ state: 'queued', lease_until: null, lease_owner: null, attempts: sql<number>`attempts - 1`, updated_at: now })
                .where('manifest_digest', '=', o.digest)
                .where('lease_owner', '=', owner)
                .where('state', '=', 'indexing')
                .executeTakeFirst()
                .then((u) => ({ numAffectedRows: u.numUpdatedRows }))
            : 'error' in o
              ? await failJob(tx, o.digest, owner, o.state, o.error, now, o.nextAttemptAt)
              : await finishJob(tx, o.digest, owner, o.state, o.note ?? null, now);
        if (Number(r.numAffectedRows ?? 0n) === 1) done.add(o.digest);
      }
      return done;
    });
  }

  /** Marks a claimed job done (indexed or unsupported). Only the lease holder's call counts. */
  async finish(digest: string, owner: string, state: 'indexed' | 'unsupported', note?: string): Promise<boolean> {
    const r = await finishJob(this.db, digest, owner, state, note ?? null, this.now());
    return Number(r.numAffectedRows) === 1;
  }

  /**
   * Records a failed attempt: back to queued after the backoff, or failed for good when attempts
   * are used up or `permanent` (the input can never be indexed: a corrupt layer, a missing blob).
   */
  async fail(
    digest: string,
    owner: string,
    error: string,
    opts: { permanent?: boolean; attempts?: number } = {},
  ): Promise<JobState | undefined> {
    // The worker knows the attempts from its claim (the row is leased to it, nobody else changes them): no read.
    let attempts = opts.attempts;
    if (attempts === undefined) {
      const row = (await jobRow(this.db, digest)).rows[0];
      if (!row || row.lease_owner !== owner || row.state !== 'indexing') return undefined;
      attempts = Number(row.attempts);
    }
    const f = this.failure(digest, attempts, error, opts.permanent) as Settlement & { error: string; nextAttemptAt: number };
    // Only the lease holder's call counts (the update's WHERE): a lease that expired and went to another worker stays.
    const r = await failJob(this.db, digest, owner, f.state, f.error, this.now(), f.nextAttemptAt);
    return Number(r.numAffectedRows) === 1 ? f.state : undefined;
  }

  async get(digest: string): Promise<ScanJob | undefined> {
    const r = await this.db.selectFrom('scan_job').selectAll().where('manifest_digest', '=', digest).executeTakeFirst();
    return r && toJob(r);
  }

  async remove(digest: string): Promise<void> {
    await this.db.deleteFrom('scan_job').where('manifest_digest', '=', digest).execute();
  }

  /** Jobs per state (metrics, `berth scanner status`). */
  async counts(): Promise<Record<JobState, number>> {
    const rows = await this.db
      .selectFrom('scan_job')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of rows) if ((JOB_STATES as readonly string[]).includes(r.state)) out[r.state as JobState] = Number(r.n);
    return out;
  }

  /** The queue depth: jobs waiting (queued) and running (indexing). */
  async depth(): Promise<{ queued: number; indexing: number }> {
    const c = await this.counts();
    return { queued: c.queued, indexing: c.indexing };
  }

  /** Failed jobs with their reasons (newest first). */
  async failures(limit = 50): Promise<ScanJob[]> {
    const rows = await this.db
      .selectFrom('scan_job')
      .selectAll()
      .where('state', '=', 'failed')
      .orderBy('updated_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toJob);
  }
}
