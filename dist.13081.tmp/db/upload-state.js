import "./types-s3.js";
class DbUploadStateStore {
  constructor(db) {
    this.db = db;
  }
  db;
  async create(id, state, now) {
    const r = await this.db.insertInto("storage_upload").values({ id, rev: 0, state, created_at: now, updated_at: now }).onConflict((oc) => oc.column("id").doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
  async get(id) {
    const row = await this.db.selectFrom("storage_upload").select(["rev", "state", "created_at", "updated_at"]).where("id", "=", id).executeTakeFirst();
    return row ? { rev: Number(row.rev), state: row.state, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) } : null;
  }
  async swap(id, rev, state, now) {
    const r = await this.db.updateTable("storage_upload").set({ rev: rev + 1, updated_at: now, ...state !== void 0 ? { state } : {} }).where("id", "=", id).where("rev", "=", rev).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0 ? rev + 1 : null;
  }
  async delete(id) {
    await this.db.deleteFrom("storage_upload").where("id", "=", id).execute();
  }
  async list() {
    return (await this.db.selectFrom("storage_upload").select(["id", "updated_at"]).execute()).map((r) => ({ id: r.id, updatedAt: Number(r.updated_at) }));
  }
}
export {
  DbUploadStateStore
};
//# sourceMappingURL=upload-state.js.map
