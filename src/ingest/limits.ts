/**
 * The bounds a tenant's writes are held to, after Mimir's (same names' meaning, same defaults):
 * how far ahead of the server's clock a sample may be, how long a label name and value may be,
 * how many labels a series may carry, and how many active series a project may have. They hold on
 * the routes a tenant writes through (remote-write); the gateway's and scrape's series are the
 * operator's own and are shaped by code, not by a tenant.
 */
import type { Labels } from "../storage/index.js";

export interface IngestLimits {
  /** Newest a sample may be, in ms past the server's clock (0 = no bound). Mimir: creation_grace_period. */
  maxFutureMs: number;
  /** Longest label name, in UTF-16 code units (0 = no bound). Mimir: max_label_name_length. */
  maxLabelNameLength: number;
  /** Longest label value (0 = no bound). Mimir: max_label_value_length. */
  maxLabelValueLength: number;
  /** Most labels on one series, `__name__` included (0 = no bound). Mimir: max_label_names_per_series. */
  maxLabelsPerSeries: number;
  /** Most series a project may have written in the last active window (0 = no cap). Mimir: max_global_series_per_user. */
  maxSeriesPerProject: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxFutureMs: 10 * 60_000,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxLabelsPerSeries: 30,
  maxSeriesPerProject: 150_000,
};

/** Why a limit refused a sample: the `reason` of mim_ingest_refused_samples_total. */
export type IngestRefusal =
  | "too_far_in_future"
  | "label_name_too_long"
  | "label_value_too_long"
  | "too_many_labels"
  | "series_limit";

export interface SeriesRefusal {
  reason: IngestRefusal;
  message: string;
}

/** Shortens a value for an error message: the message must not carry a 15 MB label back. */
function clip(s: string): string {
  return s.length <= 64 ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, 64))}…`;
}

/** The first label bound a series breaks, or null. */
export function refuseSeriesShape(labels: Labels, limits: IngestLimits): SeriesRefusal | null {
  if (limits.maxLabelsPerSeries > 0 && labels.length > limits.maxLabelsPerSeries) {
    return {
      reason: "too_many_labels",
      message: `series ${clipLabels(labels)} has ${labels.length} labels; the limit is ${limits.maxLabelsPerSeries} (--ingest-max-labels-per-series)`,
    };
  }
  for (const l of labels) {
    if (limits.maxLabelNameLength > 0 && l.name.length > limits.maxLabelNameLength) {
      return {
        reason: "label_name_too_long",
        message: `label name ${clip(l.name)} is ${l.name.length} characters long; the limit is ${limits.maxLabelNameLength} (--ingest-max-label-name-length)`,
      };
    }
    if (limits.maxLabelValueLength > 0 && l.value.length > limits.maxLabelValueLength) {
      return {
        reason: "label_value_too_long",
        message: `value of label ${clip(l.name)} (${clip(l.value)}) is ${l.value.length} characters long; the limit is ${limits.maxLabelValueLength} (--ingest-max-label-value-length)`,
      };
    }
  }
  return null;
}

/** A series in an error message, names and values clipped, at most 12 labels. */
export function clipLabels(labels: Labels): string {
  const shown = labels
    .slice(0, 12)
    .map((l) => `${l.name.length > 64 ? `${l.name.slice(0, 64)}…` : l.name}=${clip(l.value)}`);
  if (labels.length > 12) shown.push(`… ${labels.length - 12} more`);
  return `{${shown.join(", ")}}`;
}
