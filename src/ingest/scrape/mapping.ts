/**
 * From what a target exposes to the product's series (src/catalog/metrics.ts). Two sources:
 *
 * - vLLM's engine metrics, renamed: `vllm:request_success_total` (all `finished_reason`s),
 *   `vllm:prompt_tokens_total`, `vllm:generation_tokens_total`, `vllm:time_to_first_token_seconds`
 *   and, for TPOT, `vllm:inter_token_latency_seconds` or its older name
 *   `vllm:time_per_output_token_seconds` (vLLM ≤ 0.10; the same per-token measurement). vLLM's
 *   own `le` bounds are kept: re-bucketing would invent data.
 * - The product's own names (another gateway, a collector), passed through after a label check.
 *
 * Output series carry exactly `project_id`, `model_name`, `service_tier` (and `le` on buckets).
 * Every other label (vLLM's `engine`, `finished_reason`, …) is summed away, which is sound for
 * counters and cumulative buckets. Everything else a target exposes is dropped and counted.
 */
import {
  INPUT_TOKEN_COUNT,
  MODEL_LABEL,
  OUTPUT_TOKEN_COUNT,
  PROJECT_LABEL,
  REQUEST_COUNT,
  type ServiceTier,
  TIER_LABEL,
  TPOT_HISTOGRAM,
  TPOT_QUANTILES,
  TTFT_HISTOGRAM,
  TTFT_QUANTILES,
} from "../../catalog/metrics.js";
import { type Label, type Labels, labelsKey, METRIC_NAME, normalizeLabels } from "../../storage/labels.js";
import type { ExposedSample } from "./exposition.js";

/** What the scrape config says about a target's series. */
export interface TargetLabels {
  project_id: string;
  service_tier: ServiceTier;
  /** Replaces the exposed `model_name` when set. */
  model_name?: string | undefined;
}

export interface MappedSample {
  /** Normalised (sorted) labels including `__name__`. */
  readonly labels: Labels;
  readonly value: number;
  /** Exposed timestamp (ms) when every summed input had one; otherwise the scrape's time applies. */
  readonly timestampMs: number | undefined;
}

export type DropReason =
  /** Not a metric the product stores (gauges, other histograms, process metrics, …). */
  | "unmapped"
  /** Neither the series nor the target config names the model. */
  | "no_model_name"
  /** A histogram bucket without `le`. */
  | "no_le"
  /** A product-named series whose `project_id` is not the target's: never written elsewhere. */
  | "foreign_project"
  /** A product-named series whose `service_tier` is not the target's. */
  | "tier_mismatch"
  /** The same series twice in one exposition. */
  | "duplicate"
  /** `vllm:time_per_output_token_seconds` when `vllm:inter_token_latency_seconds` is exposed too. */
  | "superseded"
  /** The quantile gauges: this service's recording rules compute them from the histograms. */
  | "computed_by_rules"
  | "invalid_labels";

export interface MappingResult {
  readonly samples: MappedSample[];
  /** Input samples not stored (the sum of `droppedByReason`). */
  readonly dropped: number;
  readonly droppedByReason: Partial<Record<DropReason, number>>;
}

type Part = "" | "_bucket" | "_sum" | "_count";

interface Rule {
  /** Output name. */
  to: string;
  /** True for the product's own names: the project and tier labels are checked, not ignored. */
  native: boolean;
}

const ITL = "vllm:inter_token_latency_seconds";
const LEGACY_TPOT = "vllm:time_per_output_token_seconds";

const RULES: ReadonlyMap<string, Rule> = (() => {
  const m = new Map<string, Rule>();
  const histogram = (from: string, to: string, native: boolean) => {
    for (const part of ["_bucket", "_sum", "_count"] as const) m.set(from + part, { to: to + part, native });
  };
  m.set("vllm:request_success_total", { to: REQUEST_COUNT, native: false });
  m.set("vllm:prompt_tokens_total", { to: INPUT_TOKEN_COUNT, native: false });
  m.set("vllm:generation_tokens_total", { to: OUTPUT_TOKEN_COUNT, native: false });
  histogram("vllm:time_to_first_token_seconds", TTFT_HISTOGRAM, false);
  histogram(ITL, TPOT_HISTOGRAM, false);
  histogram(LEGACY_TPOT, TPOT_HISTOGRAM, false);
  for (const counter of [REQUEST_COUNT, INPUT_TOKEN_COUNT, OUTPUT_TOKEN_COUNT]) {
    m.set(counter, { to: counter, native: true });
    // An OpenMetrics exposition of the same counter names its sample `<name>_total`.
    m.set(`${counter}_total`, { to: counter, native: true });
  }
  histogram(TTFT_HISTOGRAM, TTFT_HISTOGRAM, true);
  histogram(TPOT_HISTOGRAM, TPOT_HISTOGRAM, true);
  return m;
})();

