/**
 * Native histograms are not supported by this engine, so evals that need them are skipped, each with
 * a precise reason. An eval is skipped when
 *   - an expected result line holds a native-histogram value (`{{…}}`), or
 *   - one of the query's selectors matches a series that was loaded (since the last `clear`) with
 *     native-histogram samples, or that `load_with_nhcb` creates by converting classic histogram
 *     series (`foo_bucket`/`foo_sum`/`foo_count` → `foo` with custom buckets).
 * Everything else runs, including the classic `_bucket` series of a `load_with_nhcb` block, which
 * Prometheus loads as ordinary floats as well.
 */
import { getLabel, type Label, type Labels, labelsKey, METRIC_NAME } from "../../storage/index.js";
import { formatMetric } from "./compare.js";
import { parseGoFloat } from "./literals.js";
import type { EvalCommand, LoadCommand } from "./script.js";
import { extractSelectors, selectorMatches } from "./selectors.js";
import { hasHistogramValues } from "./series.js";

export interface LoadedSeriesInfo {
  readonly labels: Labels;
  /** Holds native-histogram samples (written as `{{…}}` or made by load_with_nhcb). */
  histogram: boolean;
  /** How the histogram samples came to be, for skip reasons. */
  origin: string;
}

/** The series loaded since the last `clear`, to tell which ones a query may touch. */
export class LoadedSeriesIndex {
  private readonly byKey = new Map<string, LoadedSeriesInfo>();

  clear(): void {
    this.byKey.clear();
  }

  /** Records a load command's series (and, for load_with_nhcb, the native histograms it creates). */
  addLoad(cmd: LoadCommand): void {
    for (const s of cmd.series) {
      const histogram = hasHistogramValues(s.values);
      this.add(s.labels, histogram, histogram ? `loaded with native-histogram values at line ${s.line}` : "");
    }
    if (cmd.withNhcb) {
      for (const s of cmd.series) {
        const base = nhcbBaseLabels(s.labels);
        if (base) this.add(base, true, `converted by load_with_nhcb at line ${cmd.line}`);
      }
    }
  }

  private add(labels: Labels, histogram: boolean, origin: string): void {
    const key = labelsKey(labels);
    const prev = this.byKey.get(key);
    if (prev === undefined) this.byKey.set(key, { labels, histogram, origin });
    else if (histogram && !prev.histogram) {
      prev.histogram = true;
      prev.origin = origin;
    }
  }

  histogramSeries(): LoadedSeriesInfo[] {
    return [...this.byKey.values()].filter((s) => s.histogram);
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * The native histogram series load_with_nhcb makes from a classic series: `x_bucket{le=…}`,
 * `x_count`, `x_sum` → `x` without `le`. Null for other series (and for buckets whose `le` is
 * missing or NaN, which Prometheus leaves out).
 */
export function nhcbBaseLabels(labels: Labels): Labels | null {
  const name = getLabel(labels, METRIC_NAME);
  let base: string | null = null;
  for (const suffix of ["_bucket", "_count", "_sum"]) {
    if (name.endsWith(suffix) && name.length > suffix.length) {
      if (suffix === "_bucket") {
        const le = parseGoFloat(getLabel(labels, "le"));
        if (le === undefined || Number.isNaN(le)) return null;
      }
      base = name.slice(0, -suffix.length);
      break;
    }
  }
  if (base === null) return null;
  const out: Label[] = [];
  for (const l of labels) {
    if (l.name === "le") continue;
    out.push(l.name === METRIC_NAME ? { name: METRIC_NAME, value: base } : l);
  }
  return out;
}

/** Why an eval must be skipped for needing native histograms, or null when it can run. */
export function nativeHistogramSkipReason(cmd: EvalCommand, loaded: LoadedSeriesIndex): string | null {
  for (const e of cmd.expected) {
    if (hasHistogramValues(e.values)) {
      return `native histograms: expected result at line ${e.line} has a native-histogram value`;
    }
  }
  const histograms = loaded.histogramSeries();
  if (histograms.length === 0) return null;
  for (const sel of extractSelectors(cmd.expr)) {
    if (sel.matchers === null) continue;
    const matchers = sel.matchers;
    const hits = histograms.filter((s) => selectorMatches(matchers, (n) => getLabel(s.labels, n)));
    if (hits.length > 0) {
      const more = hits.length > 1 ? ` and ${hits.length - 1} more` : "";
      return `native histograms: ${sel.text} selects ${formatMetric(hits[0].labels)}${more} (${hits[0].origin})`;
    }
  }
  return null;
}
