// Tables of migration 0021_gc_candidates (src/db/migrations-gc-candidates.ts).
import type { Generated } from 'kysely';

export type GcCandidateKind = 'blob' | 'manifest';

export interface GcCandidateTable {
  id: Generated<number>;
  /** 'blob': the repository's link to `digest`, then the blob; 'manifest': the manifest `digest` of the repository. */
  kind: GcCandidateKind;
  repository_id: number;
  digest: string;
  created_at: number;
}

/** The safety-net sweep's progress: one row (id 1). */
export interface GcSweepTable {
  id: number;
  /** 'manifests', 'links', 'blobs', 'files', or 'done'. */
  phase: string;
  /** Keyset position within the phase (null: from the start). */
  cursor: string | null;
  started_at: number;
  finished_at: number | null;
}

declare module './types.js' {
  interface Database {
    gc_candidate: GcCandidateTable;
    gc_sweep: GcSweepTable;
  }
}
