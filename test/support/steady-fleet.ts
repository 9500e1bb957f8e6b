/**
 * A deterministic "steady" inference fleet in the product's metric names, for end-to-end tests that
 * compare answers across storage engines (our embedded TSDB, Prometheus, VictoriaMetrics).
 *
 * Steady means every counter is an exact linear function of time:
 *   value(t) = base + ratePerSecond * (t - startMs) / 1000
 * with a large base (the model servers have been up for days) and a constant rate per series. Why:
 * the engines compute rate() differently. Prometheus takes the first and last samples inside the
 * window and extrapolates their slope to the window's edges; VictoriaMetrics does not extrapolate
 * but takes the last sample before the window and the last one inside it. Both give the same
 * number only when the counter is linear (then any two samples have the same slope); on real,
 * bursty counters they differ by a few percent and no comparison test could use exact equality.
 * `exactRateRange` says at which evaluation times both are exact for a given window.
 *
 * Exact in VictoriaMetrics too: VM 1.79 stores values as decimals (lib/decimal), and converts a
 * non-integer float64 between 1e-6 and 1e6 by scaling it by 100 until the fraction is below 1e-12
 * of it, then truncating: ~12 significant digits, and an exact 12-digit decimal can come back one
 * unit lower in the 13th (223.306495128 → 223.3064951279, measured). On a counter that has run for
 * days, a 5 m rate() is the difference of two values ~10^3 times larger than the increase, so that
 * rounding alone moves the rate by ~1e-9 relative. Hence every rate here has 2 significant digits
 * and every value is m × (ms since the server started) × 10^k, an exact decimal of at most 11
 * significant digits: VM stores it without loss and gives back the same float64 (checked over
 * 216,000 samples through /api/v1/export). That holds while uptime + durationMs stays under ~11
 * days (uptimes are 2–8 days).
 *
 * Layout: 2–3 projects (UUID-shaped ids), 2 models each, both service tiers: one scrape target per
 * (project, model, tier). Every target is sampled every 15 s from a phase of its own, each sample a
 * few hundred ms off schedule with ms precision and never on a whole second (so whole-second range
 * boundaries never coincide with a sample, and closed and left-open ranges select the same
 * samples). All series of a target share its timestamps, as in a scrape, so the histogram buckets
 * are cumulative over `le` at every sample.
 *
 * Per target: three counters (`crusoe_inference_request_count`, `_input_token_count`,
 * `_output_token_count`) and two classic histograms (`crusoe_inference_histogram_first_token_latency`
 * and `_output_token_latency`: `_bucket` with the TTFT/TPOT buckets of fleet-samples.ts plus "+Inf",
 * `_sum`, `_count`). Bucket rates follow a lognormal latency distribution, cut so that nothing is
 * observed above the top finite bound: the "+Inf" bucket, the top finite bucket and `_count` have
 * the same rate and values, and histogram_quantile stays inside the finite buckets.
 */
import { mulberry32 } from "../../src/sim/random.js";
import {
  COUNTERS,
  HISTOGRAMS,
  MODELS,
  roundTrips,
  TPOT_BUCKETS,
  TTFT_BUCKETS,
  uuid,
} from "../api/fleet-samples.js";
import type { SampleSeries } from "../api/harness.js";

export const STEADY_INTERVAL_MS = 15_000;
/** Samples land up to this far either side of their schedule. */
export const STEADY_JITTER_MS = 350;

export interface SteadyFleetOptions {
  /** Start of the data, ms (default 2025-06-02T09:00:00Z). No sample is before it. */
  startMs?: number;
  /** Length of the data, ms (default 50 min). No sample is after startMs + durationMs. */
  durationMs?: number;
  seed?: number;
  /** Number of projects, 1–5 (default 3). */
  projects?: number;
}

export interface SteadySeries extends SampleSeries {
  /** The value at startMs. */
  base: number;
  /**
   * The constant increase per second, with 2 significant digits: the truth for this series (token
   * and bucket rates derived from the target's numbers are rounded to it).
   */
  ratePerSecond: number;
}

export interface SteadyTarget {
  project: string;
  model: string;
  tier: "pt" | "on_demand";
  /** Requests per second (2 significant digits): the rate of its request counter. */
  reqPerSec: number;
  /** Seconds the model server had been up at startMs. */
  uptimeSec: number;
  inputTokensPerRequest: number;
  outputTokensPerRequest: number;
  /** The target's sample timestamps, ms (shared by all its series). */
  timestamps: number[];
}

