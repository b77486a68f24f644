// The worker loop: claims jobs from the durable queue (./queue.ts), indexes them, records the outcome;
// and the scanner's timers (updaters on schedule, the hourly cleanup sweep, webhook retries).
import { newId } from '../crypto/index.js';
import { LayerFormatError } from './indexer/index.js';
import type { ScanQueue } from './queue.js';
import type { Indexer } from './indexing.js';
import { PermanentScanError } from './indexing.js';
import type { ScanCleanup } from './cleanup.js';
import type { ScannerLogger, ScannerObserver, ScanOutcome } from './log.js';

/** How often `schedule` sweeps rows of manifests that are gone and unused layer results. */
const CLEANUP_INTERVAL_MS = 3600_000;

/** Queues manifests and wakes idle workers. */
export class ScanJobs {
  private wakeups: Array<() => void> = [];

  constructor(
    readonly queue: ScanQueue,
    private readonly opts: { log: ScannerLogger; observer: ScannerObserver },
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
    this.wake();
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

  /** Claims and runs one job; returns false when there was nothing to do. */
  async runOnce(owner = this.owner): Promise<boolean> {
    const { queue } = this.jobs;
    const job = await queue.claim(owner);
    if (!job) return false;
    const started = this.opts.now();
    this.opts.observer.onScanStarted?.();
    const beat = setInterval(
      () => {
        queue.heartbeat(job.digest, owner).catch(() => {});
      },
      Math.max(1000, queue.leaseMs / 3),
    );
    beat.unref();
    let outcome: ScanOutcome;
    let error: unknown;
    try {
      const s = await this.indexer.indexStored(job.digest, job.repository);
      outcome = s.state;
      await queue.finish(job.digest, owner, s.state, s.state === 'unsupported' ? s.reason : undefined);
      // Deleted while it was being indexed: what was just stored belongs to nothing.
      await this.cleanup.manifestsRemoved([job.digest]);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      const permanent = err instanceof PermanentScanError || err instanceof LayerFormatError;
      const st = await queue.fail(job.digest, owner, msg, { permanent, attempts: job.attempts });
      outcome = st === 'failed' ? 'failed' : 'retry';
      error = err;
      this.opts.log.warn({ digest: job.digest, attempt: job.attempts, error: msg, next: st }, 'scan attempt failed');
    } finally {
      clearInterval(beat);
    }
    this.opts.observer.onScanFinished?.(this.opts.now() - started, outcome, error);
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
              worked = await this.runOnce(owner);
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
