/**
 * What every stored series must satisfy, whoever sends it: a `project_id` (series without one could
 * never be read, since every read is scoped to a project), the writer's project when its token is
 * bound to one, and for the product's own families (`crusoe_inference_*`) a model name and a valid
 * service tier, so the page's queries and the Grafana dashboard can rely on them.
 */
import { MODEL_LABEL, PROJECT_LABEL, SERVICE_TIERS, TIER_LABEL } from "../catalog/metrics.js";
import { formatLabels, getLabel, type Labels } from "../storage/index.js";

/** A writer's project, or "*" when it may write any project. */
export type WriteScope = string;

const PRODUCT_PREFIX = "crusoe_inference_";
const TIERS: ReadonlySet<string> = new Set(SERVICE_TIERS);

/** Why a series may not be stored, or null when it may. `labels` are normalized. */
export function rejectSeries(labels: Labels, scope: WriteScope): string | null {
  const project = getLabel(labels, PROJECT_LABEL);
  if (project === "") return `series ${formatLabels(labels)} has no ${PROJECT_LABEL} label`;
  if (scope !== "*" && project !== scope) {
    return `series ${formatLabels(labels)} belongs to project ${JSON.stringify(project)}; this token writes only ${JSON.stringify(scope)}`;
  }
  if (getLabel(labels, "__name__").startsWith(PRODUCT_PREFIX)) {
    if (getLabel(labels, MODEL_LABEL) === "") {
      return `series ${formatLabels(labels)} has no ${MODEL_LABEL} label (required on crusoe_inference_* series)`;
    }
    const tier = getLabel(labels, TIER_LABEL);
    if (!TIERS.has(tier)) {
      return `series ${formatLabels(labels)} has ${TIER_LABEL}=${JSON.stringify(tier)}; it must be one of ${SERVICE_TIERS.join(", ")}`;
    }
  }
  return null;
}
