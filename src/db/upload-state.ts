// UploadStateStore on the database (table storage_upload, migration 0010_s3_uploads): every replica sees the same state.
import type { DB } from './database.js';
import type { StoredUploadState, UploadStateStore } from '../storage/upload-state.js';
import './types-s3.js';

export class DbUploadStateStore implements UploadStateStore {
  constructor(private readonly db: DB) {}

  async create(id: string, state: string, now: number): Promise<boolean> {
    const r = await this.db
      .insertInto('storage_upload')
      .values({ id, rev: 0, state, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async get(id: string): Promise<StoredUploadState | null> {
    const row = await this.db
      .selectFrom('storage_upload')
      .select(['rev', 'state', 'created_at', 'updated_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? { rev: Number(row.rev), state: row.state, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) } : null;
  }

  async swap(id: string, rev: number, state: string | undefined, now: number): Promise<number | null> {
    const r = await this.db
      .updateTable('storage_upload')
      .set({ rev: rev + 1, updated_at: now, ...(state !== undefined ? { state } : {}) })
      .where('id', '=', id)
      .where('rev', '=', rev)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0 ? rev + 1 : null;
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('storage_upload').where('id', '=', id).execute();
  }

  async list(): Promise<{ id: string; updatedAt: number }[]> {
    return (await this.db.selectFrom('storage_upload').select(['id', 'updated_at']).execute()).map((r) => ({
      id: r.id,
      updatedAt: Number(r.updated_at),
    }));
  }
}
