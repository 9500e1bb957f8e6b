/**
 * Prometheus's checkAST (promql/parser/parse.go): the type checks run on a syntactically valid
 * tree, in the same order, so the first failure is the error Prometheus reports. Also settles
 * vector matching the way checkAST does: kept only between two instant vectors, many-to-many for
 * set operators.
 */
import { type BinaryExpr, type Expr, exprType, type PosRange, type ValueType } from "../ast.js";
import { range } from "./errors.js";

export class CheckFailure extends Error {
  constructor(
    message: string,
    readonly pos: PosRange,
  ) {
    super(message);
  }
}

/** DocumentedType of Prometheus: the names used in messages. */
export function documentedType(t: ValueType): string {
  if (t === "vector") return "instant vector";
  if (t === "matrix") return "range vector";
  return t;
}

const COMPARISON = new Set(["==", "!=", ">", "<", ">=", "<="]);
const SET_OPS = new Set(["and", "or", "unless"]);

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r";

class Checker {
  constructor(readonly query: string) {}

  fail(message: string, pos: PosRange): never {
    throw new CheckFailure(message, pos);
  }

  expectType(e: Expr, want: ValueType, context: string): Expr {
    const checked = this.check(e);
    const t = exprType(checked);
    if (t !== want)
      this.fail(`expected type ${documentedType(want)} in ${context}, got ${documentedType(t)}`, e.pos);
    return checked;
  }

  /** From the first to the last character of the operator and its modifiers. */
  opRange(n: BinaryExpr): PosRange {
    let start = n.lhs.pos.end;
    while (isSpace(this.query[start])) start++;
    let end = n.rhs.pos.start - 1;
    while (isSpace(this.query[end])) end--;
    return range(start, end);
  }

  binary(n: BinaryExpr): Expr {
    const lhs = this.check(n.lhs);
    const rhs = this.check(n.rhs);
    const lt = exprType(lhs);
    const rt = exprType(rhs);
    const comparison = COMPARISON.has(n.op);
    const setOp = SET_OPS.has(n.op);
    if (n.returnBool && !comparison)
      this.fail("bool modifier can only be used on comparison operators", this.opRange(n));
    if (comparison && !n.returnBool && lt === "scalar" && rt === "scalar") {
      this.fail("comparisons between scalars must use BOOL modifier", this.opRange(n));
    }
    let matching = n.matching;
    if (matching && setOp && matching.card === "one-to-one") matching = { ...matching, card: "many-to-many" };
    for (const l of matching?.on ? matching.matchingLabels : []) {
      if (matching!.include.includes(l)) {
        this.fail(`label "${l}" must not occur in ON and GROUP clause at once`, this.opRange(n));
      }
    }
    const onlyScalarsAndVectors = "binary expression must contain only scalar and instant vector types";
    if (lt !== "scalar" && lt !== "vector") this.fail(onlyScalarsAndVectors, n.lhs.pos);
    if (rt !== "scalar" && rt !== "vector") this.fail(onlyScalarsAndVectors, n.rhs.pos);
    if ((lt !== "vector" || rt !== "vector") && matching) {
      if (matching.matchingLabels.length > 0)
        this.fail("vector matching only allowed between instant vectors", n.pos);
      matching = undefined;
    } else if (setOp && matching) {
      if (matching.card === "one-to-many" || matching.card === "many-to-one") {
        this.fail(`no grouping allowed for "${n.op}" operation`, n.pos);
      }
      if (matching.card !== "many-to-many") this.fail("set operations must always be many-to-many", n.pos);
    }
    if ((lt === "scalar" || rt === "scalar") && setOp) {
      this.fail(`set operator "${n.op}" not allowed in binary scalar expression`, n.pos);
    }
    const { matching: _, ...rest } = n;
    return matching ? { ...rest, lhs, rhs, matching } : { ...rest, lhs, rhs };
  }

