// Kysely's SQLite dialect with transactions that take the write lock when they begin (BEGIN IMMEDIATE).
//
// Berth's SQLite file has two connections: the main one, and the checkpoint thread's (./checkpointer.ts), whose
// TRUNCATE checkpoint holds the writer lock for a moment. A deferred transaction (Kysely's plain BEGIN) that has
// read and then writes must upgrade its lock, and SQLite never calls the busy handler for an upgrade: the write
// fails at once with SQLITE_BUSY ("database is locked", a 500 to a tag PUT). BEGIN IMMEDIATE asks for the writer
// lock first, where the busy handler (busy_timeout) waits for the checkpoint instead. The main connection is the
// only writer in the process and Kysely runs one transaction at a time on it, so nothing is serialised that was
// not already.
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