export interface SteadyFleet {
  series: SteadySeries[];
  targets: SteadyTarget[];
  /** Project ids, in generation order; models[project] lists its models. */
  projects: string[];
  models: Record<string, string[]>;
  startMs: number;
  endMs: number;
  intervalMs: number;
  sampleCount: number;
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * Cumulative fractions of observations at or below each bound (then +Inf), from a lognormal cut at
 * the top finite bound: monotone, and 1 from the top finite bound on.
 */
function bucketFractions(bounds: readonly number[], median: number, sigma: number): number[] {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < bounds.length; i++) {
    let f = i === bounds.length - 1 ? 1 : normalCdf(Math.log(bounds[i] / median) / sigma);
    if (f < 1e-6) f = 0; // nothing that fast, rather than a rate of 1e-12/s
    prev = Math.min(1, Math.max(prev, f));
    out.push(prev);
  }
  out.push(1);
  return out;
}

/** Mean observation for the fractions: each bucket's share at the middle of its range. */
function meanObservation(bounds: readonly number[], fractions: readonly number[]): number {
  let mean = 0;
  for (let i = 0; i < bounds.length; i++) {
    const lo = i === 0 ? 0 : bounds[i - 1];
    mean += (fractions[i] - (i === 0 ? 0 : fractions[i - 1])) * ((lo + bounds[i]) / 2);
  }
  return mean;
}

const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** A rate rounded to 2 significant digits, as m × 10^p with 10 ≤ m < 100 (m = 0 for nothing). */
interface Decimal2 {
  m: number;
  p: number;
}

function decimal2(x: number): Decimal2 {
  if (!(x > 0)) return { m: 0, p: 0 };
  let p = Math.floor(Math.log10(x)) - 1;
  let m = Math.round(p < 0 ? x * POW10[-p] : x / POW10[p]);
  if (m >= 100) {
    m = Math.round(m / 10);
    p++;
  }
  return { m, p };
}

/** n × 10^p, correctly rounded (n an integer below 2^53). */
function scaled(n: number, p: number): number {
  return p < 0 ? n / POW10[-p] : n * POW10[p];
}

/** Sample times: every 15 s from a phase, each off by up to ±350 ms, never on a whole second. */
function sampleTimes(random: () => number, startMs: number, endMs: number): number[] {
  const phase = STEADY_JITTER_MS + Math.floor(random() * (STEADY_INTERVAL_MS - 2 * STEADY_JITTER_MS));
  const out: number[] = [];
  for (let t = startMs + phase; t + STEADY_JITTER_MS <= endMs; t += STEADY_INTERVAL_MS) {
    let ms = t + Math.round((random() * 2 - 1) * (STEADY_JITTER_MS - 10));
    // Never on a whole second, and exact through a float64 of seconds (OpenMetrics, query params).
    while (ms % 1000 === 0 || !roundTrips(ms)) ms++;
    out.push(ms);
  }
  return out;
}

