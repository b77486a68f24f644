// Queries compiled once. Building a query with Kysely's builder and compiling it costs about 80-100 µs of CPU,
// three to four times what running it costs on SQLite (docs/PERFORMANCE.md "Small pushes, third round"). A hot
// query of a fixed shape (the same SQL every time, only its values change) is built once per dialect with slots in
// place of its values; afterwards a call puts its values into the compiled query's parameters and runs it, through
// the same executor (and transaction) as a built query. Only for fixed shapes: a query whose SQL depends on the
// values (an `in` list of varying length, optional clauses) is built as usual.
import type { Compilable, CompiledQuery, Kysely, QueryResult, RawBuilder } from 'kysely';
import { QueryCounter } from './query-counter.js';

/** Stands for the i-th argument of a prepared query while it is built. */
class Slot {
  constructor(readonly index: number) {}
}

/**
 * A query built by `build` from `arity` values, compiled on its first use with each dialect. `build` must use every
 * argument as a value (a parameter of the compiled query), never in JavaScript logic: what it receives while the
 * query is built are placeholders.
 */
export function prepared<D, A extends unknown[], R>(
  arity: A['length'],
  build: (db: Kysely<D>, ...args: A) => Compilable<R> | RawBuilder<R>,
): (db: Kysely<D>, ...args: A) => Promise<QueryResult<R>> {
  // Keyed by the dialect adapter: one per database handle, shared by its transactions.
  const compiled = new WeakMap<object, CompiledQuery<R>>();
  const slots = Array.from({ length: arity }, (_, i) => new Slot(i)) as unknown as A;
  return async (db, ...args) => {
    const executor = db.getExecutor();
    let q = compiled.get(executor.adapter);
    if (q) {
      // Compiling ran the executor's plugins (the statement counter among them); a run of the compiled query does not.
      for (const p of executor.plugins) if (p instanceof QueryCounter) p.count++;
    } else {
      // A raw statement (sql`…`, PostgreSQL-only forms Kysely's builders cannot express) compiles against the handle.
      q = (build(db, ...slots) as { compile(db: Kysely<D>): CompiledQuery<R> }).compile(db);
      const used = new Set(q.parameters.filter((p): p is Slot => p instanceof Slot).map((p) => p.index));
      if (used.size !== arity) throw new Error(`prepared query: ${arity} arguments, but the compiled query uses ${used.size}: ${q.sql}`);
      compiled.set(executor.adapter, q);
    }
    const parameters = q.parameters.map((p) => (p instanceof Slot ? args[p.index] : p));
    return db.executeQuery<R>({ ...q, parameters });
  };
}

/** A list longer than this is built and compiled on each call (few manifests name more blobs). */
const MAX_PREPARED_LIST = 32;

/**
 * A query whose SQL depends only on the length of one list of values (an `in (…)` list, the rows of a multi-row
 * insert): compiled once per dialect and list length, like `prepared`. `build` receives the fixed arguments and
 * the list, and must use each as a value, never in JavaScript logic beyond the list's length. A list longer than
 * MAX_PREPARED_LIST (or empty, where the SQL would not be valid) is built as usual on each call.
 */
export function preparedList<D, A extends unknown[], T, R>(
  arity: A['length'],
  build: (db: Kysely<D>, args: A, list: readonly T[]) => Compilable<R> | RawBuilder<R>,
): (db: Kysely<D>, args: A, list: readonly T[]) => Promise<QueryResult<R>> {
  const byLength = new Map<number, (db: Kysely<D>, ...values: unknown[]) => Promise<QueryResult<R>>>();
  return (db, args, list) => {
    if (list.length === 0 || list.length > MAX_PREPARED_LIST)
      return db.executeQuery((build(db, args, list) as { compile(db: Kysely<D>): CompiledQuery<R> }).compile(db));
    let q = byLength.get(list.length);
    if (!q) {
      q = prepared(arity + list.length, (d: Kysely<D>, ...values: unknown[]) =>
        build(d, values.slice(0, arity) as A, values.slice(arity) as T[]),
      );
      byLength.set(list.length, q);
    }
    return q(db, ...args, ...list);
  };
}
