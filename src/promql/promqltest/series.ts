/**
 * The series notation of load blocks and expected results (Prometheus's ParseSeriesDesc):
 *
 *   metric{label="value", "utf8.name"="v"}  0+10x3 _ _x2 stale 1e3 -Inf {{schema:0 sum:1 count:1}}
 *
 * A metric is a name and/or a brace block; a bare quoted string in the braces is the metric name.
 * Values expand as in Prometheus's grammar:
 *   `_` one missing sample; `_xN` N missing samples;
 *   `v` one sample; `vxN` N+1 copies; `v+dxN` / `v-dxN` N+1 samples, adding d each time;
 *   `stale` a staleness marker; `Inf`, `-Inf`, `NaN` in any case; no hexadecimal (`0x3` is `0` ×4).
 * Native-histogram values `{{…}}` (also `{{…}}xN`, `{{…}}+{{…}}xN`) are kept as opaque text: this
 * runner does not evaluate them, it only needs to know where they are.
 */
import { compareStrings, type Label, type Labels, METRIC_NAME } from "../../storage/index.js";
import { readStringLiteral } from "./literals.js";

export type SequenceValue =
  | { readonly kind: "omitted" }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "stale" }
  | { readonly kind: "histogram"; readonly text: string };

export interface SeriesDesc {
  /** Sorted by name; empty for `{}`. Labels with empty values are dropped (they mean "no label"). */
  readonly labels: Labels;
  readonly values: readonly SequenceValue[];
}

export class SeriesParseError extends Error {
  override readonly name = "SeriesParseError";
}

const METRIC_NAME_RE = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME_RE = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const NUM = String.raw`(?:inf|nan|\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)`;
const ITEM_RE = new RegExp(`^([+-]?${NUM})(?:([+-])(${NUM}))?(?:x(\\d+))?$`, "i");
const BLANK_RE = /^_(?:x(\d+))?$/;
/** Upper bound on one item's expansion, so a typo cannot exhaust memory. */
const MAX_REPEAT = 1_000_000;

/** Parses a whole series line: labels, then values. */
export function parseSeriesDesc(line: string): SeriesDesc {
  const { labels, end } = parseMetric(line, 0);
  return { labels, values: parseSequence(line.slice(end)) };
}

/** Parses `name{…}`, `name` or `{…}` at `start`; returns the labels and the index after them. */
export function parseMetric(text: string, start: number): { labels: Labels; end: number } {
  let i = skipSpace(text, start);
  const out: Label[] = [];
  METRIC_NAME_RE.lastIndex = i;
  const name = METRIC_NAME_RE.exec(text);
  if (name) {
    out.push({ name: METRIC_NAME, value: name[0] });
    i = METRIC_NAME_RE.lastIndex;
    const j = skipSpace(text, i);
    if (text[j] === "{" && text[j + 1] !== "{") i = parseBraces(text, j, out);
  } else if (text[i] === "{" && text[i + 1] !== "{") {
    i = parseBraces(text, i, out);
  } else {
    throw new SeriesParseError(`expected a metric name or "{" at column ${i + 1}`);
  }
  return { labels: finishLabels(out), end: i };
}

function parseBraces(text: string, open: number, out: Label[]): number {
  let i = open + 1;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === "}") return i + 1;
    let name: string;
    let quotedName = false;
    if (text[i] === '"' || text[i] === "'" || text[i] === "`") {
      const s = readLiteral(text, i);
      name = s.value;
      i = s.end;
      quotedName = true;
    } else {
      LABEL_NAME_RE.lastIndex = i;
      const m = LABEL_NAME_RE.exec(text);
      if (!m) throw new SeriesParseError(`expected a label name at column ${i + 1}`);
      name = m[0];
      i = LABEL_NAME_RE.lastIndex;
    }
    i = skipSpace(text, i);
    if (quotedName && (text[i] === "," || text[i] === "}")) {
      // `{"metric.name", …}`: a quoted string on its own is the metric name.
      out.push({ name: METRIC_NAME, value: name });
    } else {
      if (text[i] !== "=" || text[i + 1] === "~") {
        throw new SeriesParseError(`expected "=" after label ${JSON.stringify(name)} at column ${i + 1}`);
      }
      i = skipSpace(text, i + 1);
      const v = readLiteral(text, i);
      out.push({ name, value: v.value });
      i = v.end;
    }
    i = skipSpace(text, i);
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new SeriesParseError(`expected "," or "}" at column ${i + 1}`);
  }
}

