/**
 * Binary operators, after Prometheus's VectorBinop / VectorscalarBinop / scalar arithmetic,
 * with vector matching (on / ignoring, group_left / group_right) and the set operators.
 */
import { getLabel, type Labels } from "../../storage/index.js";
import type { BinaryExpr, BinaryOp, VectorMatching } from "../ast.js";
import { ExecutionError } from "../errors.js";
import type { Evaluator } from "./evaluator.js";
import { formatMetricLabels, keepOnly, keyOf, matchKey, withLabel, without } from "./labels-util.js";
import { type EvalValue, newStepSeries, type StepSeries } from "./types.js";

const COMPARISON = new Set<BinaryOp>(["==", "!=", ">", "<", ">=", "<="]);
const SET_OPS = new Set<BinaryOp>(["and", "or", "unless"]);

/** Arithmetic on two floats (Prometheus's vectorElemBinop for floats). */
export function arith(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case "+":
      return l + r;
    case "-":
      return l - r;
    case "*":
      return l * r;
    case "/":
      return l / r;
    case "%":
      return goMod(l, r);
    case "^":
      return goPow(l, r);
    case "atan2":
      return Math.atan2(l, r);
    default:
      throw new ExecutionError(`operator "${op}" not allowed for arithmetic`);
  }
}

/** Go's math.Mod: result has the sign of x (same as JS %). */
function goMod(x: number, y: number): number {
  return x % y;
}

/** Go's math.Pow special cases differ from JS for 1^NaN and (-1)^±Inf: Go returns 1. */
function goPow(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if ((x === -1 || x === 1) && (y === Number.POSITIVE_INFINITY || y === Number.NEGATIVE_INFINITY)) return 1;
  return x ** y;
}

export function compare(op: BinaryOp, l: number, r: number): boolean {
  switch (op) {
    case "==":
      return l === r;
    case "!=":
      return l !== r;
    case ">":
      return l > r;
    case "<":
      return l < r;
    case ">=":
      return l >= r;
    case "<=":
      return l <= r;
    default:
      throw new ExecutionError(`operator "${op}" is not a comparison`);
  }
}

export function evalBinary(ev: Evaluator, e: BinaryExpr): EvalValue {
  const lhs = ev.eval(e.lhs);
  const rhs = ev.eval(e.rhs);
  const n = ev.steps.count;
  const isCmp = COMPARISON.has(e.op);
  if (lhs.kind === "scalar" && rhs.kind === "scalar") {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = isCmp
        ? compare(e.op, lhs.values[i], rhs.values[i])
          ? 1
          : 0
        : arith(e.op, lhs.values[i], rhs.values[i]);
    }
    return { kind: "scalar", values: out };
  }
  if (lhs.kind === "vector" && rhs.kind === "scalar")
    return vectorScalar(ev, e, lhs.series, rhs.values, false);
  if (lhs.kind === "scalar" && rhs.kind === "vector")
    return vectorScalar(ev, e, rhs.series, lhs.values, true);
  if (lhs.kind === "vector" && rhs.kind === "vector") {
    const matching: VectorMatching = e.matching ?? {
      card: SET_OPS.has(e.op) ? "many-to-many" : "one-to-one",
      matchingLabels: [],
      on: false,
      include: [],
    };
    if (SET_OPS.has(e.op))
      return { kind: "vector", series: setOp(ev, e.op, lhs.series, rhs.series, matching) };
    return { kind: "vector", series: vectorVector(ev, e, lhs.series, rhs.series, matching) };
  }
  throw new ExecutionError(`binary expression must contain only scalar and instant vector types`);
}

function vectorScalar(
  ev: Evaluator,
  e: BinaryExpr,
  series: StepSeries[],
  scalar: Float64Array,
  swap: boolean,
): EvalValue {
  const isCmp = COMPARISON.has(e.op);
  const out: StepSeries[] = [];
  for (const s of series) {
    let any = false;
    for (let i = 0; i < s.values.length; i++) {
      if (!s.present[i]) continue;
      const v = s.values[i];
      const l = swap ? scalar[i] : v;
      const r = swap ? v : scalar[i];
      if (isCmp) {
        const keep = compare(e.op, l, r);
        if (e.returnBool) s.values[i] = keep ? 1 : 0;
        else if (!keep) s.present[i] = 0;
        // Without bool the vector's own value stays, whichever side it was on.
      } else s.values[i] = arith(e.op, l, r);
      if (s.present[i]) any = true;
    }
    if (!any) continue;
    if (!isCmp || e.returnBool) ev.dropName(s);
    out.push(s);
  }
  return { kind: "vector", series: out };
}

function sigSet(m: VectorMatching): ReadonlySet<string> {
  return new Set(m.matchingLabels);
}

/** Per matching signature, the steps at which some series of `series` has a value. */
function presenceBySignature(
  series: readonly StepSeries[],
  m: VectorMatching,
  names: ReadonlySet<string>,
  n: number,
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const s of series) {
    const sig = matchKey(s.metric, m.on, names);
    let at = out.get(sig);
    if (!at) {
      at = new Uint8Array(n);
      out.set(sig, at);
    }
    for (let i = 0; i < n; i++) at[i] |= s.present[i];
  }
  return out;
}

