/**
 * Label sets. A series is identified by its labels sorted by name; `__name__` is an ordinary label.
 * A label with an empty value is the same as no label at all, so normalisation drops it.
 */

export interface Label {
  readonly name: string;
  readonly value: string;
}

/** Labels sorted by name, no duplicate names, no empty values. */
export type Labels = readonly Label[];

export const METRIC_NAME = "__name__";

export class InvalidLabelsError extends Error {
  override readonly name = "InvalidLabelsError";
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders label sets as Prometheus does: label by label, name then value; a prefix sorts first. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const la = a[i];
    const lb = b[i];
    if (la.name !== lb.name) return la.name < lb.name ? -1 : 1;
    if (la.value !== lb.value) return la.value < lb.value ? -1 : 1;
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].value !== b[i].value) return false;
  }
  return true;
}

export function getLabel(labels: Labels, name: string): string {
  for (const l of labels) if (l.name === name) return l.value;
  return "";
}

/** An unambiguous string key for a normalised label set (lengths make any character safe in names). */
export function labelsKey(labels: Labels): string {
  let key = "";
  for (const l of labels) key += `${l.name.length}:${l.name}${l.value.length}:${l.value}`;
  return key;
}

/**
 * A 52-bit hash of a normalised label set (two FNV-1a lanes over names and values with
 * separators), for hash maps keyed by series. Collisions are possible: compare labels on a hit.
 */
export function labelsHash(labels: Labels): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (const l of labels) {
    const { name, value } = l;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xff, 0x5bd1e995);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    a = Math.imul(a ^ 0xfe, 0x01000193);
    b = Math.imul(b ^ 0xfe, 0x5bd1e995);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 12) & 0xfffff);
}

export function labelsToObject(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) out[l.name] = l.value;
  return out;
}

/** Builds labels from an object; empty values are dropped. Throws on invalid names or values. */
export function labelsFromObject(obj: Readonly<Record<string, string>>): Labels {
  return normalizeLabels(Object.entries(obj).map(([name, value]) => ({ name, value })));
}

export function formatLabels(labels: readonly Label[]): string {
  return `{${labels.map((l) => `${JSON.stringify(l.name)}=${JSON.stringify(l.value)}`).join(", ")}}`;
}

/**
 * Validates and normalises a label set: sorted by name, empty values removed.
 * Names follow Prometheus 3's UTF-8 scheme: any non-empty, well-formed UTF-8 string. Values must be
 * well-formed too. Duplicate names and sets left empty are errors.
 */
export function normalizeLabels(input: readonly Label[]): Labels {
  let sorted = true;
  for (let i = 1; i < input.length; i++) {
    if (input[i - 1].name >= input[i].name) {
      sorted = false;
      break;
    }
  }
  const out: Label[] = [];
  const ordered = sorted ? input : [...input].sort((a, b) => compareStrings(a.name, b.name));
  for (let i = 0; i < ordered.length; i++) {
    const l = ordered[i];
    if (typeof l.name !== "string" || typeof l.value !== "string") {
      throw new InvalidLabelsError(`label names and values must be strings in ${formatLabels(input)}`);
    }
    if (l.name === "") throw new InvalidLabelsError(`empty label name in ${formatLabels(input)}`);
    if (!l.name.isWellFormed())
      throw new InvalidLabelsError(`label name ${JSON.stringify(l.name)} is not valid UTF-8`);
    if (!l.value.isWellFormed()) {
      throw new InvalidLabelsError(`value of label ${JSON.stringify(l.name)} is not valid UTF-8`);
    }
    if (i > 0 && ordered[i - 1].name === l.name) {
      throw new InvalidLabelsError(
        `duplicate label name ${JSON.stringify(l.name)} in ${formatLabels(input)}`,
      );
    }
    if (l.value !== "") out.push(sorted ? l : { name: l.name, value: l.value });
  }
  if (out.length === 0) throw new InvalidLabelsError(`empty label set ${formatLabels(input)}`);
  return out;
}
