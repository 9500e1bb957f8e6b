/**
 * Result checks, as Prometheus's promqltest runner makes them: values equal within 1e-6 relative
 * error (util/almost.Equal; NaN equals NaN, a stale marker only a stale marker), series matched by
 * exact label set, order checked only for ordered evals, range points compared one by one at
 * start + i·step. Each check returns null when it passes, else a short reason naming the first
 * difference.
 */
import { isStaleNaN, type Labels, labelsKey, METRIC_NAME } from "../../storage/index.js";
import { compareLabels } from "../../storage/labels.js";
import { almostEqual as floatsAlmostEqual } from "../engine/math.js";
import type { MatrixSeries, QueryValue, VectorSample } from "../value.js";
import { formatTimeMs } from "./duration.js";
import { type EvalCommand, type ExpectLine, type ExpectType, isOrdered } from "./script.js";
import type { SequenceValue } from "./series.js";

/** Relative error allowed between sample values. */
export const DEFAULT_EPSILON = 1e-6;

/** Prometheus's almost.Equal, with stale markers equal only to each other. */
export function almostEqual(a: number, b: number, epsilon = DEFAULT_EPSILON): boolean {
  const sa = isStaleNaN(a);
  const sb = isStaleNaN(b);
  if (sa || sb) return sa && sb;
  return floatsAlmostEqual(a, b, epsilon);
}

/** Whether an expected float/stale value matches an actual one. */
export function expectedValueMatches(expected: SequenceValue, actual: number): boolean {
  if (expected.kind === "stale") return isStaleNaN(actual);
  if (expected.kind === "float") return !isStaleNaN(actual) && almostEqual(expected.value, actual);
  return false;
}

