// The scanner, put together once from its parts (each one job):
//   worker.ts       ScanJobs (enqueue, wake) and WorkerPool (claim -> index -> finish; timers)
//   indexing.ts     Indexer: a stored manifest or a Clair Manifest -> index report (layer cache, remote scanner)
//   report-store.ts ReportStore: scan_report, scan_manifest_layer, scan_layer, scan_vulnset (beside store.ts,
//                   the advisory store)
//   matching.ts     MatchService: packages x advisories on demand, cached per data version
//   rematch.ts      Rematcher: updaters -> re-match every indexed manifest -> diff -> notifier
//   cleanup.ts      ScanCleanup: forget deleted manifests, prune unused layer results
// ScannerService is the one object the composition root, the CLI, the Clair API and /api/v1 hold.
import { hashHex } from '../crypto/index.js';
import type { DB, Dialect } from '../db/database.js';
import type { BlobStore } from '../storage/blobstore.js';
import { scanners } from './indexer/index.js';
import { ScanQueue, type JobState, type ScanJob } from './queue.js';
import { AdvisoryStore } from './store.js';
import { ReportStore } from './report-store.js';
import { MatchService } from './matching.js';
import { Rematcher, type UpdaterSettings } from './rematch.js';
import { ScanCleanup } from './cleanup.js';
import { Indexer, type IndexOutcome, type RemoteIndexing } from './indexing.js';
import { ScanJobs, WorkerPool } from './worker.js';
import type { RunResult } from './updaters/index.js';
import type { Severity } from './model.js';
import { toClairIndexReport, type ClairIndexReport, type ClairManifest, type ClairVulnerabilityReport, type StoredIndex } from './clair.js';
import type { Notifier } from './notifier.js';

import { SILENT, type ScannerLogger, type ScannerObserver } from './log.js';
import type { VulnChange } from './vulns.js';

export { PermanentScanError } from './indexing.js';
export type { ScannerLogger, ScannerObserver, ScanOutcome } from './log.js';
export type { VulnChange, VulnKey } from './vulns.js';

/** The scanner version: changes when any indexer plug-in changes, so old layer results are redone. */
export const SCANNER_VERSION = `berth-${hashHex('sha256', JSON.stringify(scanners.map((s) => [s.name, s.version]))).slice(0, 16)}`;

export interface ScannerOptions {
  db: DB;
  dialect: Dialect;
  blobs?: BlobStore;
  queue?: { maxAttempts?: number; leaseMs?: number; backoffMs?: (n: number) => number };
  log?: ScannerLogger;
  observer?: ScannerObserver;
  notifier?: Notifier;
  /** Told what a re-match newly found or lost (repository notifications: vulnerability_found). Errors are logged. */
  onRematch?: (changes: VulnChange[]) => Promise<unknown>;
  now?: () => number;
  /** Updater settings (run now / on schedule). */
  updaters?: UpdaterSettings;
  /** Match cache: how long a report may be reused when the data has not changed (default 60 s). */
  matchCacheMs?: number;
  /** Temp files of the indexer and the store. */
  tmpDir?: string;
  /** An external Clair-compatible scanner (SECURITY_SCANNER_V4_ENDPOINT) and how it reaches Berth's blobs. */
  remote?: RemoteIndexing;
}

/** The state a report lookup answers with (Quay's statuses map onto these). */
export type ScanStatus =
  | { state: 'queued' | 'indexing'; job: ScanJob }
  | { state: 'failed'; job: ScanJob; error: string }
  | { state: 'unsupported'; reason: string }
  | { state: 'indexed'; index: StoredIndex }
  | { state: 'unknown' };

/** Where a stored manifest's vulnerability report stands (Quay's security statuses map onto these). */
export type SecurityState =
  | { status: 'queued'; retrying?: string }
  | { status: 'failed'; error: string }
  | { status: 'unsupported'; reason: string }
  | { status: 'scanned'; report: ClairVulnerabilityReport; noData: boolean };

