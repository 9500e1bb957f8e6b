/**
 * Function signatures, after Prometheus's promql/parser/functions.go (3.5). The parser checks calls
 * against these. The engine's implementations (engine/function-calls.ts) are a table typed by
 * `FunctionName`, so a signature without an implementation does not compile, as Prometheus's
 * FunctionCalls is keyed by parser.Functions.
 */
import type { ValueType } from "./ast.js";

export interface FunctionDef {
  readonly name: string;
  readonly argTypes: readonly ValueType[];
  /**
   * 0: exactly argTypes; n > 0: the last n argTypes are optional; -1: the last argType repeats
   * any number of times (label_join).
   */
  readonly variadic: number;
  readonly returnType: ValueType;
  /** Only with experimental functions enabled (Prometheus's --enable-feature=promql-experimental-functions). */
  readonly experimental?: boolean;
}

const V = "vector";
const M = "matrix";
const S = "scalar";
const STR = "string";

type Sig = [argTypes: ValueType[], returnType?: ValueType, variadic?: number, experimental?: boolean];

// One entry per function of Prometheus 3.5; limitk/limit_ratio are aggregations, not functions.
const SIGNATURES = {
  abs: [[V]],
  absent: [[V]],
  absent_over_time: [[M]],
  acos: [[V]],
  acosh: [[V]],
  asin: [[V]],
  asinh: [[V]],
  atan: [[V]],
  atanh: [[V]],
  avg_over_time: [[M]],
  ceil: [[V]],
  changes: [[M]],
  clamp: [[V, S, S]],
  clamp_max: [[V, S]],
  clamp_min: [[V, S]],
  cos: [[V]],
  cosh: [[V]],
  count_over_time: [[M]],
  days_in_month: [[V], V, 1],
  day_of_month: [[V], V, 1],
  day_of_week: [[V], V, 1],
  day_of_year: [[V], V, 1],
  deg: [[V]],
  delta: [[M]],
  deriv: [[M]],
  exp: [[V]],
  floor: [[V]],
  histogram_avg: [[V]],
  histogram_count: [[V]],
  histogram_sum: [[V]],
  histogram_stddev: [[V]],
  histogram_stdvar: [[V]],
  histogram_fraction: [[S, S, V]],
  histogram_quantile: [[S, V]],
  double_exponential_smoothing: [[M, S, S], V, 0, true],
  hour: [[V], V, 1],
  idelta: [[M]],
  increase: [[M]],
  info: [[V, V], V, 1, true],
  irate: [[M]],
  label_replace: [[V, STR, STR, STR, STR]],
  label_join: [[V, STR, STR, STR], V, -1],
  last_over_time: [[M]],
  ln: [[V]],
  log10: [[V]],
  log2: [[V]],
  mad_over_time: [[M], V, 0, true],
  max_over_time: [[M]],
  min_over_time: [[M]],
  ts_of_max_over_time: [[M], V, 0, true],
  ts_of_min_over_time: [[M], V, 0, true],
  ts_of_last_over_time: [[M], V, 0, true],
  minute: [[V], V, 1],
  month: [[V], V, 1],
  pi: [[], S],
  predict_linear: [[M, S]],
  present_over_time: [[M]],
  quantile_over_time: [[S, M]],
  rad: [[V]],
  rate: [[M]],
  resets: [[M]],
  round: [[V, S], V, 1],
  scalar: [[V], S],
  sgn: [[V]],
  sin: [[V]],
  sinh: [[V]],
  sort: [[V]],
  sort_desc: [[V]],
  sort_by_label: [[V, STR], V, -1, true],
  sort_by_label_desc: [[V, STR], V, -1, true],
  sqrt: [[V]],
  stddev_over_time: [[M]],
  stdvar_over_time: [[M]],
  sum_over_time: [[M]],
  tan: [[V]],
  tanh: [[V]],
  time: [[], S],
  timestamp: [[V]],
  vector: [[S]],
  year: [[V], V, 1],
} satisfies Record<string, Sig>;

/** The name of every function PromQL has. */
export type FunctionName = keyof typeof SIGNATURES;

export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(
  (Object.entries(SIGNATURES) as [string, Sig][]).map(
    ([name, [argTypes, returnType = V, variadic = 0, experimental]]) => {
      const def: FunctionDef = experimental
        ? { name, argTypes, variadic, returnType, experimental }
        : { name, argTypes, variadic, returnType };
      return [name, def] as const;
    },
  ),
);
