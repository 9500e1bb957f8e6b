/** histogram_quantile over classic `le` buckets, after Prometheus's quantile.go (BucketQuantile). */
import { almostEqual } from "../math.js";

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
