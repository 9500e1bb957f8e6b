/**
 * The tree walk: every VectorSelector, wherever it sits, goes through enforceSelector.
 *
 * The switch is exhaustive (assertNever), so a new node type fails the typecheck here instead of
 * slipping through unenforced. Every child expression is visited, including the parameter of an
 * aggregation: prom-label-proxy's walker (injectproxy/enforce.go) descends only into an
 * AggregateExpr's `Expr`, so a selector in `topk(scalar(count(x)), y)`'s parameter is forwarded
 * as written there. Here it is enforced like any other.
 *
 * Two rewrites besides the selectors keep the printed query meaning what it meant:
 *  - info() is refused: it selects info series (`target_info` by default) inside the engine,
 *    matched only on the identifying labels of its input, so no selector in the text would limit
 *    that lookup to the project. The error is the embedded engine's own (it has no info() either),
 *    so both modes answer the same;
 *  - `ignoring() group_left/right` is written `ignoring(__name__) group_left/right`: the printer,
 *    like Prometheus's String(), drops a matching clause with no labels, which would silently turn
 *    the many-to-one match into one-to-one. Ignoring `__name__` is the same match (the signature
 *    of an `ignoring` match never includes `__name__`), and many-to-one results never use the
 *    matching labels.
 */
import { assertNever, type BinaryExpr, type Expr, type VectorMatching } from "../promql/ast.js";
import { ExecutionError, InvalidQueryError } from "../promql/errors.js";
import { enforceSelector } from "./enforce-selector.js";

/** Valid PromQL that this service cannot forward to a remote engine unchanged (bad_data). */
export class RemoteEnforcementError extends InvalidQueryError {}

/** info(): the embedded engine's error (errorType "execution"), so both modes answer alike. */
export class InfoNotSupportedError extends ExecutionError {
  override readonly name = "InfoNotSupportedError";
  constructor() {
    super('function "info" is not supported yet');
  }
}

export function enforceExpr(e: Expr, projectId: string): Expr {
  const walk = (x: Expr): Expr => enforceExpr(x, projectId);
  switch (e.type) {
    case "NumberLiteral":
    case "StringLiteral":
      return e;
    case "VectorSelector":
      return enforceSelector(e, projectId);
    case "MatrixSelector":
      return { ...e, vectorSelector: enforceSelector(e.vectorSelector, projectId) };
    case "SubqueryExpr":
      return { ...e, expr: walk(e.expr) };
    case "Call":
      if (e.func.name === "info") {
        throw new InfoNotSupportedError();
      }
      return { ...e, args: e.args.map(walk) };
    case "AggregateExpr":
      return { ...e, expr: walk(e.expr), ...(e.param ? { param: walk(e.param) } : {}) };
    case "BinaryExpr":
      return { ...e, lhs: walk(e.lhs), rhs: walk(e.rhs), ...keepMatching(e) };
    case "UnaryExpr":
    case "ParenExpr":
      return { ...e, expr: walk(e.expr) };
    default:
      return assertNever(e);
  }
}

/** See the header: an empty `ignoring()` that must survive printing gets `__name__`. */
function keepMatching(e: BinaryExpr): { matching?: VectorMatching } {
  const m = e.matching;
  if (!m || m.on || m.matchingLabels.length > 0 || m.card === "one-to-one" || m.card === "many-to-many") {
    return {};
  }
  return { matching: { ...m, matchingLabels: ["__name__"] } };
}