export function generateSteadyFleet(o: SteadyFleetOptions = {}): SteadyFleet {
  const random = mulberry32(o.seed ?? 20250603);
  const startMs = o.startMs ?? Date.UTC(2025, 5, 2, 9, 0, 0);
  const endMs = startMs + (o.durationMs ?? 50 * 60_000);
  const projectCount = o.projects ?? 3;
  if (!Number.isInteger(projectCount) || projectCount < 1 || projectCount > 5) {
    throw new RangeError(`projects must be 1–5, not ${projectCount}`);
  }

  const projects = Array.from({ length: projectCount }, () => uuid(random));
  const models: Record<string, string[]> = {};
  const targets: SteadyTarget[] = [];
  const series: SteadySeries[] = [];
  let sampleCount = 0;

  for (let p = 0; p < projects.length; p++) {
    models[projects[p]] = [MODELS[(p * 2) % MODELS.length], MODELS[(p * 2 + 1) % MODELS.length]];
    for (const model of models[projects[p]]) {
      for (const tier of ["on_demand", "pt"] as const) {
        // Provisioned throughput carries heavier traffic than on-demand.
        const rps = decimal2(tier === "pt" ? 2 + random() * 6 : 0.05 + random() * 1.5);
        const reqPerSec = scaled(rps.m, rps.p);
        const target: SteadyTarget = {
          project: projects[p],
          model,
          tier,
          reqPerSec,
          uptimeSec: Math.round((2 + random() * 6) * 86_400),
          inputTokensPerRequest: 200 + Math.floor(random() * 1800),
          outputTokensPerRequest: 100 + Math.floor(random() * 700),
          timestamps: sampleTimes(random, startMs, endMs),
        };
        targets.push(target);

        const big = /70B|32B/.test(model);
        const ttftMedian = (big ? 0.32 : 0.09) * (tier === "pt" ? 0.8 : 1.2);
        const tpotMedian = big ? 0.042 : 0.013;
        const common = { project_id: target.project, model_name: model, service_tier: tier };
        const uptimeMs = target.uptimeSec * 1000;
        const add = (labels: Record<string, string>, rate: number) => {
          // value = m × (uptime + elapsed in ms) × 10^(p − 3): an exact decimal of at most 11
          // significant digits, computed as one exact integer product and one power-of-ten scaling
          // (so correctly rounded, and equal rates give equal values).
          const { m, p } = decimal2(rate);
          const samples = target.timestamps.map(
            (t) => [t, scaled(m * (uptimeMs + t - startMs), p - 3)] as const,
          );
          series.push({ labels, samples, base: scaled(m * uptimeMs, p - 3), ratePerSecond: scaled(m, p) });
          sampleCount += samples.length;
        };

        add({ __name__: COUNTERS[0], ...common }, reqPerSec);
        add({ __name__: COUNTERS[1], ...common }, reqPerSec * target.inputTokensPerRequest);
        add({ __name__: COUNTERS[2], ...common }, reqPerSec * target.outputTokensPerRequest);
        // TTFT: one observation per request; TPOT: one per output token after the first.
        const histograms = [
          { name: HISTOGRAMS[0], bounds: TTFT_BUCKETS, median: ttftMedian, sigma: 0.6, rate: reqPerSec },
          {
            name: HISTOGRAMS[1],
            bounds: TPOT_BUCKETS,
            median: tpotMedian,
            sigma: 0.35,
            rate: reqPerSec * (target.outputTokensPerRequest - 1),
          },
        ];
        for (const h of histograms) {
          const fractions = bucketFractions(h.bounds, h.median, h.sigma);
          const les = [...h.bounds.map(String), "+Inf"];
          for (let i = 0; i < les.length; i++) {
            add({ __name__: `${h.name}_bucket`, ...common, le: les[i] }, h.rate * fractions[i]);
          }
          add({ __name__: `${h.name}_sum`, ...common }, h.rate * meanObservation(h.bounds, fractions));
          add({ __name__: `${h.name}_count`, ...common }, h.rate);
        }
      }
    }
  }
  return { series, targets, projects, models, startMs, endMs, intervalMs: STEADY_INTERVAL_MS, sampleCount };
}

/**
 * Evaluation times T (ms, inclusive) at which rate(x[window]) is exactly each series' ratePerSecond
 * (up to float rounding) in Prometheus and VictoriaMetrics alike: VictoriaMetrics needs a sample at
 * or before T − window, Prometheus two samples in the window and its extrapolation reaching both
 * edges (gaps to them under 1.1 × the average spacing). The window must hold two samples: ≥ 32 s.
 */
export function exactRateRange(fleet: SteadyFleet, windowMs: number): { fromMs: number; toMs: number } {
  if (windowMs < 32_000) throw new RangeError(`window ${windowMs} ms is too short for exact rates (≥ 32 s)`);
  let fromMs = Number.NEGATIVE_INFINITY;
  let toMs = Number.POSITIVE_INFINITY;
  for (const t of fleet.targets) {
    if (t.timestamps.length === 0) continue;
    fromMs = Math.max(fromMs, t.timestamps[0] + windowMs);
    toMs = Math.min(toMs, t.timestamps[t.timestamps.length - 1] + STEADY_INTERVAL_MS);
  }
  if (fromMs > toMs) throw new RangeError(`the data is too short for a ${windowMs} ms window`);
  return { fromMs, toMs };
}
