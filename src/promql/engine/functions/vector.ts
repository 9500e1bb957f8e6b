/**
 * Functions that work on whole vectors or on the evaluation's steps rather than one value at a
 * time: time, pi, vector, scalar, timestamp, absent, absent_over_time and the sorts.
 */
import { compareLabels, getLabel, type Labels, MatchType, METRIC_NAME } from "../../../storage/index.js";
import type { Call, Expr } from "../../ast.js";
import { ExecutionError } from "../../errors.js";
import type { Evaluator } from "../evaluator.js";
import { withLabel } from "../labels-util.js";
import { type EvalValue, newStepSeries, type StepSeries, stepTime } from "../types.js";
import { scalarArg, unwrap, vectorArg } from "./args.js";

export function time(ev: Evaluator): EvalValue {
  const n = ev.steps.count;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = stepTime(ev.steps, i) / 1000;
  return { kind: "scalar", values: out };
}

export function pi(ev: Evaluator): EvalValue {
  return { kind: "scalar", values: new Float64Array(ev.steps.count).fill(Math.PI) };
}

export function vector(ev: Evaluator, call: Call): EvalValue {
  const s = newStepSeries([], ev.steps.count);
  s.values.set(scalarArg(ev, call.args[0]));
  s.present.fill(1);
  return { kind: "vector", series: [s] };
}

/** The value of a one-element vector, NaN at steps with none or several. */
export function scalar(ev: Evaluator, call: Call): EvalValue {
  const n = ev.steps.count;
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

/** A selector's samples' own times; any other argument's values are at the step's time. */
export function timestamp(ev: Evaluator, call: Call): EvalValue {
  const n = ev.steps.count;
  const arg = unwrap(call.args[0]);
  const series = arg.type === "VectorSelector" ? ev.selectVector(arg, true) : vectorArg(ev, call.args[0]);
  if (arg.type !== "VectorSelector") {
    for (const s of series)
      for (let i = 0; i < n; i++) if (s.present[i]) s.values[i] = stepTime(ev.steps, i) / 1000;
  }
  for (const s of series) ev.dropName(s);
  return { kind: "vector", series };
}

/** absent and absent_over_time: 1 at the steps where the argument has nothing. */
export function absent(ev: Evaluator, call: Call): EvalValue {
  const n = ev.steps.count;
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

export function sort(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: sortByValue(vectorArg(ev, call.args[0]), false) };
}

export function sort_desc(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: sortByValue(vectorArg(ev, call.args[0]), true) };
}

export function sort_by_label(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: sortByLabels(ev, call, false) };
}

export function sort_by_label_desc(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: sortByLabels(ev, call, true) };
}

function sortByValue(series: StepSeries[], desc: boolean): StepSeries[] {
  // Only an instant query's order is observable; NaN sorts last either way.
  return [...series].sort((a, b) => {
    const x = a.values[0];
    const y = b.values[0];
    if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
    if (Number.isNaN(y)) return -1;
    return desc ? y - x : x - y;
  });
}

function sortByLabels(ev: Evaluator, call: Call, desc: boolean): StepSeries[] {
  const series = vectorArg(ev, call.args[0]);
  const labelNames: string[] = [];
  for (const a of call.args.slice(1)) {
    const v = ev.eval(a);
    if (v.kind !== "string") throw new ExecutionError("sort_by_label expects label names");
    labelNames.push(v.value);
  }
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
