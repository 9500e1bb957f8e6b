/**
 * Prints an expression the way Prometheus 3.5's `Expr.String()` does (what /api/v1/format_query
 * returns): `sum by (job) (rate(foo{a="b"}[5m]))`, `foo offset 5m @ 100.000`. Like Prometheus it
 * adds no parentheses of its own; those in the query are ParenExpr nodes.
 */
import type { Matcher } from "../storage/index.js";
import { type AtModifier, assertNever, type DurationExpr, type Expr, type VectorSelector } from "./ast.js";
import { formatDuration } from "./duration.js";
import { goQuote } from "./parser/gostr.js";
import { formatFloat } from "./parser/numbers.js";

const LEGACY_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Grouping labels; names that are not valid legacy metric names are quoted. */
function joinLabels(labels: readonly string[]): string {
  return labels.map((l) => (LEGACY_METRIC_NAME.test(l) ? l : goQuote(l))).join(", ");
}

/** labels.Matcher.String(): the name quoted unless it is [a-zA-Z_][a-zA-Z0-9_]*. */
function matcherString(m: Matcher): string {
  const plain = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name);
  return `${plain ? m.name : goQuote(m.name)}${m.type}${goQuote(m.value)}`;
}

/** Go's sort.Strings order: by UTF-8 bytes, which is code point order. */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function durationExpr(e: DurationExpr): string {
  switch (e.type) {
    case "DurationLiteral":
      return e.text;
    case "DurationBinary":
      return `${durationExpr(e.lhs)} ${e.op} ${durationExpr(e.rhs)}`;
    case "DurationUnary":
      return e.op === "-" ? `-${durationExpr(e.expr)}` : durationExpr(e.expr);
    case "DurationParen":
      return `(${durationExpr(e.expr)})`;
    default:
      return assertNever(e);
  }
}

function atString(at: AtModifier | undefined): string {
  if (!at) return "";
  if (at.kind === "time") return ` @ ${(at.ms / 1000).toFixed(3)}`;
  return ` @ ${at.kind}()`;
}

function offsetString(ms: number, expr: DurationExpr | undefined): string {
  if (expr) return ` offset ${durationExpr(expr)}`;
  if (ms > 0) return ` offset ${formatDuration(ms)}`;
  if (ms < 0) return ` offset -${formatDuration(-ms)}`;
  return "";
}

/** The selector itself: name and matchers, the `__name__` matcher from the name left out. */
function selectorString(vs: VectorSelector): string {
  const labels = vs.matchers
    .filter((m) => !(m.name === "__name__" && m.type === "=" && m.value === vs.name && m.value !== ""))
    .map(matcherString)
    .sort(compareCodePoints);
  return labels.length > 0 ? `${vs.name}{${labels.join(",")}}` : vs.name;
}

function matchingString(e: Extract<Expr, { type: "BinaryExpr" }>): string {
  const vm = e.matching;
  // As in Prometheus 3.5: no clause without labels or `on`, so `ignoring() group_left` is lost.
  if (!vm || (vm.matchingLabels.length === 0 && !vm.on)) return "";
  let out = ` ${vm.on ? "on" : "ignoring"} (${vm.matchingLabels.join(", ")})`;
  if (vm.card === "many-to-one" || vm.card === "one-to-many") {
    out += ` group_${vm.card === "many-to-one" ? "left" : "right"} (${vm.include.join(", ")})`;
  }
  return out;
}

export function formatExpr(e: Expr): string {
  switch (e.type) {
    case "NumberLiteral":
      if (!e.duration) return formatFloat(e.val);
      return e.val < 0 ? `-${formatDuration(durationMs(-e.val))}` : formatDuration(durationMs(e.val));
    case "StringLiteral":
      return goQuote(e.val);
    case "VectorSelector":
      return selectorString(e) + atString(e.at) + offsetString(e.offset, e.offsetExpr);
    case "MatrixSelector": {
      const vs = e.vectorSelector;
      const range = e.rangeExpr ? durationExpr(e.rangeExpr) : formatDuration(e.range);
      return `${selectorString(vs)}[${range}]${atString(vs.at)}${offsetString(vs.offset, vs.offsetExpr)}`;
    }
    case "SubqueryExpr": {
      const range = e.rangeExpr ? durationExpr(e.rangeExpr) : formatDuration(e.range);
      const step = e.stepExpr ? durationExpr(e.stepExpr) : e.step !== 0 ? formatDuration(e.step) : "";
      return `${formatExpr(e.expr)}[${range}:${step}]${atString(e.at)}${offsetString(e.offset, e.offsetExpr)}`;
    }
    case "Call":
      return `${e.func.name}(${e.args.map(formatExpr).join(", ")})`;
    case "AggregateExpr": {
      let out: string = e.op;
      if (e.without) out += ` without (${joinLabels(e.grouping)}) `;
      else if (e.grouping.length > 0) out += ` by (${joinLabels(e.grouping)}) `;
      const param = e.param ? `${formatExpr(e.param)}, ` : "";
      return `${out}(${param}${formatExpr(e.expr)})`;
    }
    case "BinaryExpr":
      return `${formatExpr(e.lhs)} ${e.op}${e.returnBool ? " bool" : ""}${matchingString(e)} ${formatExpr(e.rhs)}`;
    case "UnaryExpr":
      return `${e.op}${formatExpr(e.expr)}`;
    case "ParenExpr":
      return `(${formatExpr(e.expr)})`;
    default:
      return assertNever(e);
  }
}

/** model.Duration(seconds * 1e9): nanoseconds truncated, then whole milliseconds. */
function durationMs(seconds: number): number {
  return Math.trunc(Math.trunc(seconds * 1e9) / 1e6);
}
