// Config keys of storage quotas (Quay's FEATURE_QUOTA_MANAGEMENT family; docs/QUOTAS.md).
import { z } from 'zod';

export const quotaConfigSchema = {
  /** Quay: track storage per namespace and repository, serve the quota API, enforce Reject limits. Off by default. */
  FEATURE_QUOTA_MANAGEMENT: z.boolean().default(false),
  /** Quay: superusers may create, change and delete quotas (off: quotas are read-only in the API). */
  FEATURE_EDIT_QUOTA: z.boolean().default(true),
  /** Quay: refuse pushes that would cross a Reject limit (off: usage is tracked and reported only). */
  FEATURE_VERIFY_QUOTA: z.boolean().default(true),
  /** Quay: a Reject limit for every namespace that has no quota of its own; 0: none. */
  DEFAULT_SYSTEM_REJECT_QUOTA_BYTES: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
  /** Quay: compute the usage of namespaces that have no recorded usage yet (on start, in the background). */
  QUOTA_BACKFILL: z.boolean().default(true),
};

export interface QuotaSettings {
  enabled: boolean;
  editable: boolean;
  verify: boolean;
  defaultRejectBytes: number;
  backfill: boolean;
}

export function quotaSettings(raw: {
  FEATURE_QUOTA_MANAGEMENT?: boolean;
  FEATURE_EDIT_QUOTA?: boolean;
  FEATURE_VERIFY_QUOTA?: boolean;
  DEFAULT_SYSTEM_REJECT_QUOTA_BYTES?: number;
  QUOTA_BACKFILL?: boolean;
}): QuotaSettings {
  return {
    enabled: raw.FEATURE_QUOTA_MANAGEMENT ?? false,
    editable: raw.FEATURE_EDIT_QUOTA ?? true,
    verify: raw.FEATURE_VERIFY_QUOTA ?? true,
    defaultRejectBytes: raw.DEFAULT_SYSTEM_REJECT_QUOTA_BYTES ?? 0,
    backfill: raw.QUOTA_BACKFILL ?? true,
  };
}
