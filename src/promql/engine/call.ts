/** Function calls: argument evaluation and the dispatch to range, element-wise and special functions. */
import {
  compareLabels,
  getLabel,
  type Label,
  type Labels,
  MatchType,
  METRIC_NAME,
} from "../../storage/index.js";
import type { Call, Expr } from "../ast.js";
import { ExecutionError } from "../errors.js";
import { checkDuplicates, type Evaluator } from "./evaluator.js";
import {
  fractionOfSortedBuckets,
  parseGoFloat,
  type QuantileFlags,
  quantileOfSortedBuckets,
} from "./functions/histogram.js";
import { DATE_FUNCTIONS, INSTANT_FUNCTIONS } from "./functions/instant.js";
import { compileAnchored, expandTemplate } from "./functions/labels.js";
import { KEEPS_NAME, RANGE_FUNCTIONS, type Window } from "./functions/range.js";
import { dropMetricName, keyOf, withLabel } from "./labels-util.js";
import { type EvalValue, newStepSeries, type StepSeries, stepTime } from "./types.js";

/** Which argument is the range vector, per range function (default 0). */
const MATRIX_ARG: Record<string, number> = { quantile_over_time: 1 };

const COUNTER_FUNCTIONS = new Set(["rate", "increase", "irate"]);

function unwrap(e: Expr): Expr {
  return e.type === "ParenExpr" ? unwrap(e.expr) : e;
}

function scalarArg(ev: Evaluator, e: Expr): Float64Array {
  const v = ev.eval(e);
  if (v.kind !== "scalar") throw new ExecutionError(`expected scalar argument, got ${v.kind}`);
  return v.values;
}

function vectorArg(ev: Evaluator, e: Expr): StepSeries[] {
  const v = ev.eval(e);
  if (v.kind !== "vector") throw new ExecutionError(`expected instant vector argument, got ${v.kind}`);
  return v.series;
}

export function evalCall(ev: Evaluator, call: Call): EvalValue {
  const name = call.func.name;
  const n = ev.steps.count;
  if (Object.hasOwn(RANGE_FUNCTIONS, name)) return evalRangeFunction(ev, call, name);
  if (Object.hasOwn(INSTANT_FUNCTIONS, name)) {
    const instantFn = INSTANT_FUNCTIONS[name];
    let input: StepSeries[];
    if (DATE_FUNCTIONS.has(name) && call.args.length === 0) {
      input = [newStepSeries([], n)];
      for (let i = 0; i < n; i++) {
        input[0].values[i] = stepTime(ev.steps, i) / 1000;
        input[0].present[i] = 1;
      }
    } else input = vectorArg(ev, call.args[0]);
    const extra = call.args.slice(1).map((a) => scalarArg(ev, a));
    const args: number[] = new Array(extra.length).fill(0);
    for (const s of input) {
      for (let i = 0; i < n; i++) {
        if (!s.present[i]) continue;
        for (let k = 0; k < extra.length; k++) args[k] = extra[k][i];
        s.values[i] = instantFn(s.values[i], args);
      }
      ev.dropName(s);
    }
    return { kind: "vector", series: input };
  }
  switch (name) {
    case "time": {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = stepTime(ev.steps, i) / 1000;
      return { kind: "scalar", values: out };
    }
    case "pi":
      return { kind: "scalar", values: new Float64Array(n).fill(Math.PI) };
    case "vector": {
      const s = newStepSeries([], n);
      s.values.set(scalarArg(ev, call.args[0]));
      s.present.fill(1);
      return { kind: "vector", series: [s] };
    }
    case "scalar": {
      const series = vectorArg(ev, call.args[0]);
      const out = new Float64Array(n).fill(Number.NaN);
      for (let i = 0; i < n; i++) {
        let found = 0;
        for (const s of series) {
          if (!s.present[i]) continue;
          found++;
          out[i] = s.values[i];
        }
        if (found !== 1) out[i] = Number.NaN;
      }
      return { kind: "scalar", values: out };
    }
    case "timestamp": {
      const arg = unwrap(call.args[0]);
      const series = arg.type === "VectorSelector" ? ev.selectVector(arg, true) : vectorArg(ev, call.args[0]);
      if (arg.type !== "VectorSelector") {
        for (const s of series)
          for (let i = 0; i < n; i++) if (s.present[i]) s.values[i] = stepTime(ev.steps, i) / 1000;
      }
      for (const s of series) ev.dropName(s);
      return { kind: "vector", series };
    }
    case "absent":
    case "absent_over_time": {
      const arg = call.args[0];
      const v = ev.eval(arg);
      const present = new Uint8Array(n);
      if (v.kind === "vector") {
        for (const s of v.series) for (let i = 0; i < n; i++) present[i] |= s.present[i];
      } else if (v.kind === "matrix") {
        for (const s of v.series) {
          let lo = 0;
          let hi = 0;
          for (let i = 0; i < n; i++) {
            const end = v.windowEnds[i];
            while (hi < s.ts.length && s.ts[hi] <= end) hi++;
            while (lo < hi && s.ts[lo] <= end - v.range) lo++;
            if (hi > lo) present[i] = 1;
          }
        }
      }
      const out = newStepSeries(absentLabels(arg), n);
      for (let i = 0; i < n; i++) {
        if (!present[i]) {
          out.values[i] = 1;
          out.present[i] = 1;
        }
      }
      return { kind: "vector", series: out.present.includes(1) ? [out] : [] };
    }
    case "sort":
    case "sort_desc":
    case "sort_by_label":
    case "sort_by_label_desc":
      return { kind: "vector", series: sortSeries(ev, call, name) };
    case "label_replace":
      return { kind: "vector", series: labelReplace(ev, call) };
    case "label_join":
      return { kind: "vector", series: labelJoin(ev, call) };
    case "histogram_quantile":
    case "histogram_fraction":
      return { kind: "vector", series: histogramQuantile(ev, call) };
    default:
      throw new ExecutionError(`function "${name}" is not supported yet`);
  }
}

