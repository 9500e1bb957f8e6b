/**
 * What runs a PromQL query for the API and the rules: the worker pool (query-pool.ts), or the
 * engine on the calling thread for embedding the library where no pool is wanted. Both take the
 * Queryable the query may read, so scoping stays the caller's decision.
 */
import type { Engine } from "../promql/engine.js";
import type { QueryResult } from "../promql/value.js";
import type { Queryable } from "../storage/index.js";
import type { PoolQuery } from "./query-pool.js";

export interface QueryRunner {
  /** How many queries it runs at once (admission hands out that many slots). */
  readonly workers: number;
  run(q: PoolQuery, queryable: Queryable): Promise<QueryResult>;
  close(): Promise<void>;
}

/** The engine on this thread: no isolation of time or memory, for tools and tests of the engine. */
export class InlineRunner implements QueryRunner {
  readonly workers = 1;

  constructor(private readonly engine: Engine) {}

  async run(q: PoolQuery, queryable: Queryable): Promise<QueryResult> {
    const opts = {
      signal: q.signal,
      lookbackDeltaMs: q.lookbackDeltaMs,
      timeoutMs: Math.max(0, q.deadline - Date.now()),
    };
    return q.kind === "instant"
      ? this.engine.instantQuery(queryable, q.query, q.start, opts)
      : this.engine.rangeQuery(queryable, q.query, q.start, q.end, q.step, opts);
  }

  async close(): Promise<void> {}
}
