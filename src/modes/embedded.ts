/**
 * Embedded storage mode: samples in our own store (src/tsdb), queries evaluated by our PromQL
 * engine in a pool of worker threads (src/exec), so no query runs on the thread that serves HTTP
 * and acknowledges writes.
 */
import { QueryPool, type QueryPoolOptions } from "../exec/query-pool.js";
import type { QueryRunner } from "../exec/runner.js";
import type { SelfMetrics } from "../metrics/self-metrics.js";
import type { RuleQuery } from "../rules/manager.js";
import type { Appendable, Queryable } from "../storage/index.js";
import { EmbeddedBackend } from "./embedded-backend.js";
import type { SampleStorage } from "./storage.js";

export interface EmbeddedSamplesOptions {
  /** The store; it stays the caller's to close unless `closeStore` is given. */
  store: Queryable & Appendable;
  /** Runs the queries (default: a new pool of worker threads with `pool`'s options). */
  runner?: QueryRunner;
  pool?: QueryPoolOptions;
  /** A rule's query gets this long, as a request does (ms). */
  queryTimeoutMs: number;
  /** Closes the store after the pool (when this mode owns it). */
  closeStore?: () => void;
}

export interface EmbeddedSamples extends SampleStorage {
  readonly runner: QueryRunner;
}

export function embeddedSamples(o: EmbeddedSamplesOptions): EmbeddedSamples {
  const runner = o.runner ?? new QueryPool(o.pool);
  const store = o.store;
  // The rules read across projects, so they get the whole store.
  const ruleQuery: RuleQuery = async (expr, t, signal) => {
    const deadline = Date.now() + o.queryTimeoutMs;
    return (
      await runner.run({ kind: "instant", query: expr, start: t, end: t, step: 0, deadline, signal }, store)
    ).value;
  };
  const slots = runner.workers;
  return {
    mode: "embedded",
    runner,
    appendable: store,
    queries: new EmbeddedBackend(store, runner),
    ruleQuery,
    // One worker stays free of any one project, so a project's flood leaves room for the others.
    querySlots: { total: slots, perProject: Math.max(1, slots - 1) },
    watch(metrics: SelfMetrics) {
      if (runner instanceof QueryPool) metrics.watchQueryPool(runner);
    },
    async close() {
      await runner.close();
      o.closeStore?.();
    },
  };
}
