/**
 * Number conversions with Go's semantics: strconv.ParseInt/ParseFloat as Prometheus's
 * parser.number() applies them, and the float formats the printer and error messages use.
 * Durations (model.ParseDuration) live in ../duration.ts, shared with the API and config.
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