const RULE_COMPUTED = new Set([TTFT_QUANTILES, TPOT_QUANTILES]);

function part(name: string): Part {
  if (name.endsWith("_bucket")) return "_bucket";
  if (name.endsWith("_sum")) return "_sum";
  if (name.endsWith("_count")) return "_count";
  return "";
}

function label(labels: readonly Label[], name: string): string | undefined {
  for (const l of labels) if (l.name === name) return l.value;
  return undefined;
}

interface Group {
  labels: Labels;
  value: number;
  /** Largest exposed timestamp, or NaN once an input without one was summed in. */
  ts: number;
}

/** Maps one parsed exposition for one target. Pure: the same input gives the same output. */
export function mapExposition(samples: readonly ExposedSample[], target: TargetLabels): MappingResult {
  const droppedByReason: Partial<Record<DropReason, number>> = {};
  let dropped = 0;
  const drop = (reason: DropReason) => {
    droppedByReason[reason] = (droppedByReason[reason] ?? 0) + 1;
    dropped++;
  };
  // Newer vLLM (0.11) exposes both names for one release with the same data; count it once.
  const hasItl = samples.some((s) => s.name.startsWith(ITL) && RULES.has(s.name));
  const groups = new Map<string, Group>();
  const inputs = new Set<string>();

  for (const s of samples) {
    const rule = RULES.get(s.name);
    if (rule === undefined) {
      drop(RULE_COMPUTED.has(s.name) ? "computed_by_rules" : "unmapped");
      continue;
    }
    if (hasItl && s.name.startsWith(LEGACY_TPOT)) {
      drop("superseded");
      continue;
    }
    if (rule.native) {
      const project = label(s.labels, PROJECT_LABEL);
      if (project !== undefined && project !== "" && project !== target.project_id) {
        drop("foreign_project");
        continue;
      }
      const tier = label(s.labels, TIER_LABEL);
      if (tier !== undefined && tier !== "" && tier !== target.service_tier) {
        drop("tier_mismatch");
        continue;
      }
    }
    const model = target.model_name ?? label(s.labels, MODEL_LABEL) ?? "";
    if (model === "") {
      drop("no_model_name");
      continue;
    }
    const isBucket = part(rule.to) === "_bucket";
    const le = isBucket ? (label(s.labels, "le") ?? "") : "";
    if (isBucket && le === "") {
      drop("no_le");
      continue;
    }
    let inputKey: string;
    try {
      inputKey = s.name + labelsKey(normalizeLabels(s.labels.concat({ name: METRIC_NAME, value: s.name })));
    } catch {
      drop("invalid_labels");
      continue;
    }
    if (inputs.has(inputKey)) {
      drop("duplicate");
      continue;
    }
    inputs.add(inputKey);
    const key = `${rule.to}\u0000${model}\u0000${le}`;
    const g = groups.get(key);
    const ts = s.timestampMs ?? Number.NaN;
    if (g !== undefined) {
      g.value += s.value;
      g.ts = Number.isNaN(g.ts) || Number.isNaN(ts) ? Number.NaN : Math.max(g.ts, ts);
      continue;
    }
    const out: Label[] = [
      { name: METRIC_NAME, value: rule.to },
      { name: MODEL_LABEL, value: model },
      { name: PROJECT_LABEL, value: target.project_id },
      { name: TIER_LABEL, value: target.service_tier },
    ];
    if (isBucket) out.push({ name: "le", value: le });
    let labels: Labels;
    try {
      labels = normalizeLabels(out);
    } catch {
      drop("invalid_labels");
      continue;
    }
    groups.set(key, { labels, value: s.value, ts });
  }

  const result: MappedSample[] = [];
  for (const g of groups.values()) {
    result.push({ labels: g.labels, value: g.value, timestampMs: Number.isNaN(g.ts) ? undefined : g.ts });
  }
  return { samples: result, dropped, droppedByReason };
}
