/** Label-set operations the evaluator needs; label sets stay sorted and without empty values. */
import { type Label, type Labels, labelsKey, METRIC_NAME } from "../../storage/index.js";

/** Labels that go with the metric name: Prometheus 3 drops type and unit together with it. */
const NAME_LABELS = new Set([METRIC_NAME, "__type__", "__unit__"]);

export function dropMetricName(labels: Labels): Labels {
  if (!labels.some((l) => NAME_LABELS.has(l.name))) return labels;
  return labels.filter((l) => !NAME_LABELS.has(l.name));
}

/** Sets (or, for "", removes) one label. */
export function withLabel(labels: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let done = false;
  for (const l of labels) {
    if (!done && l.name >= name) {
      done = true;
      if (value !== "") out.push({ name, value });
      if (l.name === name) continue;
    }
    out.push(l);
  }
  if (!done && value !== "") out.push({ name, value });
  return out;
}

export function keepOnly(labels: Labels, names: ReadonlySet<string>): Labels {
  return labels.filter((l) => names.has(l.name));
}

export function without(labels: Labels, names: ReadonlySet<string>): Labels {
  return labels.filter((l) => !names.has(l.name));
}

/** A key identifying a label set (exact). */
export function keyOf(labels: Labels): string {
  return labelsKey(labels);
}

/** Key of the labels selected by `on (names)` or, with `on` false, all but `ignoring (names)` and the name. */
export function matchKey(labels: Labels, on: boolean, names: ReadonlySet<string>): string {
  let key = "";
  for (const l of labels) {
    const take = on ? names.has(l.name) : !names.has(l.name) && l.name !== METRIC_NAME;
    if (take) key += `${l.name.length}:${l.name}${l.value.length}:${l.value}`;
  }
  return key;
}

/** Prometheus's Labels.String(): {a="b", c="d"} with the name first when present. */
export function formatMetricLabels(labels: Labels): string {
  return `{${labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(", ")}}`;
}
