// Tables of repository mirroring (migration 0016_repo_mirror; src/db/migrations-mirror.ts), merged into Database.
import type { Generated } from 'kysely';

export type RepositoryState = 'NORMAL' | 'READ_ONLY' | 'MIRROR';
export type MirrorSyncStatus = 'NEVER_RUN' | 'SYNC_NOW' | 'SYNCING' | 'SYNC_SUCCESS' | 'SYNC_FAILED' | 'SYNC_CANCEL';

export interface RepoMirrorTable {
  repository_id: number;
  /** 1 or 0. */
  is_enabled: number;
  external_reference: string;
  /** Sealed with the database secret key (null: anonymous). */
  external_registry_username: string | null;
  external_registry_password: string | null;
  /** JSON: { verify_tls, unsigned_images?, proxy? }. */
  external_registry_config: string;
  robot_username: string | null;
  /** JSON array of tag globs (Quay's tag_glob_csv rule). */
  root_rule: string;
  sync_interval: number;
  /** Milliseconds: the next sync is due then. */
  sync_start_date: number | null;
  /** Milliseconds: while SYNCING, the lease of lease_owner ends then unless renewed. */
  sync_expiration_date: number | null;
  sync_retries_remaining: number;
  sync_status: MirrorSyncStatus;
  lease_owner: string | null;
  last_sync: number | null;
  last_error: string | null;
  /** JSON: what the running (or last) sync did so far. */
  progress: string | null;
  created_at: number;
  updated_at: number;
}

declare module './types.js' {
  interface RepositoryTable {
    /** Migration 0016: NORMAL, READ_ONLY or MIRROR. */
    state: Generated<RepositoryState>;
  }
  interface Database {
    repo_mirror: RepoMirrorTable;
  }
}
