/**
 * What every PromQL function does, one entry per name of the signature table (../functions.ts),
 * as Prometheus's FunctionCalls is keyed by parser.Functions. The mapped type makes a function
 * without an implementation, or an implementation without a signature, a compile error. call.ts
 * evaluates the arguments and applies an entry; the implementations live in functions/.
 */
import type { Call } from "../ast.js";
import { ExecutionError } from "../errors.js";
import type { FunctionName } from "../functions.js";
import type { Evaluator } from "./evaluator.js";
import { warnQuantile } from "./functions/args.js";
import * as histogram from "./functions/histogram.js";
import type { InstantFunction } from "./functions/instant.js";
import * as elementwise from "./functions/instant.js";
import * as labels from "./functions/labels.js";
import type { Marks, RangeFunction } from "./functions/range.js";
import * as range from "./functions/range.js";
import * as vector from "./functions/vector.js";
import type { EvalValue } from "./types.js";

/** A function of one range-vector argument, applied window by window (may stream series). */
export interface RangeCall {
  readonly kind: "range";
  readonly fn: RangeFunction;
  /** Which argument is the range vector (quantile_over_time's is the second). */
  readonly matrixArg: number;
  /** rate, increase and irate note a metric whose name does not look like a counter's. */
  readonly counter: boolean;
  /** Which samples the function reads as Window.marks, found once per series (rate: the resets). */
  readonly marks?: Marks;
  /** last_over_time keeps the metric name; the others drop it. */
  readonly keepsName: boolean;
  /** Checks the scalar arguments of every step before any window is computed. */
  readonly checkArgs?: (ev: Evaluator, scalars: readonly Float64Array[]) => void;
}

/** A function of each value of an instant vector, with scalar arguments after the vector. */
export interface ElementwiseCall {
  readonly kind: "elementwise";
  readonly fn: InstantFunction;
  /** The date functions default to vector(time()) when called without an argument. */
  readonly defaultsToTime: boolean;
}

/** A function that needs the whole evaluation: it evaluates its own arguments. */
export interface EvaluatedCall {
  readonly kind: "evaluated";
  readonly eval: (ev: Evaluator, call: Call) => EvalValue;
}

/** A function Prometheus has that needs native histograms or info metadata we do not store yet. */
export interface UnsupportedCall {
  readonly kind: "unsupported";
}

export type FunctionCall = RangeCall | ElementwiseCall | EvaluatedCall | UnsupportedCall;

function overRange(fn: RangeFunction, opts: Partial<Omit<RangeCall, "kind" | "fn">> = {}): RangeCall {
  return { kind: "range", fn, matrixArg: 0, counter: false, keepsName: false, ...opts };
}

function eachValue(fn: InstantFunction, defaultsToTime = false): ElementwiseCall {
  return { kind: "elementwise", fn, defaultsToTime };
}

function evaluated(fn: (ev: Evaluator, call: Call) => EvalValue): EvaluatedCall {
  return { kind: "evaluated", eval: fn };
}

const UNSUPPORTED: UnsupportedCall = { kind: "unsupported" };

const warnQuantiles = (ev: Evaluator, scalars: readonly Float64Array[]): void => {
  for (const q of scalars[0]) warnQuantile(ev, q);
};

