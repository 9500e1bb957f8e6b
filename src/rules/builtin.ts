/**
 * The rules the product needs: the gauges `crusoe_inference_first_token_latency` and
 * `crusoe_inference_output_token_latency` with quantile="0.5"|"0.9"|"0.99" per project, model and
 * tier, from the histograms over the last 5 minutes, every minute. The page's curl example reads
 * the first of them.
 */
import {
  MODEL_LABEL,
  PROJECT_LABEL,
  TIER_LABEL,
  TPOT_HISTOGRAM,
  TPOT_QUANTILES,
  TTFT_HISTOGRAM,
  TTFT_QUANTILES,
} from "../catalog/metrics.js";
import type { RecordingRule, RuleGroup } from "./rule-file.js";

export const BUILTIN_QUANTILES = ["0.5", "0.9", "0.99"] as const;

function quantileRules(record: string, histogram: string): RecordingRule[] {
  const by = `${PROJECT_LABEL}, ${MODEL_LABEL}, ${TIER_LABEL}, le`;
  return BUILTIN_QUANTILES.map((q) => ({
    record,
    expr: `histogram_quantile(${q}, sum by (${by}) (rate(${histogram}_bucket[5m])))`,
    labels: { quantile: q },
  }));
}

export function builtinRuleGroups(intervalMs = 60_000): RuleGroup[] {
  return [
    {
      name: "crusoe_inference_latency_quantiles",
      intervalMs,
      source: "built-in",
      builtin: true,
      rules: [
        ...quantileRules(TTFT_QUANTILES, TTFT_HISTOGRAM),
        ...quantileRules(TPOT_QUANTILES, TPOT_HISTOGRAM),
      ],
    },
  ];
}
