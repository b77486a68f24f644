// Tables of object-storage uploads (migration 0010_s3_uploads, src/db/upload-state.ts).
export interface StorageUploadTable {
  id: string;
  rev: number;
  state: string;
  created_at: number;
  updated_at: number;
}

declare module './types.js' {
  interface Database {
    storage_upload: StorageUploadTable;
  }
}