export const FUNCTION_CALLS: { readonly [N in FunctionName]: FunctionCall } = {
  abs: eachValue(elementwise.abs),
  absent: evaluated(vector.absent),
  absent_over_time: evaluated(vector.absent),
  acos: eachValue(elementwise.acos),
  acosh: eachValue(elementwise.acosh),
  asin: eachValue(elementwise.asin),
  asinh: eachValue(elementwise.asinh),
  atan: eachValue(elementwise.atan),
  atanh: eachValue(elementwise.atanh),
  avg_over_time: overRange(range.avg_over_time),
  ceil: eachValue(elementwise.ceil),
  changes: overRange(range.changes, { marks: "changes" }),
  clamp: eachValue(elementwise.clamp),
  clamp_max: eachValue(elementwise.clamp_max),
  clamp_min: eachValue(elementwise.clamp_min),
  cos: eachValue(elementwise.cos),
  cosh: eachValue(elementwise.cosh),
  count_over_time: overRange(range.count_over_time),
  days_in_month: eachValue(elementwise.days_in_month, true),
  day_of_month: eachValue(elementwise.day_of_month, true),
  day_of_week: eachValue(elementwise.day_of_week, true),
  day_of_year: eachValue(elementwise.day_of_year, true),
  deg: eachValue(elementwise.deg),
  delta: overRange(range.delta),
  deriv: overRange(range.deriv),
  double_exponential_smoothing: overRange(range.double_exponential_smoothing, {
    checkArgs: (ev, scalars) => range.checkSmoothingFactors(scalars, ev.steps.count),
  }),
  exp: eachValue(elementwise.exp),
  floor: eachValue(elementwise.floor),
  histogram_avg: UNSUPPORTED,
  histogram_count: UNSUPPORTED,
  histogram_fraction: evaluated(histogram.histogram_fraction),
  histogram_quantile: evaluated(histogram.histogram_quantile),
  histogram_stddev: UNSUPPORTED,
  histogram_stdvar: UNSUPPORTED,
  histogram_sum: UNSUPPORTED,
  hour: eachValue(elementwise.hour, true),
  idelta: overRange(range.idelta),
  increase: overRange(range.increase, { counter: true, marks: "resets" }),
  info: UNSUPPORTED,
  irate: overRange(range.irate, { counter: true }),
  label_join: evaluated(labels.label_join),
  label_replace: evaluated(labels.label_replace),
  last_over_time: overRange(range.last_over_time, { keepsName: true }),
  ln: eachValue(elementwise.ln),
  log10: eachValue(elementwise.log10),
  log2: eachValue(elementwise.log2),
  mad_over_time: overRange(range.mad_over_time),
  max_over_time: overRange(range.max_over_time),
  min_over_time: overRange(range.min_over_time),
  minute: eachValue(elementwise.minute, true),
  month: eachValue(elementwise.month, true),
  pi: evaluated(vector.pi),
  predict_linear: overRange(range.predict_linear),
  present_over_time: overRange(range.present_over_time),
  quantile_over_time: overRange(range.quantile_over_time, { matrixArg: 1, checkArgs: warnQuantiles }),
  rad: eachValue(elementwise.rad),
  rate: overRange(range.rate, { counter: true, marks: "resets" }),
  resets: overRange(range.resets, { marks: "resets" }),
  round: eachValue(elementwise.round),
  scalar: evaluated(vector.scalar),
  sgn: eachValue(elementwise.sgn),
  sin: eachValue(elementwise.sin),
  sinh: eachValue(elementwise.sinh),
  sort: evaluated(vector.sort),
  sort_by_label: evaluated(vector.sort_by_label),
  sort_by_label_desc: evaluated(vector.sort_by_label_desc),
  sort_desc: evaluated(vector.sort_desc),
  sqrt: eachValue(elementwise.sqrt),
  stddev_over_time: overRange(range.stddev_over_time),
  stdvar_over_time: overRange(range.stdvar_over_time),
  sum_over_time: overRange(range.sum_over_time),
  tan: eachValue(elementwise.tan),
  tanh: eachValue(elementwise.tanh),
  time: evaluated(vector.time),
  timestamp: evaluated(vector.timestamp),
  ts_of_last_over_time: overRange(range.ts_of_last_over_time),
  ts_of_max_over_time: overRange(range.ts_of_max_over_time),
  ts_of_min_over_time: overRange(range.ts_of_min_over_time),
  vector: evaluated(vector.vector),
  year: eachValue(elementwise.year, true),
};

/** The entry of a parsed call (the parser admits only names of the signature table). */
export function functionCall(name: string): FunctionCall {
  if (!Object.hasOwn(FUNCTION_CALLS, name))
    throw new ExecutionError(`unknown function ${JSON.stringify(name)}`);
  return FUNCTION_CALLS[name as FunctionName];
}
