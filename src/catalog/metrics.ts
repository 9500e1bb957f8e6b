/**
 * The product's metric families: names, types and help texts (../shared/SPEC.md). The query API's
 * /metadata serves them; producers (gateway, rules) use the same names.
 */
import { PROJECT_LABEL } from "../storage/project-scope.js";

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "unknown";

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
}

export const METRIC_FAMILIES: readonly MetricFamily[] = [
  {
    name: "crusoe_inference_request_count",
    type: "counter",
    help: "API requests served, per project, model and service tier.",
    unit: "",
  },
  {
    name: "crusoe_inference_input_token_count",
    type: "counter",
    help: "Prompt (input) tokens processed.",
    unit: "",
  },
  {
    name: "crusoe_inference_output_token_count",
    type: "counter",
    help: "Generated (output) tokens.",
    unit: "",
  },
  {
    name: "crusoe_inference_histogram_first_token_latency",
    type: "histogram",
    help: "Time to first token (TTFT) in seconds.",
    unit: "seconds",
  },
  {
    name: "crusoe_inference_histogram_output_token_latency",
    type: "histogram",
    help: "Time per output token (TPOT) in seconds, after the first.",
    unit: "seconds",
  },
  {
    name: "crusoe_inference_first_token_latency",
    type: "gauge",
    help: "Most recent per-minute TTFT quantile in seconds, computed every 60 s from the histogram.",
    unit: "seconds",
  },
  {
    name: "crusoe_inference_output_token_latency",
    type: "gauge",
    help: "Most recent per-minute TPOT quantile in seconds, computed every 60 s from the histogram.",
    unit: "seconds",
  },
  {
    name: "crusoe_inference_request_error_count",
    type: "counter",
    help: "Requests that failed, by reason (upstream_4xx, rate_limited, upstream_5xx, timeout, upstream_unreachable, client_disconnect, bad_response); a subset of crusoe_inference_request_count.",
    unit: "",
  },
];

const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

/** The family a stored series name belongs to ("x_bucket" → the histogram "x"), if it is ours. */
export function familyOf(seriesName: string): MetricFamily | undefined {
  for (const f of METRIC_FAMILIES) {
    if (f.name === seriesName) return f;
    if (f.type === "histogram" && HISTOGRAM_SUFFIXES.some((s) => seriesName === f.name + s)) return f;
  }
  return undefined;
}

export { PROJECT_LABEL };
/** The labels every product series carries. */
export const MODEL_LABEL = "model_name";
export const TIER_LABEL = "service_tier";
export const REQUIRED_LABELS = [PROJECT_LABEL, MODEL_LABEL, TIER_LABEL] as const;
/** `pt` = provisioned throughput; everything else is `on_demand`. */
export const SERVICE_TIERS = ["pt", "on_demand"] as const;
export type ServiceTier = (typeof SERVICE_TIERS)[number];

export const REQUEST_COUNT = "crusoe_inference_request_count";
export const INPUT_TOKEN_COUNT = "crusoe_inference_input_token_count";
export const OUTPUT_TOKEN_COUNT = "crusoe_inference_output_token_count";
export const TTFT_HISTOGRAM = "crusoe_inference_histogram_first_token_latency";
export const TPOT_HISTOGRAM = "crusoe_inference_histogram_output_token_latency";
export const TTFT_QUANTILES = "crusoe_inference_first_token_latency";
export const TPOT_QUANTILES = "crusoe_inference_output_token_latency";
export const REQUEST_ERROR_COUNT = "crusoe_inference_request_error_count";

/**
 * Bucket upper bounds (seconds). TTFT spans a cached 8B model's ~10 ms to a queued 70B model's
 * minute; TPOT spans ~1 ms (small models, fast GPUs) to 2 s (overloaded). Denser than vLLM's
 * defaults where medians usually sit (50 ms–2 s TTFT, 5–100 ms TPOT), so histogram_quantile's
 * linear interpolation stays within a few percent there. +Inf is implied.
 */
export const TTFT_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5,
  7.5, 10, 15, 20, 30, 45, 60,
];
export const TPOT_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.035, 0.04, 0.05, 0.06,
  0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2,
];
