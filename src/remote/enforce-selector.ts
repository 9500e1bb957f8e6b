/**
 * The rule for one series selector: what `project_id` matchers it keeps, and what it gains.
 *
 * The embedded mode ANDs `project_id="<project>"` onto every selection (storage/project-scope.ts).
 * For a series of the project, a user's own `project_id` matcher is then either true (redundant) or
 * false (nothing is selected). The remote mode reproduces exactly that, decided here with our own
 * matchers (RE2 semantics, fully anchored) so the remote engine never sees the user's matcher:
 *
 *  - every `project_id` matcher accepts the project (`="A"`, `=~"A|B"`, `!="B"`, `=~"(?i)a.*"`):
 *    all of them are dropped and the one equality takes their place;
 *  - some `project_id` matcher rejects it (`="B"`, `!="A"`, `=""`, `=~"A.+"`): the selector is
 *    made to select nothing (DENY below) rather than rejected with an error, because that is what
 *    the embedded mode answers (an empty result, so `x or x{project_id="B"}` still returns x).
 *
 * Either way the selector ends with exactly one `project_id` matcher: the equality. That is the
 * whole security argument: an engine that honours `project_id="A"` can only return A's series,
 * whatever else the selector says.
 */
import type { VectorSelector } from "../promql/ast.js";
import { Matcher, MatchType } from "../storage/matcher.js";
import { PROJECT_LABEL } from "../storage/project-scope.js";

/**
 * A label no stored series carries; DENY never matches whatever the data, since a label cannot be
 * both present-and-non-empty and empty-or-missing.
 */
export const DENY_LABEL = "__project_denied__";

/**
 * Why a contradictory pair and not one `__project_denied__="x"`:
 *  - it matches nothing even if some series did carry the label (nothing to trust in the data);
 *  - neither is an equality, so absent() / absent_over_time(), which build their output from the
 *    selector's equality matchers, add no label for it (each occurrence deletes it);
 *  - `!=""` (label present) and `=~""` (label empty or missing) are the two forms every
 *    Prometheus-compatible engine (Prometheus, Mimir, VictoriaMetrics) implements the same way.
 */
export const DENY: readonly Matcher[] = [
  new Matcher(MatchType.NotEqual, DENY_LABEL, ""),
  new Matcher(MatchType.Regexp, DENY_LABEL, ""),
];

/** An empty project id would make `project_id=""` select series with no project at all. */
export function checkProjectId(projectId: string): void {
  if (typeof projectId !== "string" || projectId === "") {
    throw new TypeError("enforcement needs a non-empty project id");
  }
}

/** Whether the selector's own `project_id` matchers all accept the project. */
export function acceptsProject(matchers: readonly Matcher[], projectId: string): boolean {
  return matchers.every((m) => m.name !== PROJECT_LABEL || m.matches(projectId));
}

/** The selector's matchers with the project enforced (see the header for the rule). */
export function enforceMatcherList(matchers: readonly Matcher[], projectId: string): Matcher[] {
  const out = matchers.filter((m) => m.name !== PROJECT_LABEL);
  const denied = !acceptsProject(matchers, projectId);
  out.push(Matcher.eq(PROJECT_LABEL, projectId));
  // Already-denied selectors keep their pair among `out`; adding it again would not be idempotent.
  if (denied && !DENY.every((d) => out.some((m) => sameMatcher(m, d)))) out.push(...DENY);
  return out;
}

export function enforceSelector(vs: VectorSelector, projectId: string): VectorSelector {
  return { ...vs, matchers: enforceMatcherList(vs.matchers, projectId) };
}

function sameMatcher(a: Matcher, b: Matcher): boolean {
  return a.type === b.type && a.name === b.name && a.value === b.value;
}
