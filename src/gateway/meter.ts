/**
 * The gateway's cumulative counters and histograms, one "slot" per (project_id, model_name,
 * service_tier). Values live in typed arrays indexed by slot, so recording a request touches a
 * few array cells and allocates nothing; the only objects are the label sets of each exported
 * series, built once when a slot is created.
 *
 * Exported series per slot, in this order (the flusher walks them by index):
 *   crusoe_inference_request_count, _input_token_count, _output_token_count,
 *   crusoe_inference_histogram_first_token_latency_bucket{le=…} (one per bound, then +Inf), _sum, _count,
 *   crusoe_inference_histogram_output_token_latency_bucket{le=…}, _sum, _count,
 *   crusoe_inference_request_error_count{reason=…}, one per reason, present once non-zero
 *   (as a labelled child of a client-library counter appears on its first increment).
 *
 * `crusoe_inference_request_count` counts every request routed to a known project and model,
 * failed or not; the error counter counts the failed subset by a bounded `reason`, so
 * error ratio = error_count / request_count and nothing unbounded ever becomes a label value.
 */
import {
  INPUT_TOKEN_COUNT,
  MODEL_LABEL,
  OUTPUT_TOKEN_COUNT,
  PROJECT_LABEL,
  REQUEST_COUNT,
  REQUEST_ERROR_COUNT,
  type ServiceTier,
  TIER_LABEL,
  TPOT_BUCKETS,
  TPOT_HISTOGRAM,
  TTFT_BUCKETS,
  TTFT_HISTOGRAM,
} from "../catalog/metrics.js";
import { type Label, type Labels, METRIC_NAME, normalizeLabels } from "../storage/index.js";

/**
 * Why a request failed. Bounded on purpose (a label value per reason, never a message):
 * - upstream_4xx: the upstream answered 4xx other than 429 (passed on to the client as is);
 * - rate_limited: the upstream answered 429;
 * - upstream_5xx: the upstream answered 5xx, or sent an `error` event inside a stream;
 * - timeout: the upstream exceeded a configured timeout (response, idle or total);
 * - upstream_unreachable: no response from the upstream (refused, reset or DNS failure before headers);
 * - client_disconnect: the client went away before the response was complete;
 * - bad_response: a 2xx the gateway could not read (body not JSON, connection cut mid-body).
 */
export const ERROR_REASONS = [
  "upstream_4xx",
  "rate_limited",
  "upstream_5xx",
  "timeout",
  "upstream_unreachable",
  "client_disconnect",
  "bad_response",
] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];
const REASON_INDEX = new Map<ErrorReason, number>(ERROR_REASONS.map((r, i) => [r, i]));

/**
 * A bucket bound as Prometheus client libraries print it in the text format: Go's
 * strconv.FormatFloat(v, 'g', -1, 64) (shortest digits; exponent form below 1e-4 and from 1e21),
 * "+Inf" for infinity. For every bound in the catalog this equals JavaScript's String(v).
 */
export function formatBucketBound(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mant, expStr] = v.toExponential().split("e");
  const exp = Number(expStr);
  if (exp < -4 || exp >= 21) {
    const sign = exp < 0 ? "-" : "+";
    const abs = Math.abs(exp);
    return `${mant}e${sign}${abs < 10 ? "0" : ""}${abs}`;
  }
  return String(v);
}

/** Values of one slot, for tests and debugging (cumulative buckets, as exported). */
export interface SlotSnapshot {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  ttft: HistogramSnapshot;
  tpot: HistogramSnapshot;
  errors: Record<ErrorReason, number>;
}

export interface HistogramSnapshot {
  /** Upper bounds, ending with +Inf. */
  bounds: number[];
  /** Cumulative counts per bound. */
  cumulative: number[];
  sum: number;
  count: number;
}

export interface MeterOptions {
  /** Wall clock in ms: slot creation times (the flusher writes a 0 there, see flush.ts). */
  now?: () => number;
  /** Extra labels on every series (e.g. instance). */
  extraLabels?: Readonly<Record<string, string>>;
}

