// Queries compiled once. Building a query with Kysely's builder and compiling it costs about 80-100 µs of CPU,
// three to four times what running it costs on SQLite (docs/PERFORMANCE.md "Small pushes, third round"). A hot
// query of a fixed shape (the same SQL every time, only its values change) is built once per dialect with slots in
// place of its values; afterwards a call puts its values into the compiled query's parameters and runs it, through
// the same executor (and transaction) as a built query. Only for fixed shapes: a query whose SQL depends on the
// values (an `in` list of varying length, optional clauses) is built as usual.
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';
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
  build: (db: Kysely<D>, ...args: A) => Compilable<R>,
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
      q = build(db, ...slots).compile();
      const used = new Set(q.parameters.filter((p): p is Slot => p instanceof Slot).map((p) => p.index));
      if (used.size !== arity) throw new Error(`prepared query: ${arity} arguments, but the compiled query uses ${used.size}: ${q.sql}`);
      compiled.set(executor.adapter, q);
    }
    const parameters = q.parameters.map((p) => (p instanceof Slot ? args[p.index] : p));
    return db.executeQuery<R>({ ...q, parameters });
  };
}
