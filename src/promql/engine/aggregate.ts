/** Aggregation operators, after Prometheus's aggregation() and aggregationK(). */
import { type Labels, METRIC_NAME } from "../../storage/index.js";
import type { AggregateExpr, Call, Expr } from "../ast.js";
import { ExecutionError } from "../errors.js";
import { isStreamableRangeCall, streamRangeCall } from "./call.js";
import type { Evaluator } from "./evaluator.js";
import { warnQuantile } from "./functions/args.js";
import { keepOnly, keyOf, withLabel, without } from "./labels-util.js";
import { kahanInc, MeanAccumulator, quantile } from "./math.js";
import { type EvalValue, newStepSeries, type StepSeries } from "./types.js";
import { ratioOffset } from "./xxhash.js";

const mean = new MeanAccumulator();

function unwrapParens(e: Expr): Expr {
  return e.type === "ParenExpr" ? unwrapParens(e.expr) : e;
}

interface Group {
  metric: Labels;
  members: StepSeries[];
  dropName: boolean;
}

function groupSeries(e: AggregateExpr, series: StepSeries[]): Group[] {
  const names = new Set(e.grouping);
  const groups = new Map<string, Group>();
  const out: Group[] = [];
  const dropForWithout = new Set([...names, METRIC_NAME]);
  for (const s of series) {
    const metric = e.without ? without(s.metric, dropForWithout) : keepOnly(s.metric, names);
    const key = keyOf(metric);
    let g = groups.get(key);
    if (!g) {
      g = { metric, members: [], dropName: false };
      groups.set(key, g);
      out.push(g);
    }
    g.members.push(s);
    // Grouping by the name keeps it, with any member's pending name removal.
    if (s.dropName) g.dropName = true;
  }
  return out;
}

function scalarParam(ev: Evaluator, e: AggregateExpr): Float64Array {
  if (!e.param) throw new ExecutionError(`${e.op} needs a parameter`);
  const v = ev.eval(e.param);
  if (v.kind !== "scalar") throw new ExecutionError(`expected scalar parameter for ${e.op}`);
  return v.values;
}

export function evalAggregate(ev: Evaluator, e: AggregateExpr): EvalValue {
  let param: Float64Array | null = null;
  let label = "";
  if (e.op === "count_values") {
    const p = ev.eval(e.param!);
    if (p.kind !== "string") throw new ExecutionError("count_values needs a string parameter");
    label = p.value;
  } else if (e.param) param = scalarParam(ev, e);
  if (e.op === "quantile" && param) for (let i = 0; i < param.length; i++) warnQuantile(ev, param[i]);
  const inner = unwrapParens(e.expr);
  if (SERIES_MAJOR.has(e.op) && inner.type === "Call" && isStreamableRangeCall(inner)) {
    return { kind: "vector", series: streamAggregate(ev, e, inner) };
  }
  const input = ev.eval(e.expr);
  if (input.kind !== "vector") throw new ExecutionError(`aggregation over ${input.kind}`);
  const n = ev.steps.count;
  if (e.op === "topk" || e.op === "bottomk" || e.op === "limitk" || e.op === "limit_ratio") {
    return { kind: "vector", series: aggregateK(ev, e, groupSeries(e, input.series), param!, n) };
  }
  if (e.op === "count_values") return { kind: "vector", series: countValues(e, input.series, label, n) };
  const out: StepSeries[] = [];
  for (const g of groupSeries(e, input.series)) {
    if (SERIES_MAJOR.has(e.op)) {
      const acc = new SeriesMajorAccumulator(e.op as SeriesMajorOp, g.metric, n);
      for (const m of g.members) acc.add(m);
      const s = acc.finish();
      if (s.present.includes(1)) out.push(s);
      continue;
    }
    const s = newStepSeries(g.metric, n, g.dropName);
    for (let i = 0; i < n; i++) {
      const value = aggregateStep(e.op, g.members, i, param ? param[i] : 0);
      if (value !== undefined) {
        s.values[i] = value;
        s.present[i] = 1;
      }
    }
    if (s.present.includes(1)) out.push(s);
  }
  return { kind: "vector", series: out };
}

type SeriesMajorOp = "sum" | "count" | "min" | "max" | "group";
const SERIES_MAJOR = new Set<string>(["sum", "count", "min", "max", "group"]);

