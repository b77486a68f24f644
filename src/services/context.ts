// What every service is handed by the composition root.
import type { BerthConfig } from '../config/load.js';
import type { DB, Dialect } from '../db/database.js';
import type { BlobStore } from '../storage/blobstore.js';

export interface ServiceContext {
  config: BerthConfig;
  db: DB;
  dialect: Dialect;
  store: BlobStore;
  now(): number;
  /** Called after a manifest is stored (the scanner queues it); errors are swallowed, never fail the push. */
  onManifestPut?: (repository: string, digest: string) => Promise<unknown>;
}
