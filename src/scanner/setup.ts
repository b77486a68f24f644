// Builds the scanner from the config (called by the composition root and `berth scanner serve`).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ServiceContext } from '../services/context.js';
import { ScannerService, type ScannerLogger, type ScannerObserver, type ScannerOptions } from './service.js';
import { Notifier } from './notifier.js';
import { RemoteScanner } from './remote.js';
import { isAirgapped } from './bundle/airgap.js';

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

/** The scanner of this process, or undefined when FEATURE_SECURITY_SCANNER is off. */
export function buildScanner(ctx: ServiceContext, opts: {
  log?: ScannerLogger; observer?: ScannerObserver; force?: boolean;
  /** Credentials for an external scanner's layer fetches, per repository (Berth with accounts: a pull token). */
  layerHeaders?: (repository: string) => Promise<Record<string, string[]>>;
  /** Repository notifications: what a re-match newly found (vulnerability_found). */
  onRematch?: ScannerOptions['onRematch'];
} = {}): ScannerSetup | undefined {
  const raw = ctx.config.raw;
  if (!raw.FEATURE_SECURITY_SCANNER && !opts.force) return undefined;
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
    updaters: { names: raw.SCANNER_UPDATERS, baseUrls: raw.SCANNER_UPDATER_BASE_URLS, proxy: raw.SCANNER_PROXY, airgap: isAirgapped(ctx.config) },
    ...(endpoint ? { remote: { scanner: new RemoteScanner(endpoint, raw.SECURITY_SCANNER_V4_PSK), registryUrl: publicUrl, layerHeaders: opts.layerHeaders } } : {}),
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
