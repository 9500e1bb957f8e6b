/**
 * Where a project's queries and look-ups are answered: the embedded store through our PromQL
 * engine, or a remote engine's Prometheus API (remote-backend.ts). The routes validate parameters,
 * apply limits and encode; a backend only answers an already valid request for one project, and
 * is where isolation is enforced (scoped querier here, rewritten selectors there).
 */
import type { QueryRunner } from "../exec/runner.js";
import type { QueryResult } from "../promql/value.js";
import {
  compareLabels,
  type Labels,
  labelsKey,
  type Matcher,
  type Queryable,
  scopeToProject,
} from "../storage/index.js";

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
  /** Prometheus's query, throwing the engine's errors (the route maps them with queryError). */
  query(projectId: string, req: QueryRequest): Promise<QueryResult>;
  /** Series matching any of the `match[]` (at least one), without duplicates, sorted when several. */
  series(projectId: string, req: LookupRequest): Promise<Labels[]>;
  /** Label names, sorted, of series matching any `match[]` (all of the project's with none). */
  labelNames(projectId: string, req: LookupRequest): Promise<string[]>;
  labelValues(projectId: string, name: string, req: LookupRequest): Promise<string[]>;
}

function sortedUnion(lists: string[][]): string[] {
  if (lists.length === 1) return lists[0];
  return [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The embedded store, read through a querier scoped to the project (project-scope.ts). Queries run
 * in the runner (a pool of worker threads), which reads only that scoped store.
 */
export class EmbeddedBackend implements QueryBackend {
  constructor(
    private readonly storage: Queryable,
    private readonly runner: QueryRunner,
  ) {}

  query(projectId: string, req: QueryRequest): Promise<QueryResult> {
    const { kind, query, start, end, step, deadline, lookbackDeltaMs, signal } = req;
    return this.runner.run(
      { kind, query, start, end, step, deadline, lookbackDeltaMs, signal },
      scopeToProject(this.storage, projectId),
    );
  }

  async series(projectId: string, req: LookupRequest): Promise<Labels[]> {
    const q = scopeToProject(this.storage, projectId).querier(req.start, req.end);
    try {
      const seen = new Map<string, Labels>();
      for (const matchers of req.matchers) {
        const set = q.select(true, { start: req.start, end: req.end, func: "series" }, ...matchers);
        while (set.next()) {
          const labels = set.at().labels;
          const key = labelsKey(labels);
          if (!seen.has(key)) seen.set(key, labels);
        }
        const err = set.err();
        if (err) throw err;
      }
      const all = [...seen.values()];
      if (req.matchers.length > 1) all.sort(compareLabels);
      return all;
    } finally {
      q.close();
    }
  }

  async labelNames(projectId: string, req: LookupRequest): Promise<string[]> {
    const q = scopeToProject(this.storage, projectId).querier(req.start, req.end);
    try {
      return sortedUnion(
        req.matchers.length === 0 ? [q.labelNames()] : req.matchers.map((m) => q.labelNames(...m)),
      );
    } finally {
      q.close();
    }
  }

  async labelValues(projectId: string, name: string, req: LookupRequest): Promise<string[]> {
    const q = scopeToProject(this.storage, projectId).querier(req.start, req.end);
    try {
      return sortedUnion(
        req.matchers.length === 0
          ? [q.labelValues(name)]
          : req.matchers.map((m) => q.labelValues(name, ...m)),
      );
    } finally {
      q.close();
    }
  }
}
