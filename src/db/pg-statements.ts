// How Berth's statements go to PostgreSQL through pg's clients: named prepared statements, and BEGIN sent with a
// transaction's first statement (./pg-begin.ts).
import type { Pool, PoolClient, QueryResult } from 'pg';
import { beginThenQueryClass, type QueryClass } from './pg-begin.js';

/** Distinct statement texts given a name (each connection prepares a name on its first use); later ones run unnamed. */
const MAX_NAMED_STATEMENTS = 1000;

type QueryFn = (text: unknown, values?: unknown, cb?: unknown) => unknown;

const noRows = (command: string) => Promise.resolve({ command, rowCount: null, rows: [], fields: [] });

/**
 * PostgreSQL parses and plans an unnamed statement on every run. Statements with values (what Kysely sends for every
 * built query: a single statement, never a script) run as named prepared statements instead: pg's client prepares a
 * name once per connection and afterwards sends only Bind/Execute, in the same round trip as before, and the server
 * skips parse and plan. One name per distinct SQL text, bounded. A statement whose plan a schema change made invalid
 * ("cached plan must not change result type", a migration applied by another replica) fails once; its text then gets
 * a fresh name, prepared anew on the next run. DB_CONNECTION_ARGS.prepared_statements: false turns this off (a pooler
 * in transaction mode cannot keep a connection's named statements), and with it the BEGIN below.
 *
 * Kysely's `begin` is held on the client until the transaction's next query and sent in that query's exchange
 * (./pg-begin.ts): one round trip less per transaction. A commit or rollback right after it sends nothing.
 */
export function nameStatements(pool: Pool, Query: QueryClass): void {
  const names = new Map<string, string>();
  let next = 0;
  const BeginThen = beginThenQueryClass(Query);
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as QueryFn;
    let beginHeld = false;
    (client as unknown as { query: QueryFn }).query = (text, values, cb) => {
      const noValues = values === undefined || (Array.isArray(values) && values.length === 0);
      let withBegin = false;
      if (beginHeld) {
        beginHeld = false;
        if (cb === undefined && noValues && (text === 'commit' || text === 'rollback')) return noRows(text.toUpperCase());
        if (typeof text !== 'string' || noValues || cb !== undefined) {
          // A simple-protocol query or another kind (a cursor): the plain BEGIN first (pg runs a client's queries in
          // order; a failure of BEGIN shows in the query after it).
          (query('begin') as Promise<unknown>).catch(() => undefined);
          return query(text, values, cb);
        }
        withBegin = true;
      } else if (text === 'begin' && cb === undefined && noValues) {
        beginHeld = true;
        return noRows('BEGIN');
      } else if (typeof text !== 'string' || noValues) return query(text, values, cb);
      // A statement with values, with the held BEGIN when `withBegin` (Kysely's promise form only).
      const sql = text as string;
      let name = names.get(sql);
      if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
        name = `berth_${next++}`;
        names.set(sql, name);
      }
      const config = { ...(name !== undefined ? { name } : {}), text: sql, values: values as unknown[] };
      if (cb !== undefined) return query(config, cb);
      const run = withBegin
        ? new Promise<QueryResult>((resolve, reject) => {
            query(new BeginThen({ ...config, callback: (err, res) => (err ? reject(err) : resolve(res)) }));
          })
        : (query(config) as Promise<QueryResult>);
      return run.catch((e: { code?: string }) => {
        if (e?.code === '0A000' && name !== undefined && names.get(sql) === name) names.set(sql, `berth_${next++}`);
        throw e;
      });
    };
  });
}