/** Whether a call is a range function over a plain range selector (so it can stream series). */
export function isStreamableRangeCall(call: Call): boolean {
  const name = call.func.name;
  return (
    Object.hasOwn(RANGE_FUNCTIONS, name) && unwrap(call.args[MATRIX_ARG[name] ?? 0]).type === "MatrixSelector"
  );
}

/**
 * Evaluates a streamable range-function call, handing each output series to `sink` as soon as it
 * is computed, in a reused buffer: the caller folds it in and must not keep it.
 */
export function streamRangeCall(ev: Evaluator, call: Call, sink: (s: StepSeries) => void): void {
  evalRangeFunction(ev, call, call.func.name, sink);
}

function evalRangeFunction(
  ev: Evaluator,
  call: Call,
  name: string,
  sink?: (s: StepSeries) => void,
): EvalValue {
  const n = ev.steps.count;
  const fn = RANGE_FUNCTIONS[name];
  const matrixIndex = MATRIX_ARG[name] ?? 0;
  const scalars: Float64Array[] = [];
  call.args.forEach((a, k) => {
    if (k !== matrixIndex) scalars.push(scalarArg(ev, a));
  });
  validateArgs(name, scalars, n);
  if (name === "quantile_over_time") for (let i = 0; i < n; i++) warnQuantile(ev, scalars[0][i]);
  const args: number[] = new Array(scalars.length).fill(0);
  const out: StepSeries[] = [];
  const checkCounter = COUNTER_FUNCTIONS.has(name);
  let windowEnds: Float64Array = new Float64Array(0);
  let w: Window = { end: 0, range: 0, stepT: 0, args };
  /** All steps of one series: slide the window over its samples with two indices. */
  const scratch = sink ? newStepSeries([], n) : null;
  const apply = (metric: Labels, ts: Float64Array, vs: Float64Array, k: number, dropName: boolean) => {
    let o: StepSeries;
    if (scratch) {
      o = scratch;
      o.metric = metric;
      o.dropName = dropName;
      o.present.fill(0);
    } else o = newStepSeries(metric, n, dropName);
    let lo = 0;
    let hi = 0;
    let any = false;
    let work = 0;
    for (let i = 0; i < n; i++) {
      const end = windowEnds[i];
      if (i > 0 && end < windowEnds[i - 1]) {
        lo = 0;
        hi = 0;
      }
      while (hi < k && ts[hi] <= end) hi++;
      while (lo < hi && ts[lo] <= end - w.range) lo++;
      if (hi === lo) continue;
      ev.ctx.limits.checkTransient(hi - lo);
      // Wide windows over many steps are where a query spends its time: watch the deadline.
      work += hi - lo;
      if (work > 65_536) {
        work = 0;
        ev.ctx.limits.check();
      }
      w.end = end;
      w.stepT = stepTime(ev.steps, i);
      for (let a = 0; a < scalars.length; a++) args[a] = scalars[a][i];
      const v = fn(ts, vs, lo, hi, w);
      if (v === undefined) continue;
      o.values[i] = v;
      o.present[i] = 1;
      any = true;
    }
    if (!any) return;
    if (checkCounter) {
      const metricName = getLabel(metric, METRIC_NAME);
      if (metricName && !/_(total|sum|count|bucket)$/.test(metricName)) {
        ev.ctx.annotations.info(
          `metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metricName)}`,
        );
      }
    }
    if (!KEEPS_NAME.has(name)) ev.dropName(o);
    if (sink) {
      sink(o);
      return;
    }
    ev.ctx.limits.hold(n);
    out.push(o);
  };
  const arg = unwrap(call.args[matrixIndex]);
  if (arg.type === "MatrixSelector") {
    // Stream: one series' samples in memory at a time.
    const prepared = ev.prepareMatrix(arg);
    windowEnds = prepared.windowEnds;
    w = { end: 0, range: prepared.range, stepT: 0, args };
    ev.streamMatrix(arg, (metric, ts, vs, k) => apply(metric, ts, vs, k, false));
  } else {
    const m = ev.eval(call.args[matrixIndex]);
    if (m.kind !== "matrix")
      throw new ExecutionError(`expected range vector argument to ${name}, got ${m.kind}`);
    windowEnds = m.windowEnds;
    w = { end: 0, range: m.range, stepT: 0, args };
    for (const s of m.series) apply(s.metric, s.ts, s.vs, s.ts.length, s.dropName);
  }
  return { kind: "vector", series: out };
}