export class ScannerService {
  readonly queue: ScanQueue;
  readonly advisories: AdvisoryStore;
  readonly reports: ReportStore;
  readonly notifier?: Notifier;
  private readonly jobs: ScanJobs;
  private readonly matcher: MatchService;
  private readonly rematcher: Rematcher;
  private readonly cleaner: ScanCleanup;
  private readonly indexer: Indexer;
  private readonly workers: WorkerPool;

  constructor(opts: ScannerOptions) {
    const now = opts.now ?? Date.now;
    const log = opts.log ?? SILENT;
    const observer = opts.observer ?? {};
    const remote = opts.remote?.scanner;
    this.notifier = opts.notifier;
    this.queue = new ScanQueue(opts.db, { ...opts.queue, dialect: opts.dialect, now: opts.now });
    this.advisories = new AdvisoryStore(opts.db, opts.dialect, { tmpDir: opts.tmpDir });
    this.reports = new ReportStore(opts.db, SCANNER_VERSION);
    this.jobs = new ScanJobs(this.queue, { log, observer });
    this.matcher = new MatchService(this.advisories, this.reports, { now, matchCacheMs: opts.matchCacheMs, remote });
    this.rematcher = new Rematcher(this.advisories, this.reports, this.matcher, {
      now,
      log,
      notifier: opts.notifier,
      onRematch: opts.onRematch,
      updaters: opts.updaters,
      remote: !!remote,
    });
    this.cleaner = new ScanCleanup(this.reports, this.matcher, { log, remote });
    this.indexer = new Indexer(this.reports, this.matcher, {
      now,
      blobs: opts.blobs,
      tmpDir: opts.tmpDir,
      remote: opts.remote,
      enqueue: (digest, repository) => this.jobs.enqueue(digest, repository),
      indexed: (digest) => this.rematcher.record(digest, false),
    });
    this.workers = new WorkerPool(this.jobs, this.indexer, this.cleaner, { now, log, observer });
  }

  // ---- the queue and the workers ------------------------------------------------------------------

  /** Queues a manifest for indexing. Never throws: a failure is logged (a push must not fail for it). */
  enqueue(digest: string, repository: string, opts: { force?: boolean } = {}): Promise<boolean> {
    return this.jobs.enqueue(digest, repository, opts);
  }

  /** Queues a new manifest inside the caller's transaction (`db`); true when a job was added. Call `queued` after the commit. */
  async enqueueIn(db: DB, digest: string, repository: string): Promise<boolean> {
    return this.jobs.queue.enqueue(digest, repository, {}, db);
  }

  /** After the commit of `enqueueIn`'s transaction: counts the job and wakes an idle worker. */
  queued(): void {
    this.jobs.queued();
  }

  /** Claims and runs one job; returns false when there was nothing to do. */
  runOnce(owner?: string): Promise<boolean> {
    return this.workers.runOnce(owner);
  }

  /** Starts `n` worker loops (they poll the queue and are woken by enqueue). */
  start(n: number, pollMs = 1000): void {
    this.workers.start(n, pollMs);
  }

  /** Runs the updaters every `seconds` (0: never), sweeps (cleanup, hourly) and retries webhook deliveries. */
  schedule(updateSeconds: number): void {
    const notifier = this.notifier;
    this.workers.schedule({
      updateSeconds,
      runUpdaters: () => this.runUpdaters(),
      ...(notifier ? { deliverPending: () => notifier.deliverPending() } : {}),
    });
  }

  /** Stops the workers after their current job. */
  stop(): Promise<void> {
    return this.workers.stop();
  }

  counts(): Promise<Record<JobState, number>> {
    return this.queue.counts();
  }

  // ---- indexing and reports -----------------------------------------------------------------------

  /** Indexes a manifest stored in Berth's database (the job handler). */
  indexStored(digest: string, repository: string): Promise<IndexOutcome> {
    return this.indexer.indexStored(digest, repository);
  }

