/**
 * The step-invariance re-runs Prometheus's runner makes for every instant eval
 * (atModifierTestCases): every selector and subquery gets `@ <eval time>` and the query is evaluated
 * again at other times (-10t, 0, t/5, t, 10t; or -1s, 0, 1s when t = 0), expecting the same result.
 *
 * As in Prometheus the query is parsed, rewritten as a tree and printed again: selectors and
 * subqueries without a fixed `@` get one (`@ start()`/`@ end()` are replaced), nothing inside a
 * subquery is touched, and the re-runs are skipped when a function whose result depends on the
 * evaluation time is called outside subqueries. When the project's parser rejects the query, a
 * textual rewrite on lezer's tree is used instead (skipped for queries that already hold an `@`).
 */
import type { SyntaxNode } from "@lezer/common";
import { type AtModifier, assertNever, type Expr } from "../ast.js";
import { parseExpr } from "../parser/index.js";
import { formatExpr } from "../printer.js";
import { hasSyntaxError, parseQueryTree } from "./selectors.js";

/** Prometheus's promql.AtModifierUnsafeFunctions. */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  "days_in_month",
  "day_of_month",
  "day_of_week",
  "day_of_year",
  "hour",
  "minute",
  "month",
  "year",
  "predict_linear",
  "time",
  "timestamp",
]);

export interface AtModifierCase {
  readonly expr: string;
  readonly evalMs: number;
}

export type AtModifierPlan =
  | { readonly kind: "cases"; readonly cases: readonly AtModifierCase[] }
  | { readonly kind: "none"; readonly why: string };

/** Formats an `@` time as Prometheus prints it: seconds with three decimals. */
export function formatAtSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function evalTimes(evalMs: number): number[] {
  return evalMs === 0 ? [-1000, 0, 1000] : [-10 * evalMs, 0, Math.trunc(evalMs / 5), evalMs, 10 * evalMs];
}

function plan(expr: string, evalMs: number): AtModifierPlan {
  return { kind: "cases", cases: evalTimes(evalMs).map((t) => ({ expr, evalMs: t })) };
}

/** The extra instant queries Prometheus runs for an instant eval at `evalMs`. */
export function atModifierCases(query: string, evalMs: number): AtModifierPlan {
  let expr: Expr;
  try {
    expr = parseExpr(query, { experimentalFunctions: true, experimentalDurationExpr: true });
  } catch {
    return atModifierCasesTextual(query, evalMs);
  }
  const state = { unsafe: null as string | null };
  const pinned = pinExpr(expr, { kind: "time", ms: evalMs }, state);
  if (state.unsafe !== null) return { kind: "none", why: `${state.unsafe}() depends on the evaluation time` };
  return plan(formatExpr(pinned), evalMs);
}

const hasFixedTime = (at: AtModifier | undefined) => at?.kind === "time";

/** Sets `@` on every selector and outermost subquery without a fixed time, as Prometheus's Inspect walk does. */
function pinExpr(e: Expr, at: AtModifier, state: { unsafe: string | null }): Expr {
  const pin = (x: Expr) => pinExpr(x, at, state);
  switch (e.type) {
    case "NumberLiteral":
    case "StringLiteral":
      return e;
    case "VectorSelector":
      return hasFixedTime(e.at) ? e : { ...e, at };
    case "MatrixSelector":
      return hasFixedTime(e.vectorSelector.at) ? e : { ...e, vectorSelector: { ...e.vectorSelector, at } };
    case "SubqueryExpr":
      // Whatever is inside a subquery with a fixed time is left alone (calls are not even looked at).
      return hasFixedTime(e.at) ? e : { ...e, at };
    case "Call":
      if (AT_MODIFIER_UNSAFE_FUNCTIONS.has(e.func.name)) state.unsafe ??= e.func.name;
      return { ...e, args: e.args.map(pin) };
    case "AggregateExpr":
      return { ...e, expr: pin(e.expr), ...(e.param === undefined ? {} : { param: pin(e.param) }) };
    case "BinaryExpr":
      return { ...e, lhs: pin(e.lhs), rhs: pin(e.rhs) };
    case "UnaryExpr":
    case "ParenExpr":
      return { ...e, expr: pin(e.expr) };
    default:
      return assertNever(e);
  }
}

function insideSubquery(node: SyntaxNode): boolean {
  for (let p = node.parent; p !== null; p = p.parent) if (p.name === "SubqueryExpr") return true;
  return false;
}

/**
 * The same rewrite done on the query text with lezer's positions: ` @ <t>` after every selector
 * (after the range of a range selector) and outermost subquery. Used when the project's parser
 * rejects the query; skipped for queries that already hold an `@` or that lezer cannot parse.
 */
export function atModifierCasesTextual(query: string, evalMs: number): AtModifierPlan {
  const tree = parseQueryTree(query);
  if (hasSyntaxError(tree)) return { kind: "none", why: "query not understood by the lezer grammar" };
  const inserts: number[] = [];
  let unsafe: string | null = null;
  let hasAt = false;
  tree.iterate({
    enter(ref) {
      const node = ref.node;
      switch (ref.name) {
        case "At":
          hasAt = true;
          return;
        case "FunctionCall": {
          const id = node.getChild("FunctionIdentifier");
          const name = id ? query.slice(id.from, id.to) : "";
          if (AT_MODIFIER_UNSAFE_FUNCTIONS.has(name) && !insideSubquery(node)) unsafe ??= name;
          return;
        }
        case "SubqueryExpr":
          if (!insideSubquery(node)) inserts.push(node.to);
          return;
        case "VectorSelector": {
          if (insideSubquery(node)) return;
          const parent = node.parent;
          inserts.push(parent?.name === "MatrixSelector" ? parent.to : node.to);
          return;
        }
      }
    },
  });
  if (unsafe !== null) return { kind: "none", why: `${unsafe}() depends on the evaluation time` };
  if (hasAt) return { kind: "none", why: "the query already has @ modifiers" };
  const at = ` @ ${formatAtSeconds(evalMs)}`;
  let expr = query;
  for (const pos of [...new Set(inserts)].sort((a, b) => b - a))
    expr = expr.slice(0, pos) + at + expr.slice(pos);
  return plan(expr, evalMs);
}

/** Queries whose value depends on the query's range (start(), end(), range(), step()) skip the range-mode check. */
export function usesQueryContextFunctions(query: string): boolean {
  return /(start|end|range|step)\(\)/.test(query);
}
