// The worker loop: claims jobs from the durable queue (./queue.ts), indexes them, records the outcome;
// and the scanner's timers (updaters on schedule, the hourly cleanup sweep, webhook retries).
import { newId } from '../crypto/index.js';
import { LayerFormatError } from './indexer/index.js';
import type { ScanJob, ScanQueue, Settlement } from './queue.js';
import type { Indexer } from './indexing.js';
import { PermanentScanError } from './indexing.js';
import type { ScanCleanup } from './cleanup.js';
import type { ScannerLogger, ScannerObserver, ScanOutcome } from './log.js';

/** How often `schedule` sweeps rows of manifests that are gone and unused layer results. */
const CLEANUP_INTERVAL_MS = 3600_000;

/** Jobs a worker claims at once (one claim and one statement recording their outcomes per batch). */
export const CLAIM_BATCH = 16;

/** After this long on a batch, a worker hands back the jobs it has not started (for other workers and replicas). */
const BATCH_BUDGET_MS = 2000;

/**
 * Scanning is background work: while pushes keep queueing jobs here (one less than QUIET_MS after another), the worker
 * loops wait, and claim once the queue has been quiet that long or its oldest unclaimed job here waited MAX_DEFER_MS
 * (then they run until the queue is empty). A burst of pushes keeps the CPU it needs; its scans follow it.
 */
const QUIET_MS = 200;
const MAX_DEFER_MS = 10_000;

/** Queues manifests and wakes idle workers. */
export class ScanJobs {
  private wakeups: Array<() => void> = [];
  /** When this process last queued a job, and since when jobs it queued have been waiting (undefined: caught up). */
  private lastQueuedAt = Number.NEGATIVE_INFINITY;
  private waitingSince: number | undefined;

  constructor(
    readonly queue: ScanQueue,
    private readonly opts: { log: ScannerLogger; observer: ScannerObserver; quietMs?: number; maxDeferMs?: number },
  ) {}

  /** Queues a manifest for indexing. Never throws: a failure is logged (a push must not fail for it). */
  async enqueue(digest: string, repository: string, opts: { force?: boolean } = {}): Promise<boolean> {
    try {
      const queued = await this.queue.enqueue(digest, repository, opts);
      if (queued) this.queued();
      return queued;
    } catch (err) {
      this.opts.log.error({ err, digest, repository }, 'could not queue the manifest for scanning');
      return false;
    }
  }

  /** A job was queued (here or in a caller's transaction, after its commit): counted, and an idle worker woken. */
  queued(): void {
    this.opts.observer.onScanQueued?.();
    const now = performance.now();
    this.lastQueuedAt = now;
    this.waitingSince ??= now;
    this.wake();
  }

  /** The workers found the queue empty: nothing queued here is waiting. */
  caughtUp(): void {
    this.waitingSince = undefined;
  }

  /** Resolves when the worker loops may claim: the queue quiet for QUIET_MS, or a job waiting MAX_DEFER_MS (or `stop`). */
  async quiet(stopping: () => boolean): Promise<void> {
    for (;;) {
      if (stopping() || this.waitingSince === undefined) return;
      const now = performance.now();
      const wait = Math.min(
        this.lastQueuedAt + (this.opts.quietMs ?? QUIET_MS) - now,
        this.waitingSince + (this.opts.maxDeferMs ?? MAX_DEFER_MS) - now,
      );
      if (wait <= 0) return;
      await this.idle(Math.ceil(wait));
    }
  }

  /** Resolves on the next enqueue (or wake), or after `ms`. */
  idle(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.wakeups.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  wake(): void {
    const w = this.wakeups;
    this.wakeups = [];
    for (const f of w) f();
  }
}

export class WorkerPool {
  private readonly workers: Promise<void>[] = [];
  private stopping = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly owner = `worker-${newId().slice(0, 12)}`;

  constructor(
    private readonly jobs: ScanJobs,
    private readonly indexer: Indexer,
    private readonly cleanup: ScanCleanup,
    private readonly opts: { now: () => number; log: ScannerLogger; observer: ScannerObserver },
  ) {}

