/**
 * histogram_quantile and histogram_fraction over classic `le` buckets, after Prometheus's
 * quantile.go (BucketQuantile, BucketFraction).
 */
import { getLabel, type Label, type Labels, METRIC_NAME } from "../../../storage/index.js";
import type { Call } from "../../ast.js";
import { ExecutionError } from "../../errors.js";
import type { Evaluator } from "../evaluator.js";
import { keyOf } from "../labels-util.js";
import { almostEqual } from "../math.js";
import { type EvalValue, newStepSeries, type StepSeries } from "../types.js";
import { scalarArg, vectorArg, warnQuantile } from "./args.js";

export function histogram_quantile(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: overBuckets(ev, call, false) };
}

export function histogram_fraction(ev: Evaluator, call: Call): EvalValue {
  return { kind: "vector", series: overBuckets(ev, call, true) };
}

const SMALL_DELTA_TOLERANCE = 1e-12;

/** What a quantile computation had to fix in its input (reused: the hot loop allocates nothing). */
export interface QuantileFlags {
  forcedMonotonic: boolean;
  fixedPrecision: boolean;
}

/**
 * Prometheus's BucketQuantile over classic buckets already sorted by upper bound with equal bounds
 * coalesced: `bounds[0..len)` ascending and distinct, `counts[0..len)` their cumulative counts,
 * fixed up in place where they are not monotonic. Typed arrays the caller reuses step after step.
 */
export function quantileOfSortedBuckets(
  q: number,
  bounds: Float64Array,
  counts: Float64Array,
  len: number,
  flags: QuantileFlags,
): number {
  flags.forcedMonotonic = false;
  flags.fixedPrecision = false;
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  if (bounds[len - 1] !== Number.POSITIVE_INFINITY) return Number.NaN;
  let prev = counts[0];
  for (let i = 1; i < len; i++) {
    const curr = counts[i];
    if (curr === prev) continue;
    if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE)) {
      counts[i] = prev;
      flags.fixedPrecision = true;
      continue;
    }
    if (curr < prev) {
      counts[i] = prev;
      flags.forcedMonotonic = true;
      continue;
    }
    prev = curr;
  }
  if (len < 2) return Number.NaN;
  const observations = counts[len - 1];
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  // First bucket (among all but +Inf) whose count reaches the rank.
  let b = 0;
  while (b < len - 1 && !(counts[b] >= rank)) b++;
  if (b === len - 1) return bounds[len - 2];
  if (b === 0 && bounds[0] <= 0) return bounds[0];
  let bucketStart = 0;
  const bucketEnd = bounds[b];
  let count = counts[b];
  if (b > 0) {
    bucketStart = bounds[b - 1];
    count -= counts[b - 1];
    rank -= counts[b - 1];
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Go's strconv.ParseFloat for bucket bounds; undefined when the text is not a number. */
export function parseGoFloat(s: string): number | undefined {
  const t = s.toLowerCase();
  if (/^[+-]?(inf|infinity)$/.test(t))
    return t.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (t === "nan") return Number.NaN;
  if (/^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(e[+-]?\d+)?$/.test(t)) return Number(t.replaceAll("_", ""));
  if (/^[+-]?0x[0-9a-f]+$/.test(t))
    return t.startsWith("-") ? -Number(t.slice(1)) : Number(t.replace("+", ""));
  return undefined;
}

/**
 * histogram_fraction over classic buckets: the share of observations between lower and upper,
 * interpolating linearly inside buckets (Prometheus's BucketFraction). Buckets as for
 * quantileOfSortedBuckets: sorted by bound, equal bounds coalesced.
 */
export function fractionOfSortedBuckets(
  lower: number,
  upper: number,
  bounds: Float64Array,
  counts: Float64Array,
  len: number,
): number {
  if (bounds[len - 1] !== Number.POSITIVE_INFINITY) return Number.NaN;
  const count = counts[len - 1];
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return Number.NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  for (let i = 0; i < len; i++) {
    // The first bucket starts at 0 unless its upper bound is negative (as histogram_quantile assumes).
    const lowerBound = i > 0 ? bounds[i - 1] : bounds[i] > 0 ? 0 : Number.NEGATIVE_INFINITY;
    const upperBound = bounds[i];
    const bucketCount = counts[i];
    const interpolate = (v: number) =>
      rank + ((bucketCount - rank) * (v - lowerBound)) / (upperBound - lowerBound);
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interpolate(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interpolate(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = bucketCount;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}

interface BucketGroup {
  metric: Labels;
  members: { bound: number; s: StepSeries }[];
}

/** Groups the bucket series by their labels without `le`, then one quantile or fraction per step. */
function overBuckets(ev: Evaluator, call: Call, fraction: boolean): StepSeries[] {
  const n = ev.steps.count;
  const q = scalarArg(ev, call.args[0]);
  const upper = fraction ? scalarArg(ev, call.args[1]) : q;
  const series = vectorArg(ev, call.args[fraction ? 2 : 1]);
  const groups = new Map<string, BucketGroup>();
  const order: BucketGroup[] = [];
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
