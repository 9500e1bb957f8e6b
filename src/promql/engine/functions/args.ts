/** Arguments of a function call: evaluated and checked for the kind the signature promised. */
import type { Expr } from "../../ast.js";
import { ExecutionError } from "../../errors.js";
import type { Evaluator } from "../evaluator.js";
import type { StepSeries } from "../types.js";

/** The expression inside any parentheses. */
export function unwrap(e: Expr): Expr {
  return e.type === "ParenExpr" ? unwrap(e.expr) : e;
}

export function scalarArg(ev: Evaluator, e: Expr): Float64Array {
  const v = ev.eval(e);
  if (v.kind !== "scalar") throw new ExecutionError(`expected scalar argument, got ${v.kind}`);
  return v.values;
}

export function vectorArg(ev: Evaluator, e: Expr): StepSeries[] {
  const v = ev.eval(e);
  if (v.kind !== "vector") throw new ExecutionError(`expected instant vector argument, got ${v.kind}`);
  return v.series;
}

export function stringArg(ev: Evaluator, e: Expr, what: string): string {
  const v = ev.eval(e);
  if (v.kind !== "string") throw new ExecutionError(`${what} must be a string`);
  return v.value;
}

/** Prometheus warns once per query about a φ outside [0, 1] (or NaN). */
export function warnQuantile(ev: Evaluator, q: number): void {
  if (Number.isNaN(q) || q < 0 || q > 1) {
    ev.ctx.annotations.warn(`quantile value should be between 0 and 1, got ${goG(q)}`);
  }
}

/** Go's %g for the values quantile warnings print. */
function goG(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}