  /**
   * Claims a batch of jobs (up to CLAIM_BATCH) and runs them one after the other, then records their outcomes together
   * (ScanQueue.settle); returns false when there was nothing to do. A batch that has run for BATCH_BUDGET_MS hands the
   * jobs it has not started back to the queue with its outcomes (their claim undone), for other workers and replicas.
   */
  async runOnce(owner = this.owner): Promise<boolean> {
    const { queue } = this.jobs;
    const jobs = await queue.claimBatch(owner, CLAIM_BATCH);
    if (!jobs.length) return false;
    const claimed = this.opts.now();
    const open = new Set(jobs.map((j) => j.digest));
    const beat = setInterval(
      () => {
        queue.heartbeat([...open], owner).catch(() => {});
      },
      Math.max(1000, queue.leaseMs / 3),
    );
    beat.unref();
    // The batch's manifests and cached layer results in two statements (a failure here leaves each job to read its own).
    const ahead = jobs.length > 1 ? await this.indexer.readAhead(jobs).catch(() => undefined) : undefined;
    const ran: Array<{ job: ScanJob; settlement: Settlement; ms: number; outcome: ScanOutcome; error?: unknown }> = [];
    const outcomes: Settlement[] = [];
    try {
      for (const job of jobs) {
        if (ran.length && this.opts.now() - claimed >= BATCH_BUDGET_MS) {
          outcomes.push({ digest: job.digest, state: 'queued', back: true });
          continue;
        }
        const started = this.opts.now();
        this.opts.observer.onScanStarted?.();
        let r: (typeof ran)[number];
        try {
          const s = await this.indexer.indexStored(job.digest, job.repository, ahead);
          const settlement: Settlement =
            s.state === 'unsupported' ? { digest: job.digest, state: s.state, note: s.reason } : { digest: job.digest, state: s.state };
          r = { job, settlement, ms: 0, outcome: s.state };
        } catch (err) {
          const msg = (err as Error).message ?? String(err);
          const permanent = err instanceof PermanentScanError || err instanceof LayerFormatError;
          const settlement = queue.failure(job.digest, job.attempts, msg, permanent);
          r = { job, settlement, ms: 0, outcome: settlement.state === 'failed' ? 'failed' : 'retry', error: err };
          this.opts.log.warn({ digest: job.digest, attempt: job.attempts, error: msg, next: settlement.state }, 'scan attempt failed');
        }
        r.ms = this.opts.now() - started;
        ran.push(r);
        outcomes.push(r.settlement);
      }
      const recorded = await queue.settle(owner, outcomes);
      open.clear();
      // A failure whose outcome did not count (the lease went to another worker) is that worker's retry.
      for (const r of ran) if (r.outcome === 'failed' && !recorded.has(r.job.digest)) r.outcome = 'retry';
      // Deleted while it was being indexed: what was just stored belongs to nothing.
      const indexed = ran.filter((r) => r.outcome === 'indexed' || r.outcome === 'unsupported').map((r) => r.job.digest);
      if (indexed.length)
        await this.cleanup.manifestsRemoved(indexed).catch((err) => this.opts.log.error({ err }, 'scanner cleanup after indexing failed'));
    } finally {
      clearInterval(beat);
    }
    for (const r of ran) this.opts.observer.onScanFinished?.(r.ms, r.outcome, r.error);
    return true;
  }

  /** Starts `n` worker loops (they poll the queue and are woken by enqueue). */
  start(n: number, pollMs = 1000): void {
    this.stopping = false;
    for (let i = 0; i < n; i++) {
      const owner = `${this.owner}-${i}`;
      this.workers.push(
        (async () => {
          while (!this.stopping) {
            let worked = false;
            try {
              await this.jobs.quiet(() => this.stopping);
              if (this.stopping) break;
              worked = await this.runOnce(owner);
              if (!worked) this.jobs.caughtUp();
            } catch (err) {
              if (this.stopping) break;
              this.opts.log.error({ err }, 'scanner worker error');
            }
            if (!worked && !this.stopping) await this.jobs.idle(pollMs);
          }
        })(),
      );
    }
  }

  /** Runs the updaters every `updateSeconds` (0: never), sweeps (cleanup, hourly) and retries webhook deliveries. */
  schedule(o: { updateSeconds: number; runUpdaters: () => Promise<unknown>; deliverPending?: () => Promise<unknown> }): void {
    const every = (ms: number, f: () => Promise<unknown>, what?: string) => {
      const t = setInterval(() => {
        f().catch((err) => {
          if (what) this.opts.log.error({ err }, what);
        });
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    if (o.updateSeconds > 0) every(o.updateSeconds * 1000, o.runUpdaters, 'scheduled updater run failed');
    every(CLEANUP_INTERVAL_MS, () => this.cleanup.cleanup(), 'scanner cleanup failed');
    if (o.deliverPending) every(30_000, o.deliverPending);
  }

  /** Stops the workers after their current job. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.jobs.wake();
    await Promise.allSettled(this.workers);
    this.workers.length = 0;
  }
}