function validateArgs(name: string, scalars: Float64Array[], n: number): void {
  if (name === "double_exponential_smoothing") {
    for (let i = 0; i < n; i++) {
      const sf = scalars[0][i];
      const tf = scalars[1][i];
      if (!(sf > 0 && sf < 1))
        throw new ExecutionError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goF(sf)}`);
      if (!(tf > 0 && tf < 1))
        throw new ExecutionError(`invalid trend factor. Expected: 0 < tf < 1, got: ${goF(tf)}`);
    }
  }
}

/** Go's %f. */
function goF(v: number): string {
  return Number.isFinite(v) ? v.toFixed(6) : Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/** Labels absent() reports: the equality matchers of a selector argument (Prometheus's rules). */
function absentLabels(arg: Expr): Labels {
  const sel = arg.type === "VectorSelector" ? arg : arg.type === "MatrixSelector" ? arg.vectorSelector : null;
  if (!sel) return [];
  let labels: Labels = [];
  const has = new Set<string>();
  for (const m of sel.matchers) {
    if (m.name === METRIC_NAME) continue;
    if (m.type === MatchType.Equal && !has.has(m.name)) {
      labels = withLabel(labels, m.name, m.value);
      has.add(m.name);
    } else labels = withLabel(labels, m.name, "");
  }
  return labels;
}

function sortSeries(ev: Evaluator, call: Call, name: string): StepSeries[] {
  const series = vectorArg(ev, call.args[0]);
  if (name === "sort" || name === "sort_desc") {
    const desc = name === "sort_desc";
    // Only an instant query's order is observable; NaN sorts last either way.
    return [...series].sort((a, b) => {
      const x = a.values[0];
      const y = b.values[0];
      if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
      if (Number.isNaN(y)) return -1;
      return desc ? y - x : x - y;
    });
  }
  const labelNames: string[] = [];
  for (const a of call.args.slice(1)) {
    const v = ev.eval(a);
    if (v.kind !== "string") throw new ExecutionError("sort_by_label expects label names");
    labelNames.push(v.value);
  }
  const desc = name === "sort_by_label_desc";
  return [...series].sort((a, b) => {
    for (const ln of labelNames) {
      const c = naturalCompare(getLabel(a.metric, ln), getLabel(b.metric, ln));
      if (c !== 0) return desc ? -c : c;
    }
    // Equal on the given labels: the whole label set decides, so the order is stable.
    const c = compareLabels(a.metric, b.metric);
    return desc ? -c : c;
  });
}

/** Natural order: digit runs compare as numbers. */
function naturalCompare(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d < 0 ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

function stringArg(ev: Evaluator, e: Expr, what: string): string {
  const v = ev.eval(e);
  if (v.kind !== "string") throw new ExecutionError(`${what} must be a string`);
  return v.value;
}

function labelReplace(ev: Evaluator, call: Call): StepSeries[] {
  const series = vectorArg(ev, call.args[0]);
  const dst = stringArg(ev, call.args[1], "destination label");
  const replacement = stringArg(ev, call.args[2], "replacement");
  const src = stringArg(ev, call.args[3], "source label");
  const regex = compileAnchored(stringArg(ev, call.args[4], "regex"));
  if (dst === "" || !dst.isWellFormed())
    throw new ExecutionError(`invalid destination label name in label_replace(): ${dst}`);
  for (const s of series) {
    const m = regex.exec(getLabel(s.metric, src));
    if (!m) continue;
    s.metric = withLabel(s.metric, dst, expandTemplate(replacement, m));
    if (dst === METRIC_NAME) s.dropName = false;
  }
  return checkUnique(series, ev.steps.count);
}

function labelJoin(ev: Evaluator, call: Call): StepSeries[] {
  const series = vectorArg(ev, call.args[0]);
  const dst = stringArg(ev, call.args[1], "destination label");
  const sep = stringArg(ev, call.args[2], "separator");
  const srcs = call.args.slice(3).map((a) => stringArg(ev, a, "source label"));
  if (dst === "" || !dst.isWellFormed())
    throw new ExecutionError(`invalid destination label name in label_join(): ${dst}`);
  for (const s of series) {
    const value = srcs.map((l) => getLabel(s.metric, l)).join(sep);
    s.metric = withLabel(s.metric, dst, value);
    if (dst === METRIC_NAME) s.dropName = false;
  }
  return checkUnique(series, ev.steps.count);
}

/** Label functions must not make two series equal (judged as they will be returned). */
function checkUnique(series: StepSeries[], steps: number): StepSeries[] {
  checkDuplicates(series, steps, (s) => (s.dropName ? dropMetricName(s.metric) : s.metric));
  return series;
}

/** histogram_quantile and histogram_fraction over classic `le` buckets. */
function histogramQuantile(ev: Evaluator, call: Call): StepSeries[] {
  const n = ev.steps.count;
  const fraction = call.func.name === "histogram_fraction";
  const q = scalarArg(ev, call.args[0]);
  const upper = fraction ? scalarArg(ev, call.args[1]) : q;
  const series = vectorArg(ev, call.args[fraction ? 2 : 1]);
  const groups = new Map<string, { metric: Labels; members: { bound: number; s: StepSeries }[] }>();
  const order: { metric: Labels; members: { bound: number; s: StepSeries }[] }[] = [];
  for (const s of series) {
    const le = getLabel(s.metric, "le");
    const bound = parseGoFloat(le);
    if (bound === undefined) {
      ev.ctx.annotations.warn(
        `bucket label "le" is missing or has a malformed value of ${JSON.stringify(le)} for metric name ${JSON.stringify(getLabel(s.metric, METRIC_NAME))}`,
      );
      continue;
    }
    const withoutLe: Label[] = s.metric.filter((l) => l.name !== "le");
    const key = keyOf(withoutLe);
    let g = groups.get(key);
    if (!g) {
      g = { metric: withoutLe.filter((l) => l.name !== METRIC_NAME), members: [] };
      groups.set(key, g);
      order.push(g);
    }
    g.members.push({ bound, s });
  }
  if (!fraction) for (let i = 0; i < n; i++) warnQuantile(ev, q[i]);
  const out = new Map<string, StepSeries>();
  const list: StepSeries[] = [];
  // Per step, a group's present buckets in bound order, equal bounds coalesced (summed in the
  // order the series came, as Prometheus's stable sort does), in arrays reused across steps.
  const width = order.reduce((m, g) => Math.max(m, g.members.length), 0);
  const bounds = new Float64Array(width);
  const counts = new Float64Array(width);
  const flags: QuantileFlags = { forcedMonotonic: false, fixedPrecision: false };
  for (const g of order) {
    const key = keyOf(g.metric);
    let o = out.get(key);
    if (!o) {
      o = newStepSeries(g.metric, n);
      out.set(key, o);
      list.push(o);
    }
    const members = g.members.sort((a, b) => a.bound - b.bound);
    for (let i = 0; i < n; i++) {
      let len = 0;
      for (const m of members) {
        if (!m.s.present[i]) continue;
        if (len > 0 && bounds[len - 1] === m.bound) counts[len - 1] += m.s.values[i];
        else {
          bounds[len] = m.bound;
          counts[len] = m.s.values[i];
          len++;
        }
      }
      if (len === 0) continue;
      if (o.present[i]) throw new ExecutionError("vector cannot contain metrics with the same labelset");
      if (fraction) {
        o.values[i] = fractionOfSortedBuckets(q[i], upper[i], bounds, counts, len);
        o.present[i] = 1;
        continue;
      }
      o.values[i] = quantileOfSortedBuckets(q[i], bounds, counts, len, flags);
      if (flags.forcedMonotonic) {
        const metricName = getLabel(g.members[0].s.metric, METRIC_NAME);
        ev.ctx.annotations.info(
          `input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name ${JSON.stringify(metricName)}`,
        );
      }
      o.present[i] = 1;
    }
  }
  return list.filter((s) => s.present.includes(1));
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
