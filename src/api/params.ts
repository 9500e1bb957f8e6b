/**
 * Request parameters as Prometheus's web/api/v1/api.go reads them: times as unix seconds (fraction
 * rounded to ms) or RFC 3339, durations as float seconds or Prometheus duration syntax, `limit`,
 * and `match[]` selectors. Each failure is an ApiError of type bad_data naming the parameter.
 */
import { parseDuration as parsePromDuration } from "../promql/duration.js";
import { ParseError } from "../promql/errors.js";
import { parseMetricSelector } from "../promql/parser/index.js";
import { MAX_TIME_MS, type Matcher, MIN_TIME_MS } from "../storage/index.js";
import { ApiError } from "./errors.js";

/** A request's parameters: URL query and form body merged, the body's values first (Go's r.Form). */
export type Params = ReadonlyMap<string, readonly string[]>;

export function mergeParams(query: unknown, body: unknown): Params {
  const out = new Map<string, string[]>();
  const add = (src: unknown) => {
    if (src === null || typeof src !== "object") return;
    for (const [k, v] of Object.entries(src as Record<string, unknown>)) {
      const list = out.get(k) ?? [];
      if (Array.isArray(v)) for (const x of v) list.push(String(x));
      else if (v !== undefined) list.push(String(v));
      out.set(k, list);
    }
  };
  add(body);
  add(query);
  return out;
}

/** The first value of a parameter, or "" (Go's FormValue). */
export function param(p: Params, name: string): string {
  return p.get(name)?.[0] ?? "";
}

// Prometheus's MinTime/MaxTime, as storage defines them (src/storage/sample.ts).
export { MAX_TIME_MS, MIN_TIME_MS };

const MIN_TIME_FORMATTED = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED = "292277025-08-18T07:12:54.999999999Z";

const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses a `<rfc3339 | unix_timestamp>` into integer ms, clamped to the range dates can hold. */
export function parseTime(s: string): number {
  if (FLOAT_RE.test(s)) {
    const f = Number(s);
    if (Number.isFinite(f)) {
      const sec = Math.trunc(f);
      const frac = Math.round((f - sec) * 1000) / 1000;
      return clampTime(sec * 1000 + Math.round(frac * 1000));
    }
  }
  const m = RFC3339_RE.exec(s);
  if (m) {
    const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[8].toUpperCase()}`);
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (!Number.isNaN(ms) && month >= 1 && month <= 12 && day >= 1 && day <= 31) {
      const frac = m[7] ? Math.trunc(Number(`0${m[7]}`) * 1000 + 1e-9) : 0;
      return ms + frac;
    }
  }
  if (s === MIN_TIME_FORMATTED) return MIN_TIME_MS;
  if (s === MAX_TIME_FORMATTED) return MAX_TIME_MS;
  throw new Error(`cannot parse ${JSON.stringify(s)} to a valid timestamp`);
}

function clampTime(ms: number): number {
  return Math.min(MAX_TIME_MS, Math.max(MIN_TIME_MS, ms));
}

/**
 * Parses a `<duration>` as Prometheus's API does: float seconds ("15", "0.5", "-5") first, then
 * model.ParseDuration ("1h30m"); result in ms (may be fractional). Any failure of the latter is
 * reported with the API's own text, not the grammar's, as Prometheus answers.
 */
export function parseDuration(s: string): number {
  if (FLOAT_RE.test(s)) {
    const f = Number(s);
    if (Number.isFinite(f)) {
      if (Math.abs(f) * 1e9 > 9.223372036854776e18) {
        throw new Error(`cannot parse ${JSON.stringify(s)} to a valid duration. It overflows int64`);
      }
      return f * 1000;
    }
  }
  const d = parsePromDuration(s);
  if (d.error === undefined) return d.ms;
  throw new Error(`cannot parse ${JSON.stringify(s)} to a valid duration`);
}

export function timeParam(p: Params, name: string, fallback: number): number {
  const v = param(p, name);
  if (v === "") return fallback;
  try {
    return parseTime(v);
  } catch (err) {
    throw ApiError.invalidParam(name, (err as Error).message);
  }
}

export function durationParam(p: Params, name: string): number | undefined {
  const v = param(p, name);
  if (v === "") return undefined;
  try {
    return parseDuration(v);
  } catch (err) {
    throw ApiError.invalidParam(name, (err as Error).message);
  }
}

/** `limit`: a non-negative integer; 0 or absent means none. */
export function limitParam(p: Params): number {
  const v = param(p, "limit");
  if (v === "") return 0;
  if (!/^[+-]?\d+$/.test(v)) {
    throw ApiError.invalidParam("limit", `cannot parse ${JSON.stringify(v)} to a valid limit`);
  }
  const n = Number(v);
  if (n < 0) throw ApiError.invalidParam("limit", "limit must be non-negative");
  return n;
}

/** Parses every `match[]` into its matchers; each must have one matcher that rejects "". */
export function matchParams(p: Params): Matcher[][] {
  const out: Matcher[][] = [];
  for (const s of p.get("match[]") ?? []) {
    let matchers: readonly Matcher[];
    try {
      matchers = parseMetricSelector(s).matchers;
    } catch (err) {
      const msg = err instanceof ParseError ? err.toString() : (err as Error).message;
      throw ApiError.invalidParam("match[]", msg);
    }
    if (matchers.every((m) => m.matchesEmpty())) {
      throw ApiError.badData("match[] must contain at least one non-empty matcher");
    }
    out.push([...matchers]);
  }
  return out;
}
