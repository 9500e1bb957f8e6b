/**
 * Checks on the text that leaves for the remote engine, so a printer slip can only ever cost a
 * 400, never isolation or meaning:
 *
 *  - semanticKey: the printed query, parsed again, must be the tree we built (positions, spelling
 *    of durations and of `by ()` aside). Catches anything the printer loses or reorders;
 *  - assertEnforced: every VectorSelector in that re-parsed tree carries exactly one `project_id`
 *    matcher, the equality. It finds selectors by walking every property of every object rather
 *    than by node type, so it does not share a blind spot with the typed walk in enforce-walk.ts.
 */
import { type AtModifier, assertNever, type Expr, type VectorSelector } from "../promql/ast.js";
import type { Matcher } from "../storage/matcher.js";
import { PROJECT_LABEL } from "../storage/project-scope.js";

/** Numbers exactly: NaN, ±Inf and -0 apart (JSON would write the first three as null). */
function num(n: number): string {
  return Object.is(n, -0) ? "-0" : String(n);
}

function at(a: AtModifier | undefined): string {
  if (!a) return "";
  return a.kind === "time" ? `@${num(a.ms)}` : `@${a.kind}`;
}

function matcherKey(m: Matcher): string {
  return JSON.stringify([m.name, m.type, m.value]);
}

/** Matchers as a sorted list: their order in the text means nothing to selection. */
function selectorKey(vs: VectorSelector): string {
  const ms = vs.matchers.map(matcherKey).sort().join(",");
  return `VS(${JSON.stringify(vs.name)};${ms};${num(vs.offset)}${at(vs.at)})`;
}

/** A canonical string of what an expression means; equal strings, equal queries. */
export function semanticKey(e: Expr): string {
  switch (e.type) {
    case "NumberLiteral":
      return `N(${num(e.val)})`;
    case "StringLiteral":
      return `S(${JSON.stringify(e.val)})`;
    case "VectorSelector":
      return selectorKey(e);
    case "MatrixSelector":
      return `M(${selectorKey(e.vectorSelector)}[${num(e.range)}])`;
    case "SubqueryExpr":
      return `Q(${semanticKey(e.expr)}[${num(e.range)}:${num(e.step)}]${num(e.offset)}${at(e.at)})`;
    case "Call":
      return `C(${e.func.name};${e.args.map(semanticKey).join(";")})`;
    case "AggregateExpr":
      // `groupingGiven` only decides whether `by ()` is spelled out; it selects nothing.
      return `A(${e.op};${e.without ? "without" : "by"}${JSON.stringify(e.grouping)};${e.param ? semanticKey(e.param) : ""};${semanticKey(e.expr)})`;
    case "BinaryExpr":
      return `B(${e.op};${e.returnBool};${JSON.stringify(e.matching ?? null)};${semanticKey(e.lhs)};${semanticKey(e.rhs)})`;
    case "UnaryExpr":
      return `U(${e.op};${semanticKey(e.expr)})`;
    case "ParenExpr":
      return `P(${semanticKey(e.expr)})`;
    default:
      return assertNever(e);
  }
}

/** Every object with `type: "VectorSelector"` anywhere under `root`. */
export function findSelectors(root: unknown): VectorSelector[] {
  const out: VectorSelector[] = [];
  const seen = new Set<object>();
  const visit = (x: unknown) => {
    if (x === null || typeof x !== "object" || seen.has(x)) return;
    seen.add(x);
    if ((x as { type?: unknown }).type === "VectorSelector") out.push(x as VectorSelector);
    for (const v of Object.values(x)) visit(v);
  };
  visit(root);
  return out;
}

/** Throws unless every selector under `root` has exactly the one `project_id="<projectId>"`. */
export function assertEnforced(root: unknown, projectId: string): void {
  for (const vs of findSelectors(root)) {
    const own = vs.matchers.filter((m) => m.name === PROJECT_LABEL);
    if (own.length !== 1 || own[0]!.type !== "=" || own[0]!.value !== projectId) {
      throw new Error(`selector escaped project enforcement: ${vs.matchers.map(String).join(", ")}`);
    }
  }
}
