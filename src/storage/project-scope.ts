/**
 * Project isolation below PromQL. A scoped Queryable hands out queriers that add
 * `project_id="<project>"` to every selection and every label look-up, so whatever a query says
 * (regexes on project_id, `{__name__=~".+"}`, `or`, `absent`, …) the engine can only ever see the
 * series of one project: other projects' series, label names and values are not there for it.
 */
import type { Querier, Queryable, SelectHints, SeriesSet } from "./interface.js";
import { Matcher } from "./matcher.js";

/** The label every stored series carries to say which project it belongs to. */
export const PROJECT_LABEL = "project_id";

const PROJECT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What a project id may be (in URLs, tokens, labels and config files): 1–128 of [A-Za-z0-9._-], not starting with . _ or -. */
export function isValidProjectId(id: string): boolean {
  return PROJECT_ID_RE.test(id);
}

export function scopeToProject(inner: Queryable, projectId: string): Queryable {
  const own = new Matcher("=", PROJECT_LABEL, projectId);
  return {
    querier(mint: number, maxt: number): Querier {
      const q = inner.querier(mint, maxt);
      return {
        select(sortSeries: boolean, hints: SelectHints | undefined, ...matchers: Matcher[]): SeriesSet {
          return q.select(sortSeries, hints, own, ...matchers);
        },
        labelValues(name: string, ...matchers: Matcher[]): string[] {
          return q.labelValues(name, own, ...matchers);
        },
        labelNames(...matchers: Matcher[]): string[] {
          return q.labelNames(own, ...matchers);
        },
        close(): void {
          q.close();
        },
      };
    },
  };
}
