// What the scanner is built on: the config, the database and the blob store (the services' context without their hooks).
import type { BerthConfig } from '../config/load.js';
import type { DB, Dialect } from '../db/database.js';
import type { BlobStore } from '../storage/blobstore.js';

export interface ScannerContext {
  config: BerthConfig;
  db: DB;
  dialect: Dialect;
  store: BlobStore;
  now(): number;
}