function setOp(
  ev: Evaluator,
  op: BinaryOp,
  lhs: StepSeries[],
  rhs: StepSeries[],
  m: VectorMatching,
): StepSeries[] {
  const n = ev.steps.count;
  const names = sigSet(m);
  const rightAt = presenceBySignature(rhs, m, names, n);
  if (op === "and" || op === "unless") {
    const out: StepSeries[] = [];
    for (const s of lhs) {
      const at = rightAt.get(matchKey(s.metric, m.on, names));
      let any = false;
      for (let i = 0; i < n; i++) {
        if (!s.present[i]) continue;
        const matched = at !== undefined && at[i] === 1;
        if (matched !== (op === "and")) s.present[i] = 0;
        else any = true;
      }
      if (any) out.push(s);
    }
    return out;
  }
  // or: everything on the left, plus right-side series where the left has nothing for their signature.
  const leftAt = presenceBySignature(lhs, m, names, n);
  const out = [...lhs];
  for (const s of rhs) {
    const at = leftAt.get(matchKey(s.metric, m.on, names));
    let any = false;
    for (let i = 0; i < n; i++) {
      if (!s.present[i]) continue;
      if (at !== undefined && at[i] === 1) s.present[i] = 0;
      else any = true;
    }
    if (any) out.push(s);
  }
  return out;
}

function resultMetric(ls: Labels, rs: Labels, m: VectorMatching, names: ReadonlySet<string>): Labels {
  let metric = ls;
  if (m.card === "one-to-one") metric = m.on ? keepOnly(metric, names) : without(metric, names);
  for (const ln of m.include) metric = withLabel(metric, ln, getLabel(rs, ln));
  return metric;
}

function vectorVector(
  ev: Evaluator,
  e: BinaryExpr,
  lhsIn: StepSeries[],
  rhsIn: StepSeries[],
  m: VectorMatching,
): StepSeries[] {
  const n = ev.steps.count;
  const names = sigSet(m);
  const isCmp = COMPARISON.has(e.op);
  const swapped = m.card === "one-to-many";
  const lhs = swapped ? rhsIn : lhsIn;
  const rhs = swapped ? lhsIn : rhsIn;
  const rightBySig = new Map<string, StepSeries[]>();
  for (const s of rhs) {
    const sig = matchKey(s.metric, m.on, names);
    const list = rightBySig.get(sig);
    if (list) list.push(s);
    else rightBySig.set(sig, [s]);
  }
  // The "one" side must be unique per signature at every step.
  for (const [, list] of rightBySig) {
    if (list.length < 2) continue;
    for (let i = 0; i < n; i++) {
      let first: StepSeries | null = null;
      for (const s of list) {
        if (!s.present[i]) continue;
        if (first) {
          const side = swapped ? "left" : "right";
          const matched = m.on
            ? keepOnly(s.metric, names)
            : without(s.metric, new Set([...names, "__name__"]));
          throw new ExecutionError(
            `found duplicate series for the match group ${formatMetricLabels(matched)} on the ${side} hand-side of the operation: [${formatMetricLabels(s.metric)}, ${formatMetricLabels(first.metric)}];many-to-many matching not allowed: matching labels must be unique on one side`,
          );
        }
        first = s;
      }
    }
  }
  const outByKey = new Map<string, StepSeries>();
  const out: StepSeries[] = [];
  // Per signature and step, which output label sets were produced (to catch ambiguous matches).
  const produced = new Map<string, Map<string, Uint8Array>>();
  for (const ls of lhs) {
    const sig = matchKey(ls.metric, m.on, names);
    const candidates = rightBySig.get(sig);
    if (!candidates) continue;
    for (const rs of candidates) {
      let target: StepSeries | undefined;
      for (let i = 0; i < n; i++) {
        if (!ls.present[i] || !rs.present[i]) continue;
        const fl = swapped ? rs.values[i] : ls.values[i];
        const fr = swapped ? ls.values[i] : rs.values[i];
        let value: number;
        if (isCmp) {
          const keep = compare(e.op, fl, fr);
          if (e.returnBool) value = keep ? 1 : 0;
          else if (!keep) continue;
          else value = fl;
        } else value = arith(e.op, fl, fr);
        if (!target) {
          const fresh = newStepSeries(resultMetric(ls.metric, rs.metric, m, names), n, false);
          if (!isCmp || e.returnBool) ev.dropName(fresh);
          else fresh.dropName = swapped ? rs.dropName : ls.dropName;
          // Keyed after the name is dropped: without delayed name removal it is gone already.
          const key = keyOf(fresh.metric);
          target = outByKey.get(key);
          if (!target) {
            target = fresh;
            outByKey.set(key, target);
            out.push(target);
          }
          let perSig = produced.get(sig);
          if (!perSig) {
            perSig = new Map();
            produced.set(sig, perSig);
          }
          if (!perSig.has(key)) perSig.set(key, new Uint8Array(n));
        }
        const perSig = produced.get(sig)!;
        if (m.card === "one-to-one") {
          for (const [, at] of perSig) {
            if (at[i]) {
              throw new ExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
              );
            }
          }
        }
        const at = perSig.get(keyOf(target.metric))!;
        if (at[i] || target.present[i]) {
          throw new ExecutionError("multiple matches for labels: grouping labels must ensure unique matches");
        }
        at[i] = 1;
        target.values[i] = value;
        target.present[i] = 1;
      }
    }
  }
  return out;
}
