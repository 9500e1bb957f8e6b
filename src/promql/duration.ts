/**
 * The one duration grammar: prometheus/common's model.ParseDuration and model.Duration.String().
 * Units y w d h m s ms, each at most once and from largest to smallest (`1h30m`, `10s53ms`), or a
 * bare `0`; the total must fit Go's int64 of nanoseconds. Every reader of durations builds on
 * parseDuration and adds only what its own context needs: PromQL literals and test scripts take it
 * as is, the query API also takes float seconds (src/api/params.ts), flags and config files also
 * take a bare number of seconds (src/config/duration.ts). Errors are Go's texts, quoted as Go's
 * %q does, because PromQL's error messages must match Prometheus's byte for byte.
 */
import { goQuote } from "./parser/gostr.js";

const INT64_MAX = (1n << 63n) - 1n;

/** The longest duration model.Duration holds (an int64 of nanoseconds, about 292 years), in whole ms. */
export const MAX_DURATION_MS = Number(INT64_MAX / 1_000_000n);

/** parseDuration's error for a duration past MAX_DURATION_MS (Go's text). */
export const DURATION_OUT_OF_RANGE = "duration out of range";

/** Each unit's place in the order (units must strictly increase in it) and its size in ms. */
const UNITS: Readonly<Record<string, { pos: number; ms: bigint }>> = {
  y: { pos: 1, ms: 365n * 86_400_000n },
  w: { pos: 2, ms: 7n * 86_400_000n },
  d: { pos: 3, ms: 86_400_000n },
  h: { pos: 4, ms: 3_600_000n },
  m: { pos: 5, ms: 60_000n },
  s: { pos: 6, ms: 1000n },
  ms: { pos: 7, ms: 1n },
};

/** model.ParseDuration; the result in milliseconds, or Go's error text. */
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
    const unit = Object.hasOwn(UNITS, m[2]!) ? UNITS[m[2]!] : undefined;
    if (!unit) return { ms: 0, error: `unknown unit ${goQuote(m[2]!)} in duration ${goQuote(s)}` };
    // Misordered or repeated units (`30m1h`, `1h1h`) are refused, not summed.
    if (unit.pos <= lastUnitPos) return invalid;
    lastUnitPos = unit.pos;
    const v = BigInt(m[1]!);
    // model.Duration counts nanoseconds in an int64.
    if (v * unit.ms * 1_000_000n > INT64_MAX) return { ms: 0, error: DURATION_OUT_OF_RANGE };
    total += v * unit.ms;
    if (total * 1_000_000n > INT64_MAX) return { ms: 0, error: DURATION_OUT_OF_RANGE };
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
