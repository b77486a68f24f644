// Air-gapped mode: with SCANNER_AIRGAP (or `airgap: true`) the scanner makes no outbound request.
// Every updater fetch fails at once with this message, before any socket is opened; data arrives
// only through `berth scanner import-updaters`. The indexers read layer blobs from local storage
// and never fetch anything, so they need no switch.
import type { BerthConfig } from '../../config/load.js';
import { AIRGAP_MESSAGE, type FetchOptions } from '../updaters/fetcher.js';

export function airgapRefusal(updater: string): string {
  return `${updater}: ${AIRGAP_MESSAGE}`;
}

/** Whether the configuration turns outbound scanner fetches off. */
export function isAirgapped(config: BerthConfig): boolean {
  const raw = config.raw as Record<string, unknown>;
  return raw.SCANNER_AIRGAP === true || raw.airgap === true;
}

/** The fetch options every updater run must use: the scanner service passes these to runUpdater. */
export function scannerFetchOptions(config: BerthConfig, updater?: string): FetchOptions {
  const raw = config.raw as Record<string, unknown>;
  const bases = (raw.SCANNER_UPDATER_BASE_URLS ?? {}) as Record<string, string>;
  const proxy = typeof raw.SCANNER_PROXY === 'string' ? raw.SCANNER_PROXY : undefined;
  return {
    airgap: isAirgapped(config),
    ...(updater && bases[updater] ? { baseUrl: bases[updater] } : {}),
    ...(proxy ? { proxy } : {}),
  };
}

/** Seconds after which an updater's data counts as stale (SCANNER_DATA_MAX_AGE_SECONDS, default 7 days). */
export function dataMaxAgeSeconds(config: BerthConfig): number {
  const v = (config.raw as Record<string, unknown>).SCANNER_DATA_MAX_AGE_SECONDS;
  return typeof v === 'number' && v > 0 ? v : 7 * 86400;
}
