// PostgreSQL: a transaction's BEGIN travels with its first statement. Kysely sends `begin` as a statement of its own
// and waits for the answer before the transaction's first statement: one round trip (and one wake-up of the server
// and of this process) that carries nothing. Here `begin` is held on the client and sent in the first statement's
// extended-protocol exchange, before it and under the same Sync: Parse (when the statement is new on this
// connection), Bind + Execute of a prepared BEGIN, Bind + Describe + Execute of the statement, Sync. The server runs
// them in order, as if BEGIN had been sent alone first; an error in the statement leaves the transaction open and
// failed, as before, for the ROLLBACK that follows. A transaction that ends before any statement (commit or rollback
// right after begin) sends nothing. A first statement without values (a simple-protocol query: raw SQL, SET LOCAL)
// or another kind of query (a cursor) gets the plain BEGIN first, as before.
import type { PoolClient, QueryResult } from 'pg';

/** The prepared BEGIN's name on every connection (prepared on its first use, then kept). */
const BEGIN = 'berth_begin';

/** The parts of pg's Query this module uses (pg/lib/query.js); the types package does not declare them. */
interface PgQuery {
  name?: string;
  text: string;
  types?: unknown[];
  hasBeenParsed(connection: PgConnection): boolean;
  prepare(connection: PgConnection): void;
  handleCommandComplete(msg: unknown, connection: PgConnection): void;
}
interface PgConnection {
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(q: { text: string; name?: string; types?: unknown[] }): void;
  bind(q: { portal: string; statement: string; values: unknown[] }): void;
  execute(q: { portal: string; rows?: number }): void;
}
export type QueryClass = new (config: {
  name?: string;
  text: string;
  values: unknown[];
  callback: (err: Error | null, res: QueryResult) => void;
}) => PgQuery;

/** pg's Query with BEGIN sent before the statement, in the same exchange. */
export function beginThenQueryClass(Query: QueryClass): QueryClass {
  return class BeginThenQuery extends (Query as unknown as new (...a: ConstructorParameters<QueryClass>) => PgQuery) {
    private beginDone = false;
    prepare(connection: PgConnection): void {
      // A named statement new on this connection is parsed first: pg records it as parsed on the exchange's first
      // ParseComplete, and a Parse error then ends the exchange before BEGIN runs (the ROLLBACK after it finds none).
      if (this.name && !this.hasBeenParsed(connection)) {
        connection.parse({ text: this.text, name: this.name, types: this.types });
        connection.submittedNamedStatements[this.name] = this.text;
      }
      if (connection.parsedStatements[BEGIN] === undefined) connection.parse({ text: 'BEGIN', name: BEGIN });
      connection.bind({ portal: '', statement: BEGIN, values: [] });
      connection.execute({ portal: '' });
      // pg's own: (an unnamed statement's Parse,) Bind, Describe, Execute, Sync.
      super.prepare(connection);
    }
    handleCommandComplete(msg: unknown, connection: PgConnection): void {
      // The first CommandComplete is BEGIN's: the prepared BEGIN now exists on this connection; not a result.
      if (!this.beginDone) {
        this.beginDone = true;
        connection.parsedStatements[BEGIN] = 'BEGIN';
        return;
      }
      super.handleCommandComplete(msg, connection);
    }
  } as unknown as QueryClass;
}
