/**
 * The PromQL engine's entry points: parse, then evaluate over a Queryable, after Prometheus's
 * promql/engine.go. Evaluation is synchronous and checks its AbortSignal and deadline as it goes.
 */
import type { Queryable } from "../storage/index.js";
import type { CancelSignal } from "./engine/limits.js";
import type { QueryResult } from "./value.js";

export interface EngineOptions {
  /** How far back an instant selector looks for a sample, in ms (default 5 min). */
  lookbackDeltaMs?: number;
  /** Most samples a query may hold in memory at once (default 50,000,000). */
  maxSamples?: number;
  /** Query timeout in ms (default 2 min). */
  timeoutMs?: number;
  /** Step of a subquery written without one (`[5m:]`), in ms (default 1 min). */
  noStepSubqueryIntervalMs?: number;
  /** Allow Prometheus's experimental functions (limitk, mad_over_time, …). Default true. */
  experimentalFunctions?: boolean;
  /** Drop `__name__` only where a result is produced (Prometheus's promql-delayed-name-removal feature, off by default in a Prometheus 3.5 server). Default false. */
  delayedNameRemoval?: boolean;
}

export interface QueryOptions {
  /** An AbortSignal, or anything else whose `aborted` turns true to cancel. */
  signal?: CancelSignal;
  /** Overrides the engine's lookback delta for this query. */
  lookbackDeltaMs?: number;
  /** Shortens the engine's timeout for this query (the smaller of the two applies). */
  timeoutMs?: number;
}

export interface Engine {
  instantQuery(queryable: Queryable, query: string, timeMs: number, opts?: QueryOptions): QueryResult;
  rangeQuery(
    queryable: Queryable,
    query: string,
    startMs: number,
    endMs: number,
    stepMs: number,
    opts?: QueryOptions,
  ): QueryResult;
}

import { runQuery } from "./engine/query.js";
import { ExecutionError } from "./errors.js";
import { parseExpr } from "./parser/index.js";

/** Creates an engine with Prometheus's defaults, overridden by `options`. */
export function newEngine(options: EngineOptions = {}): Engine {
  const lookback = options.lookbackDeltaMs ?? 5 * 60_000;
  const base = {
    maxSamples: options.maxSamples ?? 50_000_000,
    timeoutMs: options.timeoutMs ?? 2 * 60_000,
    subqueryStepMs: options.noStepSubqueryIntervalMs ?? 60_000,
    delayedNameRemoval: options.delayedNameRemoval ?? false,
  };
  const parse = (query: string) =>
    parseExpr(query, { experimentalFunctions: options.experimentalFunctions ?? true });
  return {
    instantQuery(queryable, query, timeMs, opts) {
      const expr = parse(query);
      return runQuery(queryable, expr, { start: timeMs, end: timeMs, step: 1, count: 1 }, true, {
        ...base,
        lookbackMs: opts?.lookbackDeltaMs ?? lookback,
        timeoutMs: Math.min(base.timeoutMs, opts?.timeoutMs ?? Number.POSITIVE_INFINITY),
        signal: opts?.signal,
      });
    },
    rangeQuery(queryable, query, startMs, endMs, stepMs, opts) {
      if (!(stepMs > 0))
        throw new ExecutionError("zero or negative query resolution step widths are not accepted");
      if (endMs < startMs) throw new ExecutionError("end timestamp must not be before start time");
      const expr = parse(query);
      const count = Math.floor((endMs - startMs) / stepMs) + 1;
      return runQuery(queryable, expr, { start: startMs, end: endMs, step: stepMs, count }, false, {
        ...base,
        lookbackMs: opts?.lookbackDeltaMs ?? lookback,
        timeoutMs: Math.min(base.timeoutMs, opts?.timeoutMs ?? Number.POSITIVE_INFINITY),
        signal: opts?.signal,
      });
    },
  };
}
