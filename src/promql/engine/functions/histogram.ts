/** histogram_quantile over classic `le` buckets, after Prometheus's quantile.go (BucketQuantile). */
import { almostEqual } from "../math.js";

export interface Bucket {
  upperBound: number;
  count: number;
}

const SMALL_DELTA_TOLERANCE = 1e-12;

export interface BucketQuantileResult {
  value: number;
  forcedMonotonic: boolean;
  fixedPrecision: boolean;
}

/** Sorts and may modify `buckets`. */
export function bucketQuantile(q: number, buckets: Bucket[]): BucketQuantileResult {
  const result = (value: number, forcedMonotonic = false, fixedPrecision = false) => ({
    value,
    forcedMonotonic,
    fixedPrecision,
  });
  if (Number.isNaN(q)) return result(Number.NaN);
  if (q < 0) return result(Number.NEGATIVE_INFINITY);
  if (q > 1) return result(Number.POSITIVE_INFINITY);
  buckets.sort((a, b) => a.upperBound - b.upperBound);
  if (buckets[buckets.length - 1].upperBound !== Number.POSITIVE_INFINITY) return result(Number.NaN);
  // Coalesce buckets with the same upper bound.
  const merged: Bucket[] = [];
  for (const b of buckets) {
    const last = merged[merged.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else merged.push({ upperBound: b.upperBound, count: b.count });
  }
  let forcedMonotonic = false;
  let fixedPrecision = false;
  let prev = merged[0].count;
  for (let i = 1; i < merged.length; i++) {
    const curr = merged[i].count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, SMALL_DELTA_TOLERANCE)) {
      merged[i].count = prev;
      fixedPrecision = true;
      continue;
    }
    if (curr < prev) {
      merged[i].count = prev;
      forcedMonotonic = true;
      continue;
    }
    prev = curr;
  }
  if (merged.length < 2) return result(Number.NaN, forcedMonotonic, fixedPrecision);
  const observations = merged[merged.length - 1].count;
  if (observations === 0) return result(Number.NaN, forcedMonotonic, fixedPrecision);
  let rank = q * observations;
  // First bucket (among all but +Inf) whose count reaches the rank.
  let b = 0;
  while (b < merged.length - 1 && !(merged[b].count >= rank)) b++;
  if (b === merged.length - 1)
    return result(merged[merged.length - 2].upperBound, forcedMonotonic, fixedPrecision);
  if (b === 0 && merged[0].upperBound <= 0)
    return result(merged[0].upperBound, forcedMonotonic, fixedPrecision);
  let bucketStart = 0;
  const bucketEnd = merged[b].upperBound;
  let count = merged[b].count;
  if (b > 0) {
    bucketStart = merged[b - 1].upperBound;
    count -= merged[b - 1].count;
    rank -= merged[b - 1].count;
  }
  return result(bucketStart + (bucketEnd - bucketStart) * (rank / count), forcedMonotonic, fixedPrecision);
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
 * interpolating linearly inside buckets (Prometheus's BucketFraction). Sorts `buckets`.
 */
export function bucketFraction(lower: number, upper: number, buckets: Bucket[]): number {
  buckets.sort((a, b) => a.upperBound - b.upperBound);
  if (buckets[buckets.length - 1].upperBound !== Number.POSITIVE_INFINITY) return Number.NaN;
  const merged: Bucket[] = [];
  for (const b of buckets) {
    const last = merged[merged.length - 1];
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else merged.push({ upperBound: b.upperBound, count: b.count });
  }
  const count = merged[merged.length - 1].count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return Number.NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  for (let i = 0; i < merged.length; i++) {
    const b = merged[i];
    // The first bucket starts at 0 unless its upper bound is negative (as histogram_quantile assumes).
    const lowerBound = i > 0 ? merged[i - 1].upperBound : b.upperBound > 0 ? 0 : Number.NEGATIVE_INFINITY;
    const upperBound = b.upperBound;
    const interpolate = (v: number) =>
      rank + ((b.count - rank) * (v - lowerBound)) / (upperBound - lowerBound);
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
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}
