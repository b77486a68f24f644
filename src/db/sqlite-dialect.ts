// Kysely's SQLite dialect with transactions that take the write lock when they begin (BEGIN IMMEDIATE).
//
// Another connection can hold the SQLite file's writer lock for a moment (an operator's sqlite3 shell; until the
// seventh round the checkpoint thread's TRUNCATE; ./checkpointer.ts now takes it only synchronously, with Kysely's
// connection held). A deferred transaction (Kysely's plain BEGIN) that has read and then writes must upgrade its
// lock, and SQLite never calls the busy handler for an upgrade: the write fails at once with SQLITE_BUSY ("database
// is locked", a 500 to a tag PUT). BEGIN IMMEDIATE asks for the writer lock first, where the busy handler
// (busy_timeout) waits for the other writer instead. The main connection is the only one in the process that
// writes rows and Kysely runs one transaction at a time on it, so nothing is serialised that was not already.
import { CompiledQuery, type DatabaseConnection, type Driver, SqliteDialect, type SqliteDialectConfig, SqliteDriver } from 'kysely';

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