/**
 * sum, count, min, max and group member by member over all steps at once: the same arithmetic as
 * aggregateStep (members in the same order), without a pass over the members per step.
 */
class SeriesMajorAccumulator {
  readonly out: StepSeries;
  private readonly c: Float64Array | null;

  constructor(
    private readonly op: SeriesMajorOp,
    metric: Labels,
    n: number,
  ) {
    this.out = newStepSeries(metric, n, false);
    this.c = op === "sum" ? new Float64Array(n) : null;
  }

  add(m: StepSeries): void {
    const op = this.op;
    const v = this.out.values;
    const seen = this.out.present;
    const c = this.c;
    const mv = m.values;
    const mp = m.present;
    if (m.dropName) this.out.dropName = true;
    for (let i = 0; i < v.length; i++) {
      if (!mp[i]) continue;
      const f = mv[i];
      if (!seen[i]) {
        seen[i] = 1;
        v[i] = op === "count" || op === "group" ? 1 : f;
        continue;
      }
      switch (op) {
        case "sum": {
          // Kahan–Neumaier, inline (see math.ts kahanInc).
          const sum = v[i];
          const t = sum + f;
          if (t === Number.POSITIVE_INFINITY || t === Number.NEGATIVE_INFINITY) c![i] = 0;
          else if (Math.abs(sum) >= Math.abs(f)) c![i] += sum - t + f;
          else c![i] += f - t + sum;
          v[i] = t;
          break;
        }
        case "count":
          v[i]++;
          break;
        case "max":
          if (v[i] < f || Number.isNaN(v[i])) v[i] = f;
          break;
        case "min":
          if (v[i] > f || Number.isNaN(v[i])) v[i] = f;
          break;
        case "group":
          break;
      }
    }
  }

  finish(): StepSeries {
    const c = this.c;
    if (c) for (let i = 0; i < c.length; i++) if (this.out.present[i]) this.out.values[i] += c[i];
    return this.out;
  }
}

/**
 * Aggregation fused with a range function over a selector (e.g. sum by (le) (rate(x[5m]))): each
 * rate series is folded into its group as soon as it is computed, so neither the samples nor the
 * per-series results of the whole selection are held.
 */
function streamAggregate(ev: Evaluator, e: AggregateExpr, call: Call): StepSeries[] {
  const n = ev.steps.count;
  const names = new Set(e.grouping);
  const dropForWithout = new Set([...names, METRIC_NAME]);
  const groups = new Map<string, SeriesMajorAccumulator>();
  const order: SeriesMajorAccumulator[] = [];
  streamRangeCall(ev, call, (s) => {
    const metric = e.without ? without(s.metric, dropForWithout) : keepOnly(s.metric, names);
    const key = keyOf(metric);
    let acc = groups.get(key);
    if (!acc) {
      acc = new SeriesMajorAccumulator(e.op as SeriesMajorOp, metric, n);
      groups.set(key, acc);
      order.push(acc);
      ev.ctx.limits.hold(n);
    }
    acc.add(s);
  });
  return order.map((a) => a.finish()).filter((s) => s.present.includes(1));
}

/** One group at one step, as Prometheus's aggregation() does it; undefined when no member has a value. */
function aggregateStep(
  op: AggregateExpr["op"],
  members: StepSeries[],
  i: number,
  param: number,
): number | undefined {
  let seen = false;
  let value = 0;
  let welfordMean = 0;
  let c = 0;
  let count = 0;
  const heap: number[] = [];
  for (const s of members) {
    if (!s.present[i]) continue;
    const f = s.values[i];
    if (!seen) {
      seen = true;
      value = f;
      welfordMean = f;
      count = 1;
      if (op === "stddev" || op === "stdvar") value = Number.isFinite(f) ? 0 : Number.NaN;
      else if (op === "avg") mean.start(f);
      else if (op === "group") value = 1;
      else if (op === "quantile") heap.push(f);
      continue;
    }
    switch (op) {
      case "sum":
        [value, c] = kahanInc(f, value, c);
        break;
      case "avg":
        mean.add(f);
        break;
      case "max":
        if (value < f || Number.isNaN(value)) value = f;
        break;
      case "min":
        if (value > f || Number.isNaN(value)) value = f;
        break;
      case "count":
        count++;
        break;
      case "group":
        break;
      case "stddev":
      case "stdvar": {
        count++;
        const delta = f - welfordMean;
        welfordMean += delta / count;
        value += delta * (f - welfordMean);
        break;
      }
      case "quantile":
        heap.push(f);
        break;
      default:
        throw new ExecutionError(`unsupported aggregation ${op}`);
    }
  }
  if (!seen) return undefined;
  switch (op) {
    case "sum":
      return value + c;
    case "avg":
      return mean.value();
    case "count":
      return count;
    case "stdvar":
      return value / count;
    case "stddev":
      return Math.sqrt(value / count);
    case "quantile":
      return quantile(param, heap);
    default:
      return value;
  }
}

