import { mkdirSync } from "node:fs";
import path from "node:path";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import SQLite from "better-sqlite3";
import { migrate } from "./migrations.js";
async function openDatabase(settings) {
  if (settings.kind === "sqlite") {
    if (settings.file !== ":memory:") mkdirSync(path.dirname(settings.file), { recursive: true });
    const sqlite = new SQLite(settings.file);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("busy_timeout = 10000");
    sqlite.pragma("foreign_keys = ON");
    cachePreparedStatements(sqlite);
    const db2 = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
    await migrate(db2, "sqlite");
    return { db: db2, dialect: "sqlite", poolStats: () => ({ total: 1, idle: 1, waiting: 0 }), close: () => db2.destroy() };
  }
  const { default: pg } = await import("pg");
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: settings.uri, max: settings.maxConnections });
  pool.on("error", () => {
  });
  const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, "postgres");
  return {
    db,
    dialect: "postgres",
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy()
  };
}
function cachePreparedStatements(sqlite) {
  const cache = /* @__PURE__ */ new Map();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source) => {
    let stmt = cache.get(source);
    if (!stmt) {
      if (cache.size >= 1e3) cache.clear();
      stmt = prepare(source);
      cache.set(source, stmt);
    }
    return stmt;
  });
}
export {
  openDatabase
};
//# sourceMappingURL=database.js.map
