// Tables of storage quotas (migration 0017_quota; src/db/migrations-quota.ts).
import type { Generated } from 'kysely';

export type QuotaLimitType = 'Warning' | 'Reject';

export interface NamespaceQuotaTable {
  id: Generated<number>;
  namespace_id: number;
  limit_bytes: number;
  created_at: number;
}
export interface QuotaLimitTable {
  id: Generated<number>;
  quota_id: number;
  type: QuotaLimitType;
  threshold_percent: number;
  created_at: number;
}
/** Usage of a namespace (the first path component of its repositories' names): every blob counted once. */
export interface QuotaNamespaceSizeTable {
  namespace: string;
  size_bytes: number;
  updated_at: number;
  /** 1 once a recount computed it from scratch. */
  backfill_complete: Generated<number>;
}
export interface QuotaRepositorySizeTable {
  repository_id: number;
  size_bytes: number;
  updated_at: number;
}
export interface QuotaTables {
  namespace_quota: NamespaceQuotaTable;
  quota_limit: QuotaLimitTable;
  quota_namespace_size: QuotaNamespaceSizeTable;
  quota_repository_size: QuotaRepositorySizeTable;
}
