// Builds the scanner from the config (called by the composition root and `berth scanner serve`).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ScannerContext } from './context.js';
import { ScannerService, SCANNER_VERSION, type ScannerOptions } from './service.js';
import type { ScannerLogger, ScannerObserver } from './log.js';
import { Notifier } from './notifier.js';
import { RemoteScanner } from './remote.js';
import { isAirgapped } from './bundle/airgap.js';
import { ScanQueue } from './queue.js';
import { ReportStore } from './report-store.js';
import { UpdaterStatusService } from './bundle/status.js';
import type { JobState } from './queue.js';
import type { Severity } from './model.js';

export type { ScannerContext } from './context.js';

export interface ScannerSetup {
  service: ScannerService;
  /** The PSK of the Clair API (SECURITY_SCANNER_V4_PSK). */
  psk?: string;
  /** True when an external scanner does the indexing (SECURITY_SCANNER_V4_ENDPOINT). */
  remote: boolean;
  /** Starts the worker loops (SCANNER_WORKERS) and the updater schedule. */
  start(): void;
  stop(): Promise<void>;
}

/** Whether this server runs a scanner (FEATURE_SECURITY_SCANNER). */
export function scannerEnabled(ctx: ScannerContext): boolean {
  return !!ctx.config.raw.FEATURE_SECURITY_SCANNER;
}

/** What the metrics read about the scanner (src/metrics/scanner.ts, ScannerMetricsSource). */
export interface ScannerCounts {
  jobCounts(): Promise<Record<JobState, number>>;
  vulnerabilityCounts(): Promise<Record<Severity, number>>;
  updaterDataTimes(): Promise<Array<{ name: string; dataTime: number }>>;
  maxAgeSeconds: number;
  localData: boolean;
}

/** The counts the metrics read, from the shared database (built before the scanner, which takes the metrics' observer). */
export function scannerCounts(ctx: ScannerContext): ScannerCounts {
  const queue = new ScanQueue(ctx.db);
  const reports = new ReportStore(ctx.db, SCANNER_VERSION);
  const updaters = new UpdaterStatusService(ctx);
  return {
    jobCounts: () => queue.counts(),
    vulnerabilityCounts: () => reports.vulnerabilityCounts(),
    updaterDataTimes: () => updaters.ages(),
    maxAgeSeconds: updaters.maxAgeSeconds,
    localData: !ctx.config.raw.SECURITY_SCANNER_V4_ENDPOINT,
  };
}

/** The scanner of this process, or undefined when FEATURE_SECURITY_SCANNER is off (and not forced). */
export function buildScanner(
  ctx: ScannerContext,
  opts: {
    log?: ScannerLogger;
    observer?: ScannerObserver;
    force?: boolean;
    /** Credentials for an external scanner's layer fetches, per repository (Berth with accounts: a pull token). */
    layerHeaders?: (repository: string) => Promise<Record<string, string[]>>;
    /** Repository notifications: what a re-match newly found (vulnerability_found). */
    onRematch?: ScannerOptions['onRematch'];
  } = {},
): ScannerSetup | undefined {
  const raw = ctx.config.raw;
  if (!scannerEnabled(ctx) && !opts.force) return undefined;
  const publicUrl = `${ctx.config.urlScheme}://${ctx.config.serverHostname}`;
  const notifier = new Notifier({ db: ctx.db, baseUrl: publicUrl, webhook: raw.SCANNER_NOTIFICATION_WEBHOOK, log: opts.log, now: ctx.now });
  const endpoint = raw.SECURITY_SCANNER_V4_ENDPOINT;
  const tmpDir = path.join(ctx.config.dataDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const service = new ScannerService({
    db: ctx.db,
    dialect: ctx.dialect,
    blobs: ctx.store,
    log: opts.log,
    observer: opts.observer,
    notifier,
    onRematch: opts.onRematch,
    now: ctx.now,
    tmpDir,
    queue: { maxAttempts: raw.SCANNER_MAX_ATTEMPTS, leaseMs: raw.SCANNER_LEASE_SECONDS * 1000 },
    // Air-gapped (SCANNER_AIRGAP / airgap: true): every updater fetch is refused before any socket opens.
    updaters: {
      names: raw.SCANNER_UPDATERS,
      baseUrls: raw.SCANNER_UPDATER_BASE_URLS,
      proxy: raw.SCANNER_PROXY,
      airgap: isAirgapped(ctx.config),
    },
    ...(endpoint
      ? {
          remote: {
            scanner: new RemoteScanner(endpoint, raw.SECURITY_SCANNER_V4_PSK),
            registryUrl: publicUrl,
            layerHeaders: opts.layerHeaders,
          },
        }
      : {}),
  });
  return {
    service,
    psk: raw.SECURITY_SCANNER_V4_PSK,
    remote: !!endpoint,
    start() {
      service.start(raw.SCANNER_WORKERS);
      // Updates only where this process does the matching, and only when configured to.
      if (!endpoint) service.schedule(raw.SCANNER_UPDATE_INTERVAL_SECONDS);
    },
    stop: () => service.stop(),
  };
}
