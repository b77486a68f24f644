// What every service is handed by the composition root.
import type { BerthConfig } from '../config/load.js';
import type { DB, Dialect } from '../db/database.js';
import type { BlobStore } from '../storage/blobstore.js';
import type { DataModelCache } from '../cache/types.js';
import type { PullRecorder } from './pull-stats.js';

export interface ServiceContext {
  config: BerthConfig;
  db: DB;
  dialect: Dialect;
  store: BlobStore;
  now(): number;
  /** Resolves once every commit made so far is durable; awaited through writesDurable (./durability.ts). */
  durable?: () => Promise<void>;
  /** The data-model cache (src/cache): in memory, or Redis shared by replicas. Absent: every lookup reads the database. */
  cache?: DataModelCache;
  /** Counts manifest pulls and flushes them to the database in batches (src/services/pull-stats.ts). */
  pulls?: PullRecorder;
  /** Called after a manifest is stored (the scanner queues it); errors are swallowed, never fail the push. */
  onManifestPut?: (repository: string, digest: string) => Promise<unknown>;
  /**
   * The scanner's queue written inside the transaction that stores a new manifest (one commit less per push than
   * `onManifestPut` after it); `queued` runs after that commit (wakes the workers). A manifest that was already
   * stored still goes through `onManifestPut`.
   */
  scanQueue?: { enqueueIn(tx: DB, repository: string, digest: string): Promise<boolean>; queued(): void };
  /** Called after manifests were deleted (delete by digest, repository delete, gc); the scanner drops their rows. Errors are swallowed. */
  onManifestsRemoved?: (digests: string[]) => Promise<unknown>;
  /** The audit log (src/services/audit): services that act without a request (team sync, gc) record here. */
  audit?: { record(e: import('./audit/log.js').AuditEntry): void };
  /** Storage quotas (FEATURE_QUOTA_MANAGEMENT): usage kept by pushes and deletes, Reject limits enforced. */
  quota?: import('./quota/usage.js').QuotaUsage;
  /** Told what happened (for metrics); never required, never allowed to change the outcome. */
  observer?: ServiceObserver;
}

/** Kinds of credential check, as Quay labels them in quay_authentication_attempts_total{auth_kind}. */
export type AuthKind = 'basic' | 'bearer' | 'cookie' | 'oauth';

/** Events the services report after the fact. Implemented by src/metrics; every member is optional. */
export interface ServiceObserver {
  blobUploadStarted?(): void;
  /** A blob's bytes were received and committed (not a mount): `seconds` from the upload's start. */
  blobCommitted?(e: { method: 'monolithic' | 'chunked'; size: number; seconds: number }): void;
  gcFinished?(e: {
    uploadsRemoved: number;
    manifestsRemoved: number;
    linksRemoved: number;
    blobsRemoved: number;
    bytesFreed: number;
    strayFilesRemoved: number;
    seconds: number;
    dryRun: boolean;
    failed: boolean;
  }): void;
  /** A credential was checked (accounts): `success` false for wrong credentials, not for missing ones. */
  authAttempt?(kind: AuthKind, success: boolean): void;
}