const N_COUNTERS = 3;
const N_TTFT = TTFT_BUCKETS.length + 1; // + the +Inf overflow
const N_TPOT = TPOT_BUCKETS.length + 1;
const N_REASONS = ERROR_REASONS.length;
const TTFT_OFF = N_COUNTERS;
const TPOT_OFF = TTFT_OFF + N_TTFT + 2;
const ERR_OFF = TPOT_OFF + N_TPOT + 2;
/** Exported series per slot. */
export const SERIES_PER_SLOT = ERR_OFF + N_REASONS;

/** Index of the first bound ≥ v (Prometheus buckets are `le`, inclusive), or bounds.length for +Inf. */
function bucketIndex(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Meter {
  private readonly now: () => number;
  private readonly extra: Label[];
  /** project → model → tier → slot. Nested maps so a lookup builds no key string. */
  private readonly index = new Map<string, Map<string, Map<string, number>>>();
  private n = 0;
  private cap = 0;
  private counters = new Float64Array(0);
  private ttft = new Float64Array(0);
  private ttftSum = new Float64Array(0);
  private tpot = new Float64Array(0);
  private tpotSum = new Float64Array(0);
  private errors = new Float64Array(0);
  private created = new Float64Array(0);
  private errCreated = new Float64Array(0);
  /** 1 once an error series exists (its first increment). */
  private errSeen = new Uint8Array(0);
  private labels: Labels[][] = [];
  private keys: Array<[string, string, ServiceTier]> = [];

  constructor(options: MeterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.extra = Object.entries(options.extraLabels ?? {}).map(([name, value]) => ({ name, value }));
    this.grow(16);
  }

  /** Number of slots. */
  get size(): number {
    return this.n;
  }

  /** The slot of a (project, model, tier), created on first use. */
  slot(projectId: string, modelName: string, tier: ServiceTier): number {
    let byModel = this.index.get(projectId);
    if (byModel === undefined) {
      byModel = new Map();
      this.index.set(projectId, byModel);
    }
    let byTier = byModel.get(modelName);
    if (byTier === undefined) {
      byTier = new Map();
      byModel.set(modelName, byTier);
    }
    const found = byTier.get(tier);
    if (found !== undefined) return found;
    const s = this.create(projectId, modelName, tier);
    byTier.set(tier, s);
    return s;
  }

  /** One finished request with its token counts (0 when unknown). */
  recordRequest(slot: number, inputTokens: number, outputTokens: number): void {
    const o = slot * N_COUNTERS;
    this.counters[o] += 1;
    this.counters[o + 1] += inputTokens;
    this.counters[o + 2] += outputTokens;
  }

  /** Time to first token, in seconds. */
  observeTtft(slot: number, seconds: number): void {
    this.ttft[slot * N_TTFT + bucketIndex(TTFT_BUCKETS, seconds)] += 1;
    this.ttftSum[slot] += seconds;
  }

  /** Time per output token, in seconds. */
  observeTpot(slot: number, seconds: number): void {
    this.tpot[slot * N_TPOT + bucketIndex(TPOT_BUCKETS, seconds)] += 1;
    this.tpotSum[slot] += seconds;
  }

  recordError(slot: number, reason: ErrorReason): void {
    const i = slot * N_REASONS + (REASON_INDEX.get(reason) as number);
    if (this.errSeen[i] === 0) {
      this.errSeen[i] = 1;
      this.errCreated[i] = this.now();
    }
    this.errors[i] += 1;
  }

  /** Label set of series `j` (0 ≤ j < SERIES_PER_SLOT) of a slot. */
  labelsOf(slot: number, j: number): Labels {
    return this.labels[slot][j];
  }

  /** Wall-clock ms at which series `j` of a slot started from 0; NaN if it does not exist yet. */
  createdAt(slot: number, j: number): number {
    if (j < ERR_OFF) return this.created[slot];
    const i = slot * N_REASONS + j - ERR_OFF;
    return this.errSeen[i] === 1 ? this.errCreated[i] : Number.NaN;
  }

  /**
   * Writes the current value of every series of a slot into `out` (length ≥ SERIES_PER_SLOT),
   * buckets made cumulative as exported; series not yet present (errors never seen) get NaN.
   */
  fill(slot: number, out: Float64Array): void {
    const c = slot * N_COUNTERS;
    out[0] = this.counters[c];
    out[1] = this.counters[c + 1];
    out[2] = this.counters[c + 2];
    fillHistogram(this.ttft, slot * N_TTFT, N_TTFT, this.ttftSum[slot], out, TTFT_OFF);
    fillHistogram(this.tpot, slot * N_TPOT, N_TPOT, this.tpotSum[slot], out, TPOT_OFF);
    const e = slot * N_REASONS;
    for (let r = 0; r < N_REASONS; r++) {
      out[ERR_OFF + r] = this.errSeen[e + r] === 1 ? this.errors[e + r] : Number.NaN;
    }
  }

  /** A readable copy of a slot's values, or undefined if the slot does not exist. */
  read(projectId: string, modelName: string, tier: ServiceTier): SlotSnapshot | undefined {
    const slot = this.index.get(projectId)?.get(modelName)?.get(tier);
    if (slot === undefined) return undefined;
    const v = new Float64Array(SERIES_PER_SLOT);
    this.fill(slot, v);
    const hist = (off: number, bounds: readonly number[]): HistogramSnapshot => ({
      bounds: [...bounds, Number.POSITIVE_INFINITY],
      cumulative: Array.from(v.subarray(off, off + bounds.length + 1)),
      sum: v[off + bounds.length + 1],
      count: v[off + bounds.length + 2],
    });
    const errors = {} as Record<ErrorReason, number>;
    ERROR_REASONS.forEach((r, i) => {
      errors[r] = Number.isNaN(v[ERR_OFF + i]) ? 0 : v[ERR_OFF + i];
    });
    return {
      requests: v[0],
      inputTokens: v[1],
      outputTokens: v[2],
      ttft: hist(TTFT_OFF, TTFT_BUCKETS),
      tpot: hist(TPOT_OFF, TPOT_BUCKETS),
      errors,
    };
  }

  /** (project, model, tier) of a slot. */
  keyOf(slot: number): readonly [string, string, ServiceTier] {
    return this.keys[slot];
  }

  private create(projectId: string, modelName: string, tier: ServiceTier): number {
    if (this.n === this.cap) this.grow(this.cap * 2);
    const s = this.n++;
    this.created[s] = this.now();
    this.keys.push([projectId, modelName, tier]);
    const base: Label[] = [
      ...this.extra,
      { name: PROJECT_LABEL, value: projectId },
      { name: MODEL_LABEL, value: modelName },
      { name: TIER_LABEL, value: tier },
    ];
    const make = (name: string, extra?: Label): Labels =>
      normalizeLabels([{ name: METRIC_NAME, value: name }, ...base, ...(extra ? [extra] : [])]);
    const out: Labels[] = [make(REQUEST_COUNT), make(INPUT_TOKEN_COUNT), make(OUTPUT_TOKEN_COUNT)];
    for (const [family, bounds] of [
      [TTFT_HISTOGRAM, TTFT_BUCKETS],
      [TPOT_HISTOGRAM, TPOT_BUCKETS],
    ] as const) {
      for (const b of [...bounds, Number.POSITIVE_INFINITY]) {
        out.push(make(`${family}_bucket`, { name: "le", value: formatBucketBound(b) }));
      }
      out.push(make(`${family}_sum`), make(`${family}_count`));
    }
    for (const r of ERROR_REASONS) out.push(make(REQUEST_ERROR_COUNT, { name: "reason", value: r }));
    this.labels.push(out);
    return s;
  }

  private grow(cap: number): void {
    const extend = (a: Float64Array, per: number): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap * per);
      b.set(a);
      return b;
    };
    this.counters = extend(this.counters, N_COUNTERS);
    this.ttft = extend(this.ttft, N_TTFT);
    this.ttftSum = extend(this.ttftSum, 1);
    this.tpot = extend(this.tpot, N_TPOT);
    this.tpotSum = extend(this.tpotSum, 1);
    this.errors = extend(this.errors, N_REASONS);
    this.created = extend(this.created, 1);
    this.errCreated = extend(this.errCreated, N_REASONS);
    const seen = new Uint8Array(cap * N_REASONS);
    seen.set(this.errSeen);
    this.errSeen = seen;
    this.cap = cap;
  }
}

/** Cumulative buckets, then sum, then count (= the +Inf bucket). */
function fillHistogram(
  counts: Float64Array,
  from: number,
  n: number,
  sum: number,
  out: Float64Array,
  at: number,
): void {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += counts[from + i];
    out[at + i] = acc;
  }
  out[at + n] = sum;
  out[at + n + 1] = acc;
}