function readLiteral(text: string, i: number): { value: string; end: number } {
  try {
    return readStringLiteral(text, i);
  } catch (err) {
    throw new SeriesParseError((err as Error).message);
  }
}

function finishLabels(input: Label[]): Labels {
  const sorted = input.filter((l) => l.value !== "").sort((a, b) => compareStrings(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].name === sorted[i - 1].name) {
      throw new SeriesParseError(`label ${JSON.stringify(sorted[i].name)} given twice`);
    }
  }
  return sorted;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  return i;
}

/** Expands the value part of a series line. */
export function parseSequence(text: string): SequenceValue[] {
  const out: SequenceValue[] = [];
  let i = skipSpace(text, 0);
  while (i < text.length) {
    if (text.startsWith("{{", i)) {
      i = readHistogramItem(text, i, out);
    } else {
      let j = i;
      while (j < text.length && text[j] !== " " && text[j] !== "\t") j++;
      expandItem(text.slice(i, j), out);
      i = j;
    }
    i = skipSpace(text, i);
  }
  return out;
}

function expandItem(item: string, out: SequenceValue[]): void {
  const blank = BLANK_RE.exec(item);
  if (blank) {
    const n = blank[1] === undefined ? 1 : repeatCount(blank[1], item);
    for (let k = 0; k < n; k++) out.push({ kind: "omitted" });
    return;
  }
  if (item === "stale") {
    out.push({ kind: "stale" });
    return;
  }
  const m = ITEM_RE.exec(item);
  if (!m)
    throw new SeriesParseError(`invalid series value ${JSON.stringify(item)}: want a number, "_" or "stale"`);
  let value = parseFloatToken(m[1]);
  if (m[2] !== undefined && m[4] === undefined) {
    throw new SeriesParseError(`invalid series value ${JSON.stringify(item)}: a step needs "x<count>"`);
  }
  if (m[4] === undefined) {
    out.push({ kind: "float", value });
    return;
  }
  const n = repeatCount(m[4], item);
  const step = m[2] === undefined ? 0 : parseFloatToken(m[2] + m[3]);
  // Accumulate as Prometheus does (value += step), not value + i*step: rounding may differ.
  for (let k = 0; k <= n; k++) {
    out.push({ kind: "float", value });
    value += step;
  }
}

function parseFloatToken(s: string): number {
  const lower = s.toLowerCase();
  const sign = lower.startsWith("-") ? -1 : 1;
  const body = lower.replace(/^[+-]/, "");
  if (body === "inf") return sign * Number.POSITIVE_INFINITY;
  if (body === "nan") return Number.NaN;
  return Number(s);
}

function repeatCount(digits: string, item: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n > MAX_REPEAT) {
    throw new SeriesParseError(`repeat count in ${JSON.stringify(item)} is too large`);
  }
  return n;
}

/** `{{…}}`, optionally followed by `xN` or `+{{…}}xN` / `-{{…}}xN`. */
function readHistogramItem(text: string, i: number, out: SequenceValue[]): number {
  const first = readHistogramLiteral(text, i);
  let j = first.end;
  if (text[j] === "x") {
    const m = /^x(\d+)/.exec(text.slice(j));
    if (!m) throw new SeriesParseError(`expected a repeat count after histogram at column ${j + 1}`);
    const n = repeatCount(m[1], m[0]);
    for (let k = 0; k <= n; k++) out.push({ kind: "histogram", text: first.text });
    return j + m[0].length;
  }
  if ((text[j] === "+" || text[j] === "-") && text.startsWith("{{", j + 1)) {
    const step = readHistogramLiteral(text, j + 1);
    j = step.end;
    const m = /^x(\d+)/.exec(text.slice(j));
    if (!m) throw new SeriesParseError(`expected "x<count>" after histogram step at column ${j + 1}`);
    const n = repeatCount(m[1], m[0]);
    const desc = `${first.text}${text[first.end]}${step.text}`;
    for (let k = 0; k <= n; k++) out.push({ kind: "histogram", text: `${desc} #${k}` });
    return j + m[0].length;
  }
  out.push({ kind: "histogram", text: first.text });
  return j;
}

function readHistogramLiteral(text: string, i: number): { text: string; end: number } {
  const close = text.indexOf("}}", i + 2);
  if (close < 0) throw new SeriesParseError(`unterminated native histogram at column ${i + 1}`);
  return { text: text.slice(i, close + 2), end: close + 2 };
}

/** True when any value is a native histogram. */
export function hasHistogramValues(values: readonly SequenceValue[]): boolean {
  return values.some((v) => v.kind === "histogram");
}
