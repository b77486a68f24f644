// Table shapes as Kysely sees them. Times are milliseconds since the epoch.
import type { Generated } from 'kysely';

export interface RepositoryTable {
  id: Generated<number>;
  name: string;
  created_at: number;
  /** Accounts (0002): the owning user or organization (null for repositories pushed in open mode). */
  namespace_id: number | null;
  visibility: Generated<'public' | 'private'>;
  description: string | null;
}
export interface BlobTable {
  digest: string;
  size: number;
  created_at: number;
  last_used_at: number;
}
export interface RepositoryBlobTable {
  repository_id: number;
  digest: string;
  created_at: number;
}
export interface ManifestTable {
  id: Generated<number>;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  size: number;
  content: Uint8Array;
  subject_digest: string | null;
  annotations: string | null;
  created_at: number;
}
/** What a manifest points at: blobs (config, layers) and, for an index, child manifests. */
export interface ManifestRefTable {
  manifest_id: number;
  digest: string;
  kind: 'blob' | 'manifest';
}
export interface TagTable {
  repository_id: number;
  name: string;
  manifest_id: number;
  updated_at: number;
}
/** One lifetime of a tag (0007): end_ts null while the tag still points at manifest_digest. */
export interface TagHistoryTable {
  id: Generated<number>;
  repository_id: number;
  name: string;
  manifest_digest: string;
  start_ts: number;
  end_ts: number | null;
  /** 1 on the tag's current lifetime (at most one per tag, whatever its end), else null (0023). */
  is_current: Generated<number | null>;
}
export interface UploadTable {
  id: string;
  repository: string;
  size: number;
  created_at: number;
  updated_at: number;
}

export * from './types-accounts.js';
import type { AccountsTables } from './types-accounts.js';
import type { AuditTables } from './types-audit.js';
import type { QuotaTables } from './types-quota.js';

export interface Database extends AccountsTables, AuditTables, QuotaTables {
  repository: RepositoryTable;
  blob: BlobTable;
  repository_blob: RepositoryBlobTable;
  manifest: ManifestTable;
  manifest_ref: ManifestRefTable;
  tag: TagTable;
  tag_history: TagHistoryTable;
  upload: UploadTable;
}

// ---- scanner: vulnerability data (src/db/migrations-scanner.ts, src/scanner/store.ts) ----------
/** One normalized advisory record; `payload` is the record as JSON, the other columns index it. */
export interface AdvisoryTable {
  updater: string;
  key: string;
  content_hash: string;
  vuln_id: string;
  ecosystem: string;
  /** '' when the advisory is not about a distribution (language ecosystems). */
  dist_id: string;
  dist_version: string;
  package: string;
  fixed_in: string | null;
  severity: string;
  payload: string;
  /** `[ranges, versions | null]` of the payload: what the matcher reads first (migration 0008). */
  ranges: string;
  updated_at: number;
}
export interface UpdaterStateTable {
  name: string;
  fingerprint: string;
  records: number;
  updated_at: number;
  checked_at: number;
}
export interface Database {
  advisory: AdvisoryTable;
  updater_state: UpdaterStateTable;
}

// ---- scanner: index queue and reports (src/db/migrations-scanner-index.ts, src/scanner/queue.ts) ----
export interface ScanJobTable {
  manifest_digest: string;
  repository: string;
  state: string;
  attempts: number;
  lease_until: number | null;
  lease_owner: string | null;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}
export interface ScanLayerTable {
  layer_digest: string;
  scanner_version: string;
  result: string;
  created_at: number;
}
export interface ScanReportTable {
  manifest_digest: string;
  state: string;
  scanner_version: string;
  report: string;
  error: string | null;
  indexed_at: number;
}
export interface ScanManifestLayerTable {
  manifest_digest: string;
  layer_digest: string;
}
export interface ScanVulnsetTable {
  manifest_digest: string;
  vulns: string;
  matched_at: number;
}
export interface ScanNotificationTable {
  id: string;
  created_at: number;
  body: string;
  delivered_at: number | null;
  attempts: number;
  last_error: string | null;
}
export interface Database {
  scan_job: ScanJobTable;
  scan_layer: ScanLayerTable;
  scan_report: ScanReportTable;
  scan_vulnset: ScanVulnsetTable;
  scan_manifest_layer: ScanManifestLayerTable;
  scan_notification: ScanNotificationTable;
}
