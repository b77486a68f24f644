// Counts the SQL statements a database handle runs (a Kysely plugin: one increment per compiled query, nothing
// else). Tests and benchmarks read it to hold the hot paths to a known number of queries per request
// (test/query-count.test.ts); it is not exported as a metric.
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';

export class QueryCounter implements KyselyPlugin {
  /** Statements run since the handle was opened. */
  count = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}
