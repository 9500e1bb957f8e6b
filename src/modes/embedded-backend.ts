/**
 * The embedded store as a QueryBackend, read through a querier scoped to the project
 * (src/storage/project-scope.ts), or the whole store for the operator. Queries run in the runner
 * (a pool of worker threads), which reads only the store it is handed; look-ups are answered
 * here, from the label index.
 */
import type { QueryRunner } from "../exec/runner.js";
import type { QueryResult } from "../promql/value.js";
import { compareLabels, type Labels, labelsKey, type Queryable, scopeToProject } from "../storage/index.js";
import {
  type LookupRequest,
  OPERATOR,
  type QueryBackend,
  type QueryRequest,
  type ReadScope,
} from "./backend.js";

function sortedUnion(lists: string[][]): string[] {
  if (lists.length === 1) return lists[0];
  return [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export class EmbeddedBackend implements QueryBackend {
  constructor(
    private readonly storage: Queryable,
    private readonly runner: QueryRunner,
  ) {}

  /** The store as the scope may see it: one project's series, or (operator) all of them. */
  private view(scope: ReadScope): Queryable {
    return scope === OPERATOR ? this.storage : scopeToProject(this.storage, scope);
  }

  query(scope: ReadScope, req: QueryRequest): Promise<QueryResult> {
    const { kind, query, start, end, step, deadline, lookbackDeltaMs, signal } = req;
    return this.runner.run(
      { kind, query, start, end, step, deadline, lookbackDeltaMs, signal },
      this.view(scope),
    );
  }

  async series(scope: ReadScope, req: LookupRequest): Promise<Labels[]> {
    const q = this.view(scope).querier(req.start, req.end);
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

  async labelNames(scope: ReadScope, req: LookupRequest): Promise<string[]> {
    const q = this.view(scope).querier(req.start, req.end);
    try {
      return sortedUnion(
        req.matchers.length === 0 ? [q.labelNames()] : req.matchers.map((m) => q.labelNames(...m)),
      );
    } finally {
      q.close();
    }
  }

  async labelValues(scope: ReadScope, name: string, req: LookupRequest): Promise<string[]> {
    const q = this.view(scope).querier(req.start, req.end);
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