export function formatValue(v: number): string {
  if (isStaleNaN(v)) return "stale";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

export function formatSequenceValue(v: SequenceValue): string {
  switch (v.kind) {
    case "omitted":
      return "_";
    case "stale":
      return "stale";
    case "float":
      return formatValue(v.value);
    case "histogram":
      return v.text;
  }
}

/** `name{a="b"}` as Prometheus prints a metric; `{}` for none. */
export function formatMetric(labels: Labels): string {
  let name = "";
  const rest: string[] = [];
  for (const l of labels) {
    if (l.name === METRIC_NAME) name = l.value;
    else
      rest.push(
        `${/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l.name) ? l.name : JSON.stringify(l.name)}=${JSON.stringify(l.value)}`,
      );
  }
  if (name !== "" && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
    rest.unshift(JSON.stringify(name));
    name = "";
  }
  return rest.length === 0 && name !== "" ? name : `${name}{${rest.join(", ")}}`;
}

const LIST_LIMIT = 4;

function listOf<T>(items: readonly T[], show: (x: T) => string): string {
  if (items.length === 0) return "nothing";
  const shown = items.slice(0, LIST_LIMIT).map(show).join(", ");
  return items.length > LIST_LIMIT ? `${shown}, … (${items.length} in all)` : shown;
}

export function describeVector(samples: readonly VectorSample[]): string {
  return listOf(samples, (s) => `${formatMetric(s.metric)} ${formatValue(s.v)}`);
}

export function describeSeries(s: MatrixSeries): string {
  const pts: string[] = [];
  for (let i = 0; i < s.ts.length; i++) pts.push(`${formatValue(s.vs[i])}@${formatTimeMs(s.ts[i])}`);
  return `${formatMetric(s.metric)} [${listOf(pts, (p) => p)}]`;
}

function describeExpected(cmd: EvalCommand): string {
  return listOf(
    cmd.expected,
    (e) => `${formatMetric(e.labels)} ${e.values.map(formatSequenceValue).join(" ")}`,
  );
}

/** Prints any result compactly, for details and messages. */
export function describeValue(value: QueryValue): string {
  switch (value.type) {
    case "scalar":
      return `scalar ${formatValue(value.v)}`;
    case "string":
      return `string ${JSON.stringify(value.v)}`;
    case "vector":
      return `vector of ${value.samples.length}: ${describeVector(value.samples)}`;
    case "matrix":
      return `matrix of ${value.series.length}: ${listOf(value.series, describeSeries)}`;
  }
}

/** Range results must be sorted by labels (Prometheus's assertMatrixSorted). */
export function assertMatrixSorted(series: readonly MatrixSeries[]): string | null {
  for (let i = 0; i + 1 < series.length; i++) {
    if (compareLabels(series[i].metric, series[i + 1].metric) > 0) {
      return (
        `matrix results should always be sorted by labels, but ${formatMetric(series[i + 1].metric)} ` +
        `(index ${i + 1}) sorts before ${formatMetric(series[i].metric)} (index ${i})`
      );
    }
  }
  return null;
}

/** Compares a query's value with the eval's expected result lines. */
export function compareResult(cmd: EvalCommand, value: QueryValue): string | null {
  switch (value.type) {
    case "matrix":
      return compareMatrix(cmd, value.series);
    case "vector":
      return compareVector(cmd, value.samples);
    case "scalar":
      if (!cmd.expectScalar) {
        return `expected ${cmd.expected.length} series (a vector or matrix), but got scalar ${formatValue(value.v)}`;
      }
      if (!almostEqual(cmd.expectedScalar!, value.v)) {
        return `expected scalar ${formatValue(cmd.expectedScalar!)} but got ${formatValue(value.v)}`;
      }
      return null;
    case "string": {
      const want = cmd.expectedString ?? "";
      return want === value.v
        ? null
        : `expected string ${JSON.stringify(want)} but got ${JSON.stringify(value.v)}`;
    }
  }
}

function expectedByKey(cmd: EvalCommand): Map<string, EvalCommand["expected"][number]> {
  const map = new Map<string, EvalCommand["expected"][number]>();
  for (const e of cmd.expected) map.set(labelsKey(e.labels), e);
  return map;
}

function compareVector(cmd: EvalCommand, samples: readonly VectorSample[]): string | null {
  if (cmd.expectScalar) {
    return `expected scalar ${formatValue(cmd.expectedScalar!)}, but got vector of ${samples.length}: ${describeVector(samples)}`;
  }
  const expected = expectedByKey(cmd);
  const seen = new Set<string>();
  const ordered = isOrdered(cmd);
  const context = () => ` (got ${describeVector(samples)}; expected ${describeExpected(cmd)})`;
  for (let pos = 0; pos < samples.length; pos++) {
    const s = samples[pos];
    const key = labelsKey(s.metric);
    const exp = expected.get(key);
    if (exp === undefined) {
      return `unexpected metric ${formatMetric(s.metric)} in result, has value ${formatValue(s.v)}${context()}`;
    }
    if (ordered && exp.pos !== pos + 1) {
      return `expected metric ${formatMetric(s.metric)} at position ${exp.pos} but it was at ${pos + 1}${context()}`;
    }
    const want = exp.values[0];
    if (want === undefined || want.kind === "omitted") {
      return `expected no value for ${formatMetric(s.metric)} but got ${formatValue(s.v)}`;
    }
    if (want.kind === "histogram") {
      return `expected histogram ${want.text} for ${formatMetric(s.metric)} but got float value ${formatValue(s.v)}`;
    }
    if (!expectedValueMatches(want, s.v)) {
      return `expected ${formatSequenceValue(want)} for ${formatMetric(s.metric)} but got ${formatValue(s.v)}`;
    }
    seen.add(key);
  }
  for (const [key, exp] of expected) {
    if (!seen.has(key)) {
      return `expected metric ${formatMetric(exp.labels)} with ${exp.values.map(formatSequenceValue).join(" ")} not found${context()}`;
    }
  }
  return null;
}

function compareMatrix(cmd: EvalCommand, series: readonly MatrixSeries[]): string | null {
  if (isOrdered(cmd)) return "expected ordered result, but query returned a matrix";
  if (cmd.expectScalar) return `expected scalar result, but got matrix of ${series.length} series`;
  const sorted = assertMatrixSorted(series);
  if (sorted) return sorted;
  const expected = expectedByKey(cmd);
  const seen = new Set<string>();
  for (const s of series) {
    const key = labelsKey(s.metric);
    const exp = expected.get(key);
    if (exp === undefined) return `unexpected metric ${describeSeries(s)} in result`;
    seen.add(key);
    const wantT: number[] = [];
    const want: SequenceValue[] = [];
    let histograms = 0;
    for (let i = 0; i < exp.values.length; i++) {
      const t = cmd.startMs + i * cmd.stepMs;
      if (t > cmd.endMs) {
        return `expected ${exp.values.length} points for ${formatMetric(exp.labels)}, but query time range cannot return this many points`;
      }
      const v = exp.values[i];
      if (v.kind === "histogram") histograms++;
      else if (v.kind !== "omitted") {
        wantT.push(t);
        want.push(v);
      }
    }
    if (want.length !== s.ts.length || histograms > 0) {
      const expectedPts = want.map((v, i) => `${formatSequenceValue(v)}@${formatTimeMs(wantT[i])}`);
      return (
        `expected ${want.length} float points and ${histograms} histogram points for ${formatMetric(exp.labels)}, ` +
        `but got ${s.ts.length} float points: got ${describeSeries(s)}; expected [${listOf(expectedPts, (p) => p)}]`
      );
    }
    for (let i = 0; i < want.length; i++) {
      if (s.ts[i] !== wantT[i]) {
        return (
          `expected point ${i} of ${formatMetric(exp.labels)} at ${formatTimeMs(wantT[i])}, but it was at ` +
          `${formatTimeMs(s.ts[i])} (got ${describeSeries(s)})`
        );
      }
      if (!expectedValueMatches(want[i], s.vs[i])) {
        return (
          `expected ${formatSequenceValue(want[i])} at ${formatTimeMs(wantT[i])} (index ${i}) for ` +
          `${formatMetric(exp.labels)} but got ${formatValue(s.vs[i])} (got ${describeSeries(s)})`
        );
      }
    }
  }
  for (const [key, exp] of expected) {
    if (!seen.has(key)) {
      return `expected metric ${formatMetric(exp.labels)} not found (got ${series.length} series: ${listOf(series, describeSeries)})`;
    }
  }
  return null;
}

function expectsOf(cmd: EvalCommand, type: ExpectType): ExpectLine[] {
  return cmd.expects.filter((e) => e.type === type);
}

/** Whether an expect line accepts a text (exact message, or unanchored regex). */
export function expectMatches(e: ExpectLine, text: string): boolean {
  if (e.regex !== undefined) return e.regex.test(text);
  return e.message === text;
}

function describeExpect(e: ExpectLine): string {
  return e.regex !== undefined
    ? `pattern ${JSON.stringify(e.regexSource)}`
    : `message ${JSON.stringify(e.message)}`;
}

function validateAnnotationsOfType(
  expectations: readonly ExpectLine[],
  actual: readonly string[],
  type: string,
): string | null {
  if (expectations.length === 0) return null;
  if (actual.length === 0) return `expected ${type} annotations but none were found`;
  for (const e of expectations) {
    if (!actual.some((a) => expectMatches(e, a))) {
      return `expected ${type} annotation matching ${describeExpect(e)} but found ${listOf(actual, (a) => JSON.stringify(a))}`;
    }
  }
  for (const a of actual) {
    if (!expectations.some((e) => expectMatches(e, a)))
      return `unexpected ${type} annotation ${JSON.stringify(a)}`;
  }
  return null;
}

/**
 * Annotation expectations (Prometheus ≥ 3.3): eval_warn / eval_info need at least one warning /
 * info; `expect warn|info` lines must each match an annotation of their type and every annotation
 * of that type must match one of them; `expect no_warn|no_info` forbid that type. A plain eval
 * checks nothing.
 */
export function checkAnnotations(
  cmd: EvalCommand,
  warnings: readonly string[],
  infos: readonly string[],
): string | null {
  if (cmd.modifier === "warn" && warnings.length === 0) return "expected warnings but got none";
  if (cmd.modifier === "info" && infos.length === 0) return "expected info annotations but got none";
  const w = validateAnnotationsOfType(expectsOf(cmd, "warn"), warnings, "warn");
  if (w) return w;
  const i = validateAnnotationsOfType(expectsOf(cmd, "info"), infos, "info");
  if (i) return i;
  if (expectsOf(cmd, "no_warn").length > 0 && warnings.length > 0) {
    return `unexpected warning annotations: ${listOf(warnings, (a) => JSON.stringify(a))}`;
  }
  if (expectsOf(cmd, "no_info").length > 0 && infos.length > 0) {
    return `unexpected info annotations: ${listOf(infos, (a) => JSON.stringify(a))}`;
  }
  return null;
}

/** For evals that must fail: checks the error text against expected_fail_* and `expect fail` lines. */
export function checkExpectedFailure(cmd: EvalCommand, errorText: string): string | null {
  if (cmd.expectedFailMessage !== undefined && cmd.expectedFailMessage !== "") {
    if (cmd.expectedFailMessage !== errorText) {
      return `expected error ${JSON.stringify(cmd.expectedFailMessage)}, but got: ${errorText}`;
    }
  }
  if (cmd.expectedFailRegexp !== undefined && !cmd.expectedFailRegexp.regex.test(errorText)) {
    return `expected error matching pattern ${JSON.stringify(cmd.expectedFailRegexp.source)}, but got: ${errorText}`;
  }
  const fail = expectsOf(cmd, "fail")[0];
  if (fail !== undefined && !expectMatches(fail, errorText)) {
    return `expected error matching ${describeExpect(fail)}, but got: ${errorText}`;
  }
  return null;
}

/** The samples of a range result at time t, as an instant vector (for the range-mode check). */
export function vectorAt(series: readonly MatrixSeries[], t: number): VectorSample[] {
  const out: VectorSample[] = [];
  for (const s of series) {
    for (let i = 0; i < s.ts.length; i++) {
      if (s.ts[i] === t) {
        out.push({ metric: s.metric, t, v: s.vs[i] });
        break;
      }
    }
  }
  return out;
}
