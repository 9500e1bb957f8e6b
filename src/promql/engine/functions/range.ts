/**
 * Functions over range vectors, after Prometheus's promql/functions.go. Each works on one series'
 * samples in one window, given as index bounds [lo, hi) into the series' typed arrays.
 */
import { ExecutionError } from "../../errors.js";
import { kahanInc, MeanAccumulator, quantile } from "../math.js";

export interface Window {
  /** Window (end − range, end] in ms, after offset and @. */
  end: number;
  range: number;
  /** The evaluation step's own time (before offset), which predict_linear predicts from. */
  stepT: number;
  /** Scalar arguments of the call at this step (e.g. φ of quantile_over_time). */
  args: readonly number[];
  /**
   * For functions that count marked samples (rate, increase and resets: where a counter resets;
   * changes: where the value changes): the ascending indices i of the series' samples marked
   * against the sample before, `markCount` of them, found once per series; and the first of them
   * past the window's first sample (windows only move forward, so each step resumes where the last
   * one stopped). A window then costs its marks, not its samples.
   */
  marks: Int32Array;
  markCount: number;
  markCursor: number;
  /**
   * For min_over_time and max_over_time: a monotonic queue of sample indices (values non-increasing
   * for max, non-decreasing for min, NaNs left out), [queueHead, queueTail) of `queue`, holding
   * every sample up to `queued`; its head is the window's extreme. Reset per series and whenever
   * windows rewind (`rewindWindow`).
   */
  queue: Int32Array;
  queueHead: number;
  queueTail: number;
  queued: number;
}

/** Starts a series', or a rewound run of windows', sliding state over again. */
export function rewindWindow(w: Window): void {
  w.markCursor = 0;
  w.queueHead = 0;
  w.queueTail = 0;
  w.queued = 0;
}

/**
 * The window's extreme by a monotonic queue, equal to Prometheus's scan (the first sample that
 * beats all before it by `beats`, NaNs only when the window holds nothing else): each sample is
 * queued and dropped once per series instead of being visited by every step's window.
 */
function slidingExtreme(beats: (a: number, b: number) => boolean): RangeFunction {
  return (_ts, vs, lo, hi, w) => {
    if (w.queue.length < vs.length) w.queue = new Int32Array(Math.max(vs.length, w.queue.length * 2));
    const q = w.queue;
    for (let i = Math.max(w.queued, lo); i < hi; i++) {
      const v = vs[i];
      if (Number.isNaN(v)) continue;
      // Equal values stay queued: the earlier one is the scan's answer while it is in the window.
      while (w.queueTail > w.queueHead && beats(v, vs[q[w.queueTail - 1]])) w.queueTail--;
      q[w.queueTail++] = i;
    }
    w.queued = Math.max(w.queued, hi);
    while (w.queueTail > w.queueHead && q[w.queueHead] < lo) w.queueHead++;
    return w.queueTail > w.queueHead ? vs[q[w.queueHead]] : Number.NaN;
  };
}

/** Which samples a series' marks are. */
export type Marks = "resets" | "changes";

/** Fills w.marks with the samples of `vs[0..k)` marked against the one before, and rewinds the cursor. */
export function findMarks(kind: Marks, vs: Float64Array, k: number, w: Window): void {
  if (w.marks.length < k) w.marks = new Int32Array(Math.max(k, w.marks.length * 2));
  let n = 0;
  if (kind === "resets") {
    for (let i = 1; i < k; i++) if (vs[i] < vs[i - 1]) w.marks[n++] = i;
  } else {
    for (let i = 1; i < k; i++) {
      const prev = vs[i - 1];
      const cur = vs[i];
      if (cur !== prev && !(Number.isNaN(cur) && Number.isNaN(prev))) w.marks[n++] = i;
    }
  }
  w.markCount = n;
  w.markCursor = 0;
}

/** The index into w.marks of the first mark after `lo` (the window's first sample); advances the cursor. */
function firstMarkAfter(w: Window, lo: number): number {
  let r = w.markCursor;
  while (r < w.markCount && w.marks[r] <= lo) r++;
  w.markCursor = r;
  return r;
}

/** How many marks fall inside the window [lo, hi) (after its first sample). */
function marksInside(w: Window, lo: number, hi: number): number {
  const first = firstMarkAfter(w, lo);
  let end = first;
  while (end < w.markCount && w.marks[end] < hi) end++;
  return end - first;
}