  call(n: Extract<Expr, { type: "Call" }>): Expr {
    const f = n.func;
    const nargs = f.argTypes.length;
    const name = `"${f.name}"`;
    if (f.variadic === 0) {
      if (nargs !== n.args.length)
        this.fail(`expected ${nargs} argument(s) in call to ${name}, got ${n.args.length}`, n.pos);
    } else {
      const min = nargs - 1;
      if (min > n.args.length) {
        this.fail(`expected at least ${min} argument(s) in call to ${name}, got ${n.args.length}`, n.pos);
      } else if (f.variadic > 0 && min + f.variadic < n.args.length) {
        this.fail(
          `expected at most ${min + f.variadic} argument(s) in call to ${name}, got ${n.args.length}`,
          n.pos,
        );
      }
    }
    // info()'s second argument selects info metrics by labels only.
    let labelsOnly: Expr | undefined;
    if (f.name === "info" && n.args.length > 1) {
      const sel = n.args[1]!;
      const t = exprType(sel);
      if (t !== "vector") {
        this.fail(`expected type instant vector in call to function "info", got ${documentedType(t)}`, n.pos);
      }
      if (sel.type !== "VectorSelector") this.fail("expected label selectors only", sel.pos);
      if (sel.name !== "") this.fail("expected label selectors only, got vector selector instead", sel.pos);
      labelsOnly = sel;
    }
    const args = n.args.map((arg, i) => {
      if (i >= nargs && f.variadic === 0) return arg;
      const want = f.argTypes[Math.min(i, nargs - 1)]!;
      const checked = arg === labelsOnly ? arg : this.check(arg);
      const t = exprType(checked);
      if (t !== want) {
        this.fail(
          `expected type ${documentedType(want)} in call to function ${name}, got ${documentedType(t)}`,
          arg.pos,
        );
      }
      return checked;
    });
    return { ...n, args };
  }

  vectorSelector(n: Extract<Expr, { type: "VectorSelector" }>): void {
    if (n.name !== "") {
      // The last matcher is the one built from the name.
      for (const m of n.matchers.slice(0, -1)) {
        if (m.name === "__name__")
          this.fail(`metric name must not be set twice: "${n.name}" or "${m.value}"`, n.pos);
      }
      return;
    }
    // Guards against selecting every series by a typo like {job=~".*"}.
    if (!n.matchers.some((m) => !m.matchesEmpty())) {
      this.fail("vector selector must contain at least one non-empty matcher", n.pos);
    }
  }

  check(e: Expr): Expr {
    switch (e.type) {
      case "NumberLiteral":
      case "StringLiteral":
        return e;
      case "VectorSelector":
        this.vectorSelector(e);
        return e;
      case "MatrixSelector":
        this.vectorSelector(e.vectorSelector);
        return e;
      case "SubqueryExpr": {
        const expr = this.check(e.expr);
        const t = exprType(expr);
        if (t !== "vector") this.fail(`subquery is only allowed on instant vector, got ${t} instead`, e.pos);
        return { ...e, expr };
      }
      case "ParenExpr":
        return { ...e, expr: this.check(e.expr) };
      case "UnaryExpr": {
        const expr = this.check(e.expr);
        const t = exprType(expr);
        if (t !== "scalar" && t !== "vector") {
          this.fail(
            `unary expression only allowed on expressions of type scalar or instant vector, got "${documentedType(t)}"`,
            e.pos,
          );
        }
        return { ...e, expr };
      }
      case "AggregateExpr": {
        const expr = this.expectType(e.expr, "vector", "aggregation expression");
        let param = e.param;
        if (param && e.op === "count_values")
          param = this.expectType(param, "string", "aggregation parameter");
        else if (param) param = this.expectType(param, "scalar", "aggregation parameter");
        return param ? { ...e, expr, param } : { ...e, expr };
      }
      case "BinaryExpr":
        return this.binary(e);
      case "Call":
        return this.call(e);
    }
  }
}

/** Type-checks a converted tree; throws CheckFailure with Prometheus's first error. */
export function checkExpr(e: Expr, query: string): Expr {
  return new Checker(query).check(e);
}
