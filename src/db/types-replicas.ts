// Table of migration 0020_gc_upload_guard (src/db/migrations-replicas.ts).
export interface ReplicaTable {
  id: string;
  host: string;
  pid: number;
  /** DATA_MODEL_CACHE_CONFIG.engine of that replica: inmemory, redis or none. */
  cache_engine: string;
  started_at: number;
  /** Last heartbeat (ms). */
  seen_at: number;
}

declare module './types.js' {
  interface Database {
    replica: ReplicaTable;
  }
}
