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
import { sql } from 'kysely';
import type { DB } from '../db/database.js';
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

export interface QueueOptions {
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

  constructor(
    private readonly db: DB,
    opts: QueueOptions = {},
  ) {
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
    const every = Math.min(EXPIRED_CHECK_MS, this.leaseMs / 4);
    // (A clock that went back, as a test's may, does not put the check off.)
    if (now < this.nextExpiredCheck && this.nextExpiredCheck - now <= every) return undefined;
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

  /** Extends the lease of a running job (long layers). */
  async heartbeat(digest: string, owner: string): Promise<void> {
    await this.db
      .updateTable('scan_job')
      .set({ lease_until: this.now() + this.leaseMs })
      .where('manifest_digest', '=', digest)
      .where('lease_owner', '=', owner)
      .where('state', '=', 'indexing')
      .execute();
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
    const now = this.now();
    const final = opts.permanent || attempts >= this.maxAttempts;
    const state: JobState = final ? 'failed' : 'queued';
    // Only the lease holder's call counts (the update's WHERE): a lease that expired and went to another worker stays.
    const r = await failJob(this.db, digest, owner, state, error.slice(0, 2000), now, final ? now : now + this.backoff(attempts));
    return Number(r.numAffectedRows) === 1 ? state : undefined;
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
