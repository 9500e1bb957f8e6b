/**
 * Where queries and look-ups are answered: the embedded store through our PromQL engine
 * (embedded-backend.ts), or a remote engine's Prometheus API (remote-backend.ts). The routes
 * validate parameters, apply limits and encode; a backend only answers an already valid request
 * within its scope, and is where isolation is enforced (scoped querier there, rewritten selectors
 * here).
 */
import type { QueryResult } from "../promql/value.js";
import type { Labels, Matcher } from "../storage/index.js";

/**
 * The operator's scope: every project's data, for the provider's own dashboards and fleet-wide
 * queries. Only the operator path behind the admin key (src/api/server.ts) ever passes it; a
 * project id can never be mistaken for it, since it is not a string.
 */
export const OPERATOR: unique symbol = Symbol("operator");

/** Whose data a read may see: one project's (its id), or every project's (OPERATOR). */
export type ReadScope = string | typeof OPERATOR;

/**
 * A scope as a name where a project id would stand (the admission queue's key, log lines): the
 * project's id, or `*operator`, which no project id can be (they start with a letter or digit).
 */
export function scopeName(scope: ReadScope): string {
  return scope === OPERATOR ? "*operator" : scope;
}

export interface QueryRequest {
  query: string;
  kind: "instant" | "range";
  /** ms; start = end for instant queries. */
  start: number;
  end: number;
  /** ms; 0 for instant queries. */
  step: number;
  timeoutMs?: number;
  /** Wall-clock ms (Date.now()) by which the answer is due: the request's timeout, queueing included. */
  deadline: number;
  lookbackDeltaMs?: number;
  signal: AbortSignal;
}

export interface LookupRequest {
  /** ms, inclusive. */
  start: number;
  end: number;
  /** `match[]` as the caller wrote them (already validated), and parsed. */
  match: readonly string[];
  matchers: readonly Matcher[][];
  /** Aborts when the client has gone. */
  signal?: AbortSignal;
}

export interface QueryBackend {
  /**
   * Prometheus's query. Failures are thrown as they come: the engine's (src/promql/errors.ts), the
   * store's (src/storage/errors.ts) or the remote engine's (EngineError); the API maps them all
   * to its envelope in one place (src/api/errors.ts, toApiError).
   */
  query(scope: ReadScope, req: QueryRequest): Promise<QueryResult>;
  /** Series matching any of the `match[]` (at least one), without duplicates, sorted when several. */
  series(scope: ReadScope, req: LookupRequest): Promise<Labels[]>;
  /** Label names, sorted, of series matching any `match[]` (all of the scope's with none). */
  labelNames(scope: ReadScope, req: LookupRequest): Promise<string[]>;
  labelValues(scope: ReadScope, name: string, req: LookupRequest): Promise<string[]>;
}