/** Returns the value at this step, or undefined for no output. */
export type RangeFunction = (
  ts: Float64Array,
  vs: Float64Array,
  lo: number,
  hi: number,
  w: Window,
) => number | undefined;

/** Prometheus's extrapolatedRate: rate, increase and delta. */
function extrapolatedRate(isCounter: boolean, isRate: boolean): RangeFunction {
  return (ts, vs, lo, hi, w) => {
    const n = hi - lo;
    if (n < 2) return undefined;
    const rangeStart = w.end - w.range;
    const rangeEnd = w.end;
    let result = vs[hi - 1] - vs[lo];
    if (isCounter) {
      // Each reset inside the window adds the value before it, in sample order as Prometheus
      // sums them (so the result is bit for bit the same as scanning every sample).
      for (let r = firstMarkAfter(w, lo); r < w.markCount && w.marks[r] < hi; r++)
        result += vs[w.marks[r] - 1];
    }
    const firstT = ts[lo];
    const lastT = ts[hi - 1];
    let durationToStart = (firstT - rangeStart) / 1000;
    let durationToEnd = (rangeEnd - lastT) / 1000;
    const sampledInterval = (lastT - firstT) / 1000;
    const averageInterval = sampledInterval / (n - 1);
    const threshold = averageInterval * 1.1;
    let extrapolateTo = sampledInterval;
    if (durationToStart >= threshold) durationToStart = averageInterval / 2;
    if (isCounter && result > 0 && vs[lo] >= 0) {
      // Counters cannot go below zero: do not extrapolate past the counter's zero point.
      const durationToZero = sampledInterval * (vs[lo] / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    extrapolateTo += durationToStart;
    if (durationToEnd >= threshold) durationToEnd = averageInterval / 2;
    extrapolateTo += durationToEnd;
    let factor = extrapolateTo / sampledInterval;
    if (isRate) factor /= w.range / 1000;
    return result * factor;
  };
}

/** irate and idelta: the last two samples. */
function instantValue(isRate: boolean): RangeFunction {
  return (ts, vs, lo, hi) => {
    if (hi - lo < 2) return undefined;
    const last = vs[hi - 1];
    const prev = vs[hi - 2];
    let result = isRate && last < prev ? last : last - prev;
    if (!isRate) return result;
    const interval = ts[hi - 1] - ts[hi - 2];
    if (interval === 0) return undefined;
    result /= interval / 1000;
    return result;
  };
}

/** Least-squares slope and intercept at `interceptTime` (Prometheus's linearRegression). */
function linearRegression(
  ts: Float64Array,
  vs: Float64Array,
  lo: number,
  hi: number,
  interceptTime: number,
): [number, number] {
  let n = 0;
  let sumX = 0;
  let cX = 0;
  let sumY = 0;
  let cY = 0;
  let sumXY = 0;
  let cXY = 0;
  let sumX2 = 0;
  let cX2 = 0;
  const initY = vs[lo];
  let constY = true;
  for (let i = lo; i < hi; i++) {
    if (constY && i > lo && vs[i] !== initY) constY = false;
    n++;
    const x = (ts[i] - interceptTime) / 1000;
    [sumX, cX] = kahanInc(x, sumX, cX);
    [sumY, cY] = kahanInc(vs[i], sumY, cY);
    [sumXY, cXY] = kahanInc(x * vs[i], sumXY, cXY);
    [sumX2, cX2] = kahanInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (initY === Number.POSITIVE_INFINITY || initY === Number.NEGATIVE_INFINITY)
      return [Number.NaN, Number.NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

function sumOverTime(vs: Float64Array, lo: number, hi: number): number {
  let sum = 0;
  let c = 0;
  for (let i = lo; i < hi; i++) [sum, c] = kahanInc(vs[i], sum, c);
  // Like Prometheus: an infinite sum stays infinite even if the compensation is NaN.
  if (sum === Number.POSITIVE_INFINITY || sum === Number.NEGATIVE_INFINITY) return sum;
  return sum + c;
}

const mean = new MeanAccumulator();

function avgOverTime(vs: Float64Array, lo: number, hi: number): number {
  mean.start(vs[lo]);
  for (let i = lo + 1; i < hi; i++) mean.add(vs[i]);
  return mean.value();
}

function variance(vs: Float64Array, lo: number, hi: number): number {
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = lo; i < hi; i++) {
    count++;
    const f = vs[i];
    const delta = f - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

export const rate: RangeFunction = extrapolatedRate(true, true);
export const increase: RangeFunction = extrapolatedRate(true, false);
export const delta: RangeFunction = extrapolatedRate(false, false);
export const irate: RangeFunction = instantValue(true);
export const idelta: RangeFunction = instantValue(false);
export const deriv: RangeFunction = (ts, vs, lo, hi) =>
  hi - lo < 2 ? undefined : linearRegression(ts, vs, lo, hi, ts[lo])[0];
export const predict_linear: RangeFunction = (ts, vs, lo, hi, w) => {
  if (hi - lo < 2) return undefined;
  const [slope, intercept] = linearRegression(ts, vs, lo, hi, w.stepT);
  return slope * w.args[0] + intercept;
};
/** The changes in a window: the series' change marks that fall inside it. */
export const changes: RangeFunction = (_ts, _vs, lo, hi, w) => marksInside(w, lo, hi);
/** The resets in a window: the series' reset marks that fall inside it. */
export const resets: RangeFunction = (_ts, _vs, lo, hi, w) => marksInside(w, lo, hi);
export const avg_over_time: RangeFunction = (_ts, vs, lo, hi) => avgOverTime(vs, lo, hi);
export const sum_over_time: RangeFunction = (_ts, vs, lo, hi) => sumOverTime(vs, lo, hi);
export const count_over_time: RangeFunction = (_ts, _vs, lo, hi) => hi - lo;
export const min_over_time: RangeFunction = slidingExtreme((a, b) => a < b);
export const max_over_time: RangeFunction = slidingExtreme((a, b) => a > b);
export const last_over_time: RangeFunction = (_ts, vs, _lo, hi) => vs[hi - 1];
export const present_over_time: RangeFunction = () => 1;
export const stddev_over_time: RangeFunction = (_ts, vs, lo, hi) => Math.sqrt(variance(vs, lo, hi));
export const stdvar_over_time: RangeFunction = (_ts, vs, lo, hi) => variance(vs, lo, hi);
export const quantile_over_time: RangeFunction = (_ts, vs, lo, hi, w) =>
  quantile(w.args[0], Array.from(vs.subarray(lo, hi)));
export const mad_over_time: RangeFunction = (_ts, vs, lo, hi) => {
  const values = Array.from(vs.subarray(lo, hi));
  const median = quantile(0.5, values);
  return quantile(
    0.5,
    values.map((v) => Math.abs(v - median)),
  );
};
export const ts_of_min_over_time: RangeFunction = (ts, vs, lo, hi) => {
  let m = vs[lo];
  let at = ts[lo];
  for (let i = lo + 1; i < hi; i++) {
    if (vs[i] <= m || Number.isNaN(m)) {
      m = vs[i];
      at = ts[i];
    }
  }
  return at / 1000;
};
export const ts_of_max_over_time: RangeFunction = (ts, vs, lo, hi) => {
  let m = vs[lo];
  let at = ts[lo];
  for (let i = lo + 1; i < hi; i++) {
    if (vs[i] >= m || Number.isNaN(m)) {
      m = vs[i];
      at = ts[i];
    }
  }
  return at / 1000;
};
export const ts_of_last_over_time: RangeFunction = (ts, _vs, _lo, hi) => ts[hi - 1] / 1000;
export const double_exponential_smoothing: RangeFunction = (_ts, vs, lo, hi, w) => {
  const sf = w.args[0];
  const tf = w.args[1];
  if (hi - lo < 2) return undefined;
  let s0 = 0;
  let s1 = vs[lo];
  let b = vs[lo + 1] - vs[lo];
  for (let i = lo + 1; i < hi; i++) {
    const x = sf * vs[i];
    b = i > lo + 1 ? tf * (s1 - s0) + (1 - tf) * b : b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
};

/** Go's %f. */
function goF(v: number): string {
  return Number.isFinite(v) ? v.toFixed(6) : Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/** double_exponential_smoothing refuses factors outside (0, 1) at any step, as Prometheus does. */
export function checkSmoothingFactors(scalars: readonly Float64Array[], steps: number): void {
  for (let i = 0; i < steps; i++) {
    const sf = scalars[0][i];
    const tf = scalars[1][i];
    if (!(sf > 0 && sf < 1))
      throw new ExecutionError(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${goF(sf)}`);
    if (!(tf > 0 && tf < 1))
      throw new ExecutionError(`invalid trend factor. Expected: 0 < tf < 1, got: ${goF(tf)}`);
  }
}
