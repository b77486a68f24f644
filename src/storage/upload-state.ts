// Where a storage driver keeps the state of an upload that must outlive one request and one replica
// (the S3 driver: multipart upload id, parts, pending tail). Implemented on the database by src/db/upload-state.ts.

export interface StoredUploadState {
  rev: number;
  state: string;
  createdAt: number;
  updatedAt: number;
}

export interface UploadStateStore {
  /** Creates the state of a new upload (rev 0); false when the id exists. */
  create(id: string, state: string, now: number): Promise<boolean>;
  get(id: string): Promise<StoredUploadState | null>;
  /**
   * Compare-and-set: writes `state` (or only bumps the revision when undefined) if the row is still at `rev`.
   * Returns the new revision, or null when another writer got there first (or the row is gone).
   */
  swap(id: string, rev: number, state: string | undefined, now: number): Promise<number | null>;
  delete(id: string): Promise<void>;
  /** Every upload id with state, and when it was last written. */
  list(): Promise<{ id: string; updatedAt: number }[]>;
}
