/**
 * Random variates for the simulated fleet, all drawn from an injected uniform source `() => number`
 * in [0, 1) (normally `mulberry32(seed)` from ./random.ts) so every run with the same seed is the same.
 */

export type Uniform = () => number;

/** A length or delay distribution, as written in configs (plain data, so fleets can be JSON). */
export type Distribution =
  | { kind: "constant"; value: number }
  | { kind: "uniform"; min: number; max: number }
  /** `median` = e^μ; `sigma` = σ of the underlying normal. Optional clamps keep tails sane. */
  | { kind: "lognormal"; median: number; sigma: number; min?: number; max?: number };

/**
 * One standard normal draw (Box–Muller, one of the pair). 1 − u keeps the log argument in (0, 1] so
 * a uniform source that can return 0 never yields −∞.
 */
export function standardNormal(rand: Uniform): number {
  const u1 = 1 - rand();
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Lognormal from its median and σ: median · e^{σZ}. Configured by the median (not the mean) because
 * that is what the product's histogram_quantile(0.5, …) panels show, so tests compare like with like.
 */
export function lognormal(rand: Uniform, median: number, sigma: number): number {
  if (!(median > 0)) throw new RangeError(`lognormal median must be > 0, got ${median}`);
  if (!(sigma >= 0)) throw new RangeError(`lognormal sigma must be >= 0, got ${sigma}`);
  return median * Math.exp(sigma * standardNormal(rand));
}

/** Exponential with the given rate (events per unit): the gap between Poisson-process arrivals. */
export function exponential(rand: Uniform, rate: number): number {
  if (!(rate > 0)) throw new RangeError(`exponential rate must be > 0, got ${rate}`);
  return -Math.log(1 - rand()) / rate;
}

/**
 * Arrival times (seconds from 0) of a Poisson process with `ratePerSecond`, as an infinite iterator;
 * the load generator pulls one gap at a time instead, this is for tests and offline use.
 */
export function* poissonArrivals(rand: Uniform, ratePerSecond: number): Generator<number, never> {
  let t = 0;
  for (;;) {
    t += exponential(rand, ratePerSecond);
    yield t;
  }
}

/** true with probability p (p ≤ 0 never, p ≥ 1 always, without consuming a draw at the extremes). */
export function bernoulli(rand: Uniform, p: number): boolean {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return rand() < p;
}

/** Integer in [min, max], both inclusive. */
export function uniformInt(rand: Uniform, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

/** One element of a non-empty array, uniformly. */
export function pick<T>(rand: Uniform, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError("pick from an empty array");
  return items[Math.floor(rand() * items.length)];
}

/** A draw from a config distribution (a real number; callers round when they need counts). */
export function sample(rand: Uniform, d: Distribution): number {
  switch (d.kind) {
    case "constant":
      return d.value;
    case "uniform":
      return d.min + rand() * (d.max - d.min);
    case "lognormal": {
      const x = lognormal(rand, d.median, d.sigma);
      return Math.min(d.max ?? Number.POSITIVE_INFINITY, Math.max(d.min ?? 0, x));
    }
  }
}

/** A whole count ≥ `floor` (token lengths): rounded, never below `floor` (default 1). */
export function sampleCount(rand: Uniform, d: Distribution, floor = 1): number {
  return Math.max(floor, Math.round(sample(rand, d)));
}

/**
 * A seed for the i-th sub-stream of a seeded run (a request, a load stream), so a request's draws
 * depend on its index, not on how concurrent requests happened to interleave. Knuth's multiplicative
 * hash spreads consecutive indices over the 32-bit seed space.
 */
export function deriveSeed(seed: number, index: number): number {
  return (Math.imul((seed ^ 0x5bd1e995) >>> 0, 31) + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}
