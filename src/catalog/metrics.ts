/**
 * The product's metric families: names, types and help texts (../shared/SPEC.md). The query API's
 * /metadata serves them; producers (gateway, rules) use the same names.
 */
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
