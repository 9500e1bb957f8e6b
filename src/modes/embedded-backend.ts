/**
 * The embedded store as a QueryBackend, read through a querier scoped to the project
 * (src/storage/project-scope.ts). Queries run in the runner (a pool of worker threads), which
 * reads only that scoped store; look-ups are answered here, from the label index.
 */
import type { QueryRunner } from "../exec/runner.js";
import type { QueryResult } from "../promql/value.js";
import { compareLabels, type Labels, labelsKey, type Queryable, scopeToProject } from "../storage/index.js";
import type { LookupRequest, QueryBackend, QueryRequest } from "./backend.js";

function sortedUnion(lists: string[][]): string[] {
  if (lists.length === 1) return lists[0];
  return [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

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
