/**
 * Fixtures shared by the real-client tests (grafana, prometheus-query, promtool): the product's
 * counters for two projects, a sample every 15 s with jittered timestamps, and what Prometheus would
 * compute from them.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { mulberry32 } from "../../src/sim/random.js";
import { type SampleSeries, startRouteService, type TestService } from "./harness.js";

export const REQUESTS = "crusoe_inference_request_count";
export const INPUT_TOKENS = "crusoe_inference_input_token_count";
export const OUTPUT_TOKENS = "crusoe_inference_output_token_count";
export const PROJECT = "acme-prod";
export const OTHER = "globex-dev";
export const MODELS = ["llama-3.1-70b-instruct", "mistral-7b-instruct"] as const;
/** The product's service tiers (`pt` = provisioned throughput), in data order; sorted they are on_demand, pt. */
export const TIERS = ["pt", "on_demand"] as const;
/** Whole minutes, two of them in the past: promtool's default ranges (now ± 9999h) cover the data. */
export const END_MS = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
export const START_MS = END_MS - 3_600_000;

/** A counter scraped every 15 s ± 1.5 s, optionally reset (process restart) at `resetAt`. */
export function counter(labels: Record<string, string>, seed: number, resetAt?: number): SampleSeries {
  const rnd = mulberry32(seed);
  const samples: Array<[number, number]> = [];
  let v = Math.floor(rnd() * 5000);
  let reset = false;
  for (let t0 = START_MS; t0 <= END_MS; t0 += 15_000) {
    const t = t0 + Math.round((rnd() - 0.5) * 3000);
    if (resetAt !== undefined && !reset && t >= resetAt) {
      v = 0;
      reset = true;
    }
    v += Math.floor(rnd() * 40) + 1;
    samples.push([t, v]);
  }
  return { labels, samples };
}

/**
 * REQUESTS and INPUT_TOKENS of `project` for each model × tier, seeded from `seedBase` upwards.
 * The REQUESTS series of MODELS[1] × TIERS[0] restarts 100 s before the end, inside every 300 s
 * window the tests evaluate.
 */
export function projectData(project: string, seedBase: number, models: readonly string[]): SampleSeries[] {
  const out: SampleSeries[] = [];
  let seed = seedBase;
  for (const model_name of models) {
    for (const service_tier of TIERS) {
      const labels = { project_id: project, model_name, service_tier };
      const resetAt = model_name === MODELS[1] && service_tier === TIERS[0] ? END_MS - 100_000 : undefined;
      out.push(counter({ __name__: REQUESTS, ...labels }, seed++, resetAt));
      out.push(counter({ __name__: INPUT_TOKENS, ...labels }, seed++));
    }
  }
  return out;
}

/** Prometheus 3's rate(): samples in (t - range, t], extrapolated as promql/functions.go does. */
export function promRate(samples: SampleSeries["samples"], t: number, rangeMs: number): number | undefined {
  const pts = samples.filter(([ts]) => ts > t - rangeMs && ts <= t);
  if (pts.length < 2) return undefined;
  const [firstT, firstV] = pts[0];
  const [lastT, lastV] = pts[pts.length - 1];
  let result = lastV - firstV;
  let prev = firstV;
  for (const [, v] of pts.slice(1)) {
    if (v < prev) result += prev;
    prev = v;
  }
  let durationToStart = (firstT - (t - rangeMs)) / 1000;
  let durationToEnd = (t - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const avg = sampledInterval / (pts.length - 1);
  const threshold = avg * 1.1;
  if (durationToStart >= threshold) durationToStart = avg / 2;
  if (result > 0 && firstV >= 0) {
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = avg / 2;
  const factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval / (rangeMs / 1000);
  return result * factor;
}

/** `sum by (model_name) (rate(<metric>[range]))` at t over `data`, computed from its samples. */
export function expectedRateByModel(
  data: readonly SampleSeries[],
  metric: string,
  t: number,
  rangeMs: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of data) {
    if (s.labels.__name__ !== metric) continue;
    const r = promRate(s.samples, t, rangeMs);
    if (r === undefined) continue;
    out.set(s.labels.model_name, (out.get(s.labels.model_name) ?? 0) + r);
  }
  return out;
}

export function assertClose(actual: number, expected: number, what: string): void {
  const tol = Math.max(1e-9, Math.abs(expected) * 1e-9);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

/** A test service and monitoring tokens of PROJECT and OTHER, set once the before() hook has run. */
export interface ClientService {
  readonly service: TestService;
  readonly token: string;
  readonly otherToken: string;
}

/**
 * Registers before() and after() hooks in the current suite (or file) that start a test service
 * holding `data`, create a token for PROJECT and one for OTHER, and close the service at the end.
 * In-process unless `listen` (a client that opens its own connections needs the socket).
 */
export function useClientService(
  data: readonly SampleSeries[],
  opts: { listen?: boolean } = {},
): ClientService {
  const state = {} as { service: TestService; token: string; otherToken: string };
  before(async () => {
    state.service = await startRouteService({ listen: opts.listen });
    state.service.load(data);
    state.token = state.service.token(PROJECT);
    state.otherToken = state.service.token(OTHER);
  });
  after(async () => {
    await state.service?.close();
  });
  return state;
}
