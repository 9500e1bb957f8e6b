/**
 * Number and duration conversions with Go's semantics: strconv.ParseInt/ParseFloat as
 * Prometheus's parser.number() applies them, prometheus/common's model.ParseDuration and
 * model.Duration.String(), and the float formats the printer and error messages use.
 */
import { goQuote } from "./gostr.js";

const INT64_MAX = (1n << 63n) - 1n;

/** Go's underscoreOK: underscores only between digits (or after a base prefix). */
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s[0] === "+" || s[0] === "-") s = s.slice(1);
  let hexDigits = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1]!)) {
    i = 2;
    saw = "0";
    hexDigits = "xX".includes(s[1]!);
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= "0" && c <= "9") || (hexDigits && /[a-fA-F]/.test(c))) {
      saw = "0";
    } else if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
    } else {
      if (saw === "_") return false;
      saw = "!";
    }
  }
  return saw !== "_";
}

/** strconv.ParseInt(s, 0, 64); undefined when Go would fail (syntax or range). */
function parseGoInt(s: string): bigint | undefined {
  if (s.includes("_") && !underscoreOK(s)) return undefined;
  const t = s.replaceAll("_", "");
  const forms: ReadonlyArray<[RegExp, string]> = [
    [/^([+-]?)0[xX]([0-9a-fA-F]+)$/, "0x"],
    [/^([+-]?)0[oO]?([0-7]+)$/, "0o"],
    [/^([+-]?)0[bB]([01]+)$/, "0b"],
    [/^([+-]?)([1-9][0-9]*|0)$/, ""],
  ];
  let m: RegExpExecArray | null = null;
  let value = 0n;
  for (const [re, prefix] of forms) {
    m = re.exec(t);
    if (m) {
      value = BigInt(prefix + m[2]);
      break;
    }
  }
  if (!m) return undefined;
  if (m[1] === "-") value = -value;
  if (value > INT64_MAX || value < -INT64_MAX - 1n) return undefined;
  return value;
}

/** strconv.ParseFloat(s, 64) for the decimal and hex forms the lexer lets through. */
function parseGoFloat(s: string): { value: number; error?: string } {
  const syntax = { value: 0, error: `strconv.ParseFloat: parsing ${goQuote(s)}: invalid syntax` };
  if (/^[+-]?(inf|infinity)$/i.test(s)) return { value: s.startsWith("-") ? -Infinity : Infinity };
  if (/^[+-]?nan$/i.test(s)) return { value: Number.NaN };
  if (s.includes("_") && !underscoreOK(s)) return syntax;
  const t = s.replaceAll("_", "");
  let value: number;
  const hexFloat = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(t);
  if (hexFloat) {
    const [, sign, int = "", frac = "", exp] = hexFloat;
    if (int + frac === "") return syntax;
    const mantissa = Number.parseInt(int + frac, 16);
    value = mantissa * 2 ** (Number(exp) - 4 * frac.length);
    if (sign === "-") value = -value;
  } else if (/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(t)) {
    value = Number(t);
  } else {
    return syntax;
  }
  if (!Number.isFinite(value)) {
    return { value, error: `strconv.ParseFloat: parsing ${goQuote(s)}: value out of range` };
  }
  return { value };
}

/** Prometheus's parser.number(): integer syntax first (hex, octal), then float. */
export function parseNumber(s: string): { value: number; error?: string } {
  const int = parseGoInt(s);
  if (int !== undefined) return { value: Number(int) };
  const f = parseGoFloat(s);
  return f.error ? { value: f.value, error: `error parsing number: ${f.error}` } : f;
}

const UNITS: Record<string, { pos: number; ms: bigint }> = {
  y: { pos: 1, ms: 365n * 86_400_000n },
  w: { pos: 2, ms: 7n * 86_400_000n },
  d: { pos: 3, ms: 86_400_000n },
  h: { pos: 4, ms: 3_600_000n },
  m: { pos: 5, ms: 60_000n },
  s: { pos: 6, ms: 1000n },
  ms: { pos: 7, ms: 1n },
};

/** model.ParseDuration; the result in milliseconds. */
export function parseDuration(s: string): { ms: number; error?: string } {
  if (s === "0") return { ms: 0 };
  if (s === "") return { ms: 0, error: "empty duration string" };
  const invalid = { ms: 0, error: `not a valid duration string: ${goQuote(s)}` };
  let rest = s;
  let total = 0n;
  let lastUnitPos = 0;
  while (rest !== "") {
    const m = /^([0-9]+)([^0-9]*)/.exec(rest);
    if (!m || m[2] === "") return invalid;
    rest = rest.slice(m[0].length);
    const unit = UNITS[m[2]!];
    if (!unit) return { ms: 0, error: `unknown unit ${goQuote(m[2]!)} in duration ${goQuote(s)}` };
    if (unit.pos <= lastUnitPos) return invalid;
    lastUnitPos = unit.pos;
    const v = BigInt(m[1]!);
    // model.Duration counts nanoseconds in an int64.
    if (v * unit.ms * 1_000_000n > INT64_MAX) return { ms: 0, error: "duration out of range" };
    total += v * unit.ms;
    if (total * 1_000_000n > INT64_MAX) return { ms: 0, error: "duration out of range" };
  }
  return { ms: Number(total) };
}

const FORMAT_UNITS: ReadonlyArray<[string, number, boolean]> = [
  ["y", 365 * 86_400_000, true],
  ["w", 7 * 86_400_000, true],
  ["d", 86_400_000, false],
  ["h", 3_600_000, false],
  ["m", 60_000, false],
  ["s", 1000, false],
  ["ms", 1, false],
];

/** model.Duration.String() of a non-negative number of milliseconds ("1h30m", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, mult, exact] of FORMAT_UNITS) {
    // Years and weeks only when they divide evenly: 1w reads better than 7d, 8d better than 1w1d.
    if (exact && rest % mult !== 0) continue;
    const v = Math.floor(rest / mult);
    if (v > 0) {
      out += `${v}${unit}`;
      rest -= v * mult;
    }
  }
  return out;
}

/** Seconds to whole milliseconds the way Go's `time.Duration(secs*1000) * time.Millisecond` does. */
export function secondsToMs(seconds: number): number {
  return Math.trunc(seconds * 1000) + 0;
}

/** Plain decimal digits of a finite number, shortest round-trip (strconv.FormatFloat(v, 'f', -1, 64)). */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mantissa, expPart] = Math.abs(v).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const exp = Number(expPart);
  let out: string;
  if (exp < 0) out = `0.${"0".repeat(-exp - 1)}${digits}`;
  else if (digits.length <= exp + 1) out = digits + "0".repeat(exp + 1 - digits.length);
  else out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return v < 0 ? `-${out}` : out;
}

/** Go's `%f` (six decimals; "+Inf", "NaN"). */
export function formatGoF(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  // toFixed switches to exponent notation from 1e21 on; such doubles are integers.
  if (Math.abs(v) >= 1e21) return `${BigInt(v).toString()}.000000`;
  return v.toFixed(6);
}