function countValues(e: AggregateExpr, series: StepSeries[], label: string, n: number): StepSeries[] {
  const out = new Map<string, StepSeries>();
  const list: StepSeries[] = [];
  const names = new Set(e.grouping);
  const dropForWithout = new Set([...names, METRIC_NAME]);
  for (let i = 0; i < n; i++) {
    for (const s of series) {
      if (!s.present[i]) continue;
      const base = e.without ? without(s.metric, dropForWithout) : keepOnly(s.metric, names);
      const metric = withLabel(base, label, formatValue(s.values[i]));
      const key = keyOf(metric);
      let o = out.get(key);
      if (!o) {
        o = newStepSeries(metric, n);
        out.set(key, o);
        list.push(o);
      }
      o.values[i] = o.present[i] ? o.values[i] + 1 : 1;
      o.present[i] = 1;
    }
  }
  return list;
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64), as count_values prints values. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Object.is(v, -0)) return "-0";
  const s = v.toString();
  if (!/e/.test(s)) return s;
  // Expand exponent notation without losing the shortest round-trip digits.
  const [mant, expStr] = s.split("e");
  const exp = Number(expStr);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const point =
    (mant.replace("-", "").indexOf(".") < 0
      ? mant.replace("-", "").length
      : mant.replace("-", "").indexOf(".")) + exp;
  let out: string;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

function aggregateK(
  ev: Evaluator,
  e: AggregateExpr,
  groups: Group[],
  param: Float64Array,
  n: number,
): StepSeries[] {
  // Output series are the input series themselves, kept at the steps where they are selected.
  const selected = new Map<StepSeries, StepSeries>();
  const order: StepSeries[] = [];
  const offsets = new Map<StepSeries, number>();
  const select = (s: StepSeries, i: number) => {
    let o = selected.get(s);
    if (!o) {
      o = newStepSeries(s.metric, n, s.dropName);
      selected.set(s, o);
      order.push(o);
    }
    o.values[i] = s.values[i];
    o.present[i] = 1;
  };
  for (let i = 0; i < n; i++) {
    const p = param[i];
    for (const g of groups) {
      const members = g.members.filter((s) => s.present[i]);
      if (!members.length) continue;
      let chosen: StepSeries[];
      if (e.op === "limit_ratio") {
        if (p === 0 || Number.isNaN(p)) continue;
        const r = Math.max(-1, Math.min(1, p));
        if (r !== p)
          ev.ctx.annotations.warn(`ratio value should be between -1 and 1, got ${p}, capping to ${r}`);
        for (const s of members) {
          let off = offsets.get(s);
          if (off === undefined) {
            off = ratioOffset(s.metric);
            offsets.set(s, off);
          }
          if ((r >= 0 && off < r) || (r < 0 && off >= 1 + r)) select(s, i);
        }
        continue;
      }
      if (Number.isNaN(p)) throw new ExecutionError("Parameter value is NaN");
      const k = Math.min(members.length, Math.trunc(p));
      if (k < 1) continue;
      if (e.op === "limitk") chosen = members.slice(0, k);
      else {
        const top = e.op === "topk";
        // NaN sorts last for both topk and bottomk.
        const sorted = [...members].sort((a, b) => {
          const x = a.values[i];
          const y = b.values[i];
          if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
          if (Number.isNaN(y)) return -1;
          return top ? y - x : x - y;
        });
        chosen = sorted.slice(0, k);
      }
      for (const s of chosen) select(s, i);
    }
  }
  return order;
}
