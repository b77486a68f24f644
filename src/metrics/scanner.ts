// The vulnerability scanner's metrics: Quay's name for the index duration
// (quay_secscan_index_duration_seconds), berth_scanner_* for the rest. Counts (manifests by scan
// state, the queue, vulnerabilities by severity, updater data age) come from the shared database and
// are cached like the row counts; the scan events of this process (ScannerObserver) move the
// counters and the histogram, and make the next scrape re-read the queue.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LayerFormatError } from '../scanner/indexer/layer-reader.js';
import { SEVERITIES, type Severity } from '../scanner/model.js';
import { JOB_STATES, type JobState } from '../scanner/queue.js';
import type { ScanOutcome, ScannerObserver } from '../scanner/log.js';
import { CachedValue } from './cache.js';

/** What the composition root hands to the metrics (all reads; called at most once per interval). */
export interface ScannerMetricsSource {
  /** Manifests per scan state (the durable queue, shared by every replica). */
  jobCounts(): Promise<Record<JobState, number>>;
  /** Vulnerabilities by normalized severity across the latest report of every indexed manifest. */
  vulnerabilityCounts(): Promise<Record<Severity, number>>;
  /** Each updater with data and when that data was fetched upstream (ms since the epoch). */
  updaterDataTimes(): Promise<Array<{ name: string; dataTime: number }>>;
  /** SCANNER_DATA_MAX_AGE_SECONDS: older data is stale. */
  maxAgeSeconds: number;
  /** False with an external scanner, which keeps its own data: the data gauges are then not exported. */
  localData?: boolean;
}

/** Failure classes (the `reason` label): few and fixed, never an error message. */
export const SCAN_FAILURE_REASONS = ['layer_format', 'missing_content', 'layer_fetch', 'external_scanner', 'database', 'other'] as const;
export type ScanFailureReason = (typeof SCAN_FAILURE_REASONS)[number];

/** The class of a failed scan attempt's error. */
export function scanFailureReason(err: unknown): ScanFailureReason {
  if (err instanceof LayerFormatError) return 'layer_format';
  const msg = err instanceof Error ? err.message : String(err ?? '');
  if (/is no longer stored|not in blob storage/.test(msg)) return 'missing_content';
  if (/^fetching layer /.test(msg)) return 'layer_fetch';
  if (/^external scanner/.test(msg)) return 'external_scanner';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^SQLITE_/.test(code) || /^[0-9A-Z]{5}$/.test(code) || code === 'ECONNREFUSED')) return 'database';
  return 'other';
}

const INDEX_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface ScannerMetrics {
  /** Goes into ScannerService.observer. */
  observer: ScannerObserver;
  invalidate(): void;
}

export function registerScannerMetrics(
  registry: Registry,
  source: ScannerMetricsSource,
  intervalMs: number,
  onError: (what: string) => () => void,
): ScannerMetrics {
  const registers = [registry];
  const jobs = new CachedValue(() => source.jobCounts(), intervalMs, onError('scanner_jobs'));
  const vulns = new CachedValue(() => source.vulnerabilityCounts(), intervalMs, onError('scanner_vulnerabilities'));
  const ages = new CachedValue(() => source.updaterDataTimes(), intervalMs, onError('scanner_data_age'));

  new Gauge({
    name: 'berth_scanner_queue_depth',
    help: 'manifests waiting to be scanned (queued, including retries in backoff)',
    registers,
    async collect() {
      this.set((await jobs.get())?.queued ?? 0);
    },
  });
  new Gauge({
    name: 'berth_scanner_scans_running',
    help: 'manifests being scanned now (claimed by a worker of any replica)',
    registers,
    async collect() {
      this.set((await jobs.get())?.indexing ?? 0);
    },
  });
  new Gauge({
    name: 'berth_scanner_manifests',
    help: 'manifests by scan state (queued, indexing, indexed, unsupported, failed)',
    labelNames: ['state'],
    registers,
    async collect() {
      const c = await jobs.get();
      for (const s of JOB_STATES) this.set({ state: s }, c?.[s] ?? 0);
    },
  });
  new Gauge({
    name: 'berth_scanner_vulnerabilities',
    help: 'vulnerabilities found, by normalized severity, across the latest report of every indexed manifest (one per manifest, package and advisory)',
    labelNames: ['severity'],
    registers,
    async collect() {
      const c = await vulns.get();
      for (const s of SEVERITIES) this.set({ severity: s }, c?.[s] ?? 0);
    },
  });
  if (source.localData !== false) {
    new Gauge({
      name: 'berth_scanner_data_updaters',
      help: "updaters with vulnerability data in this Berth's database (0: reports are matched against nothing)",
      registers,
      async collect() {
        const a = await ages.get();
        if (a) this.set(a.length);
      },
    });
  }
  new Gauge({
    name: 'berth_scanner_data_max_age_seconds',
    help: 'SCANNER_DATA_MAX_AGE_SECONDS: vulnerability data older than this is stale',
    registers,
    collect() {
      this.set(source.maxAgeSeconds);
    },
  });
  // Age is computed at scrape time from the cached fetch times, so it grows between refreshes.
  const ageOf = (dataTime: number) => Math.max(0, Math.floor((Date.now() - dataTime) / 1000));
  new Gauge({
    name: 'berth_scanner_data_age_seconds',
    help: "age of each updater's vulnerability data, from when it was fetched upstream (bundle header) or last checked online",
    labelNames: ['updater'],
    registers,
    async collect() {
      this.reset();
      for (const u of (await ages.get()) ?? []) this.set({ updater: u.name }, ageOf(u.dataTime));
    },
  });
  new Gauge({
    name: 'berth_scanner_data_stale',
    help: "1 when the updater's data is older than SCANNER_DATA_MAX_AGE_SECONDS",
    labelNames: ['updater'],
    registers,
    async collect() {
      this.reset();
      for (const u of (await ages.get()) ?? []) this.set({ updater: u.name }, ageOf(u.dataTime) > source.maxAgeSeconds ? 1 : 0);
    },
  });

  const completed = new Counter({
    name: 'berth_scanner_scans_completed_total',
    help: 'scans finished by this process, by result (indexed, unsupported)',
    labelNames: ['result'],
    registers,
  });
  const failed = new Counter({
    name: 'berth_scanner_scans_failed_total',
    help: 'scan attempts of this process that ended in an error, by class (retried ones too)',
    labelNames: ['reason'],
    registers,
  });
  const duration = new Histogram({
    name: 'quay_secscan_index_duration_seconds',
    help: 'seconds taken to index a manifest, by status (indexed, unsupported, failed)',
    labelNames: ['status'],
    buckets: INDEX_BUCKETS,
    registers,
  });
  for (const r of ['indexed', 'unsupported']) completed.labels(r).inc(0);
  for (const r of SCAN_FAILURE_REASONS) failed.labels(r).inc(0);
  for (const s of ['indexed', 'unsupported', 'failed']) duration.zero({ status: s });

  const finished = (ms: number, outcome: ScanOutcome, error?: unknown) => {
    jobs.invalidate();
    const status = outcome === 'retry' ? 'failed' : outcome;
    duration.observe({ status }, ms / 1000);
    if (status === 'failed') failed.inc({ reason: scanFailureReason(error) });
    else completed.inc({ result: status });
  };
  return {
    observer: {
      onScanQueued: () => jobs.invalidate(),
      onScanStarted: () => jobs.invalidate(),
      onScanFinished: finished,
    },
    invalidate() {
      jobs.invalidate();
      vulns.invalidate();
      ages.invalidate();
    },
  };
}
