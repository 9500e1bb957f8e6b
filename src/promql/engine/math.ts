/** Numeric helpers shared by aggregations and functions, following Prometheus's implementations. */

/** One step of Kahan–Neumaier summation (Prometheus's kahanSumInc). Returns [sum, compensation]. */
export function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (t === Number.POSITIVE_INFINITY || t === Number.NEGATIVE_INFINITY) return [t, 0];
  if (Math.abs(sum) >= Math.abs(inc)) return [t, c + (sum - t + inc)];
  return [t, c + (inc - t + sum)];
}

/**
 * The φ-quantile of values (Prometheus's quantile(): linear interpolation between the closest
 * ranks; φ < 0 gives -Inf, φ > 1 gives +Inf, NaN gives NaN). Sorts `values` in place.
 */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  values.sort((a, b) => (Number.isNaN(a) ? -1 : Number.isNaN(b) ? 1 : a - b));
  const n = values.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return values[lower] * (1 - weight) + values[upper] * weight;
}

const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus's util/almost.Equal: relative comparison, NaN equal to NaN. */
export function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

/**
 * The mean as Prometheus computes it for avg and avg_over_time: a Kahan sum divided by the count,
 * switching to an incremental (Kahan-compensated) mean once the sum would overflow.
 */
export class MeanAccumulator {
  private sum = 0;
  private c = 0;
  private mean = 0;
  private count = 0;
  private incremental = false;

  start(first: number): void {
    this.sum = first;
    this.c = 0;
    this.mean = 0;
    this.count = 1;
    this.incremental = false;
  }

  add(f: number): void {
    const count = ++this.count;
    if (!this.incremental) {
      const [sum, c] = kahanInc(f, this.sum, this.c);
      if (sum !== Number.POSITIVE_INFINITY && sum !== Number.NEGATIVE_INFINITY) {
        this.sum = sum;
        this.c = c;
        return;
      }
      this.incremental = true;
      this.mean = this.sum / (count - 1);
      this.c /= count - 1;
    }
    const q = (count - 1) / count;
    [this.mean, this.c] = kahanInc(f / count, q * this.mean, q * this.c);
  }

  value(): number {
    return this.incremental ? this.mean + this.c : this.sum / this.count + this.c / this.count;
  }
}
