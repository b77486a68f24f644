// Builds the quota parts from the config (FEATURE_QUOTA_MANAGEMENT): the usage tracker every write goes through,
// and the API's service. Off: nothing is built and nothing is tracked.
import type { DB } from '../../db/database.js';
import { quotaSettings } from '../../config/schema-quota.js';
import type { BerthConfig } from '../../config/load.js';
import { QuotaUsage, type QuotaEvents } from './usage.js';
import { QuotaService } from './quotas.js';

export interface QuotaSetup {
  usage: QuotaUsage;
  service: QuotaService;
  /** QUOTA_BACKFILL: recounts, in the background, every namespace (tracking may have been off for a while). */
  backfill(log?: { info(o: object, m: string): void; warn(o: object, m: string): void }): Promise<void>;
}

export function buildQuota(config: BerthConfig, db: DB, now: () => number, events: QuotaEvents = {}): QuotaSetup | undefined {
  const settings = quotaSettings(config.raw);
  if (!settings.enabled) return undefined;
  const usage = new QuotaUsage(db, settings, now, events);
  const service = new QuotaService(db, settings, usage, now);
  return {
    usage,
    service,
    async backfill(log) {
      if (!settings.backfill) return;
      try {
        const done = await usage.recountAll();
        log?.info({ event: 'quota_backfill', namespaces: done.length }, 'storage quota usage recounted');
      } catch (e) {
        log?.warn({ event: 'quota_backfill_failed', err: (e as Error).message }, 'storage quota backfill failed');
      }
    },
  };
}
