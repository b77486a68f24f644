// Config keys of the scanner's air-gap mode and data-age monitoring (issue 7).
import { z } from 'zod';

export const airgapConfigSchema = {
  /** Berth: the scanner makes no outbound request (updaters fail at once); data comes from bundles. Clair's `airgap: true` is accepted too. */
  SCANNER_AIRGAP: z.boolean().default(false),
  /** Clair's spelling of SCANNER_AIRGAP. */
  airgap: z.boolean().optional(),
  /** Berth: data older than this counts as stale (API `stale`, the berth_scanner_data_age_seconds alert). */
  SCANNER_DATA_MAX_AGE_SECONDS: z
    .number()
    .int()
    .positive()
    .default(7 * 86400),
  /** Berth: per-updater mirror base URLs (updater name -> URL with the upstream layout). */
  SCANNER_UPDATER_BASE_URLS: z.record(z.string(), z.string().regex(/^https?:\/\//, 'must be an http(s) URL')).optional(),
  /** Berth: an HTTP(S) proxy for updater downloads. */
  SCANNER_PROXY: z
    .string()
    .regex(/^https?:\/\//, 'must be an http(s) URL')
    .optional(),
};