  /** Indexes a manifest given as Clair's Manifest (the Clair API). */
  indexManifest(m: ClairManifest): Promise<StoredIndex> {
    return this.indexer.indexManifest(m);
  }

  storedIndex(digest: string): Promise<StoredIndex | undefined> {
    return this.reports.get(digest);
  }

  /** Where a manifest's scan stands. */
  async status(digest: string): Promise<ScanStatus> {
    const job = await this.queue.get(digest);
    if (job && (job.state === 'queued' || job.state === 'indexing')) return { state: job.state, job };
    if (job?.state === 'failed') return { state: 'failed', job, error: job.lastError ?? 'unknown error' };
    const s = await this.reports.get(digest);
    if (s?.state === 'unsupported') return { state: 'unsupported', reason: s.reason ?? 'unsupported' };
    if (s) return { state: 'indexed', index: s };
    return { state: 'unknown' };
  }

  async clairIndexReport(digest: string): Promise<ClairIndexReport | undefined> {
    const s = await this.reports.get(digest);
    if (s) return toClairIndexReport(s);
    const job = await this.queue.get(digest);
    if (job?.state === 'failed')
      return { ...toClairIndexReport({ manifest: digest, state: 'indexed', layers: [], packages: [] }, job.lastError ?? 'failed') };
    return undefined;
  }

  /** Opaque state of the indexer (Clair's index_state): changes when indexing would give new results. */
  indexState(): string {
    return SCANNER_VERSION;
  }

  // ---- matching, updates, notifications -----------------------------------------------------------

  vulnerabilityReport(digest: string): Promise<ClairVulnerabilityReport | undefined> {
    return this.matcher.vulnerabilityReport(digest);
  }

  hasVulnerabilityData(): Promise<boolean | undefined> {
    return this.matcher.hasVulnerabilityData();
  }

  /**
   * A stored manifest's vulnerability report, or why there is none yet. One pushed before the scanner was on
   * (or whose job was removed) is queued now. `noData`: matched against no advisory data at all, which must not
   * read as "no known vulnerabilities".
   */
  async security(digest: string, repository: string): Promise<SecurityState> {
    const st = await this.status(digest);
    switch (st.state) {
      case 'unknown':
        await this.enqueue(digest, repository);
        return { status: 'queued' };
      case 'queued':
      case 'indexing':
        return { status: 'queued', ...(st.job.lastError ? { retrying: st.job.lastError } : {}) };
      case 'failed':
        return { status: 'failed', error: st.error };
      case 'unsupported':
        return { status: 'unsupported', reason: st.reason };
      case 'indexed': {
        const report = await this.vulnerabilityReport(digest);
        if (!report) return { status: 'queued' };
        return { status: 'scanned', report, noData: (await this.hasVulnerabilityData()) === false };
      }
    }
  }

  /** Runs updaters now (the configured list, or `names`); re-matches and notifies when data changed. */
  runUpdaters(names?: string[]): Promise<RunResult[]> {
    return this.rematcher.runUpdaters(names);
  }

  /** Call after an import that changed data (air-gap import, `replaceUpdater`): re-match and notify. */
  rematchAll(): Promise<{ manifests: number; notifications: number }> {
    return this.rematcher.rematchAll();
  }

  vulnerabilityCounts(): Promise<Record<Severity, number>> {
    return this.reports.vulnerabilityCounts();
  }

  // ---- cleanup ------------------------------------------------------------------------------------

  /** Clair's DELETE index_report. */
  deleteIndex(digest: string): Promise<boolean> {
    return this.cleaner.deleteIndex(digest);
  }

  /** After Berth deleted manifests: forgets those no repository stores any more. */
  manifestsRemoved(digests: readonly string[]): Promise<{ manifests: number; layers: number }> {
    return this.cleaner.manifestsRemoved(digests);
  }

  /** The periodic sweep (and `berth gc`). */
  cleanup(): Promise<{ manifests: number; layers: number }> {
    return this.cleaner.cleanup();
  }
}
