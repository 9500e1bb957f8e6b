/**
 * Project isolation in remote mode: the query text itself is rewritten before it goes to the
 * remote engine (VictoriaMetrics, Mimir, Prometheus), since that engine knows nothing of projects.
 *
 * Design
 *  - Parse with our parser, rewrite the tree, print with our printer: the engine only ever sees
 *    PromQL we produced, never the user's text, so quoting tricks (`{"project_id"="B"}`,
 *    `\x2d` escapes, backquotes) are gone after parsing and cannot confuse the engine's lexer.
 *  - Every VectorSelector, wherever it is (inside matrix selectors, subqueries, function
 *    arguments, aggregation expressions AND parameters, both sides of binary operators, with
 *    `@` / `offset`), ends with exactly one `project_id` matcher: `project_id="<project>"`. The
 *    user's own `project_id` matchers are judged against the project with our matchers, as the
 *    embedded mode does: all accepting it -> replaced by the equality; any rejecting it -> the
 *    selector selects nothing (enforce-selector.ts), which is the embedded mode's empty answer.
 *    We rewrite rather than reject so the two modes agree, e.g. `x or x{project_id="B"}` is x.
 *  - The printed text is parsed again and must mean the same tree, and every selector in it is
 *    checked once more by a walk that does not rely on node types (enforce-verify.ts). A failure
 *    there is a RemoteEnforcementError (bad_data), never a query sent half-enforced.
 *
 * What this does not need to stop, because selection is enforced:
 *  - label_replace / label_join writing `project_id` AFTER selection, count_values("project_id",
 *    …), `label_replace(vector(1), "project_id", "B", "", "")`: the output can carry any
 *    project_id the caller likes, but its series and values are the caller's own (or constants
 *    the caller wrote); nothing of another project was selected, so nothing of it can show;
 *  - `{__name__=~".+"}` and other name regexes: the equality is ANDed like any other matcher;
 *  - absent() / absent_over_time(): they build their output from the selector's equality
 *    matchers, so they now return `{project_id="<project>"}` (plus the caller's other equality
 *    labels) — the caller's own id, never another's.
 * What is refused: info(), which selects `target_info` series inside the engine (enforce-walk.ts).
 */
import type { Expr, VectorSelector } from "../promql/ast.js";
import { type ParseOptions, parseExpr, parseMetricSelector } from "../promql/parser/index.js";
import { formatExpr } from "../promql/printer.js";
import { Matcher } from "../storage/matcher.js";
import { PROJECT_LABEL } from "../storage/project-scope.js";
import { checkProjectId, enforceSelector } from "./enforce-selector.js";
import { assertEnforced, semanticKey } from "./enforce-verify.js";
import { enforceExpr, RemoteEnforcementError } from "./enforce-walk.js";

export { DENY, DENY_LABEL } from "./enforce-selector.js";
export { InfoNotSupportedError, RemoteEnforcementError } from "./enforce-walk.js";

/**
 * The query to send to the remote engine on behalf of `projectId`.
 * Throws ParseError for invalid PromQL (the embedded mode's message and position: answer 400
 * bad_data), InfoNotSupportedError for info() (422 execution, as embedded), and
 * RemoteEnforcementError if the rewritten query would not print faithfully (400 bad_data).
 */
export function enforceProject(query: string, projectId: string, opts: ParseOptions = {}): string {
  checkProjectId(projectId);
  const rewritten = enforceExpr(parseExpr(query, opts), projectId);
  return printChecked(rewritten, projectId, (text) => parseExpr(text, opts));
}

/**
 * `match[]` of /series, /labels and /label/<name>/values, each rewritten by the same rule. Only
 * matchers count for those endpoints, so an `offset` or `@` the embedded mode tolerates is left out
 * (the engine would reject it). With no `match[]` at all, the one selector to send instead is
 * `{project_id="<project>"}`. Validation the embedded API applies first (at least one matcher that
 * rejects "") stays the caller's: run matchParams before this so both modes answer the same 400s.
 */
export function enforceMatchers(selectors: readonly string[], projectId: string): string[] {
  checkProjectId(projectId);
  if (selectors.length === 0) {
    const own: VectorSelector = {
      type: "VectorSelector",
      name: "",
      matchers: [Matcher.eq(PROJECT_LABEL, projectId)],
      offset: 0,
      pos: { start: 0, end: 0 },
    };
    return [printChecked(own, projectId, parseMetricSelector)];
  }
  return selectors.map((s) => {
    const vs = parseMetricSelector(s);
    const bare: VectorSelector = {
      type: "VectorSelector",
      name: vs.name,
      matchers: vs.matchers,
      offset: 0,
      pos: vs.pos,
    };
    return printChecked(enforceSelector(bare, projectId), projectId, parseMetricSelector);
  });
}

/** Prints `e`, then proves the text means `e` and is enforced (see the header). */
function printChecked(e: Expr, projectId: string, reparse: (text: string) => Expr): string {
  const text = formatExpr(e);
  let again: Expr;
  try {
    again = reparse(text);
  } catch (err) {
    throw new RemoteEnforcementError(
      `the query cannot be forwarded to remote storage: its rewritten form ${JSON.stringify(text)} does not parse (${(err as Error).message})`,
    );
  }
  if (semanticKey(again) !== semanticKey(e)) {
    throw new RemoteEnforcementError(
      `the query cannot be forwarded to remote storage: its rewritten form ${JSON.stringify(text)} would mean something else`,
    );
  }
  assertEnforced(again, projectId);
  return text;
}
