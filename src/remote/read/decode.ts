/**
 * The `data` of a remote engine's answers, checked and turned into our own values, so the API
 * encodes remote and embedded results the same way (number formatting, label order) and applies
 * the same limits. An answer of the wrong shape is the engine's failure ("unavailable"), never
 * passed on half-read.
 */

import type { MatrixSeries, QueryValue, VectorSample } from "../../promql/value.js";
import type { Label, Labels } from "../../storage/index.js";
import { EngineError } from "./client.js";

function malformed(what: string): EngineError {
  return new EngineError("unavailable", `remote storage sent a malformed answer: ${what}`);
}

/** A metric object as labels, sorted by name; empty label sets are fine (an aggregate's output). */
export function decodeMetric(v: unknown): Labels {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw malformed("metric is not an object");
  const out: Label[] = [];
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    if (typeof value !== "string") throw malformed(`label ${JSON.stringify(name)} is not a string`);
    if (value !== "") out.push({ name, value });
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** Prometheus's number strings: Go's float formatting plus "NaN", "+Inf", "-Inf". */
export function decodeNumber(v: unknown): number {
  if (typeof v !== "string") throw malformed("sample value is not a string");
  if (v === "NaN") return Number.NaN;
  if (v === "+Inf" || v === "Inf") return Number.POSITIVE_INFINITY;
  if (v === "-Inf") return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  if (v.trim() === "" || Number.isNaN(n))
    throw malformed(`sample value ${JSON.stringify(v)} is not a number`);
  return n;
}

/** Seconds (a JSON number, possibly fractional) to integer ms. */
function decodeTime(v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw malformed("sample time is not a number");
  return Math.round(v * 1000);
}

function decodePoint(p: unknown): [number, unknown] {
  if (!Array.isArray(p) || p.length !== 2) throw malformed("a sample is not a [time, value] pair");
  return [decodeTime(p[0]), p[1]];
}

/** `{resultType, result}` of /api/v1/query and /api/v1/query_range. */
export function decodeQueryData(data: unknown): QueryValue {
  if (typeof data !== "object" || data === null) throw malformed("data is not an object");
  const { resultType, result } = data as { resultType?: unknown; result?: unknown };
  switch (resultType) {
    case "scalar": {
      const [t, v] = decodePoint(result);
      return { type: "scalar", t, v: decodeNumber(v) };
    }
    case "string": {
      const [t, v] = decodePoint(result);
      if (typeof v !== "string") throw malformed("string result is not a string");
      return { type: "string", t, v };
    }
    case "vector": {
      if (!Array.isArray(result)) throw malformed("vector result is not a list");
      const samples: VectorSample[] = result.map(
        (s: { metric?: unknown; value?: unknown; histogram?: unknown }) => {
          if (s?.histogram !== undefined) throw nativeHistogram();
          const [t, v] = decodePoint(s?.value);
          return { metric: decodeMetric(s?.metric ?? {}), t, v: decodeNumber(v) };
        },
      );
      return { type: "vector", samples };
    }
    case "matrix": {
      if (!Array.isArray(result)) throw malformed("matrix result is not a list");
      const series: MatrixSeries[] = result.map(
        (s: { metric?: unknown; values?: unknown; histograms?: unknown }) => {
          if (s?.histograms !== undefined) throw nativeHistogram();
          const values = s?.values ?? [];
          if (!Array.isArray(values)) throw malformed("series values are not a list");
          const ts = new Float64Array(values.length);
          const vs = new Float64Array(values.length);
          for (let i = 0; i < values.length; i++) {
            const [t, v] = decodePoint(values[i]);
            ts[i] = t;
            vs[i] = decodeNumber(v);
          }
          return { metric: decodeMetric(s?.metric ?? {}), ts, vs };
        },
      );
      return { type: "matrix", series };
    }
    default:
      throw malformed(`unknown resultType ${JSON.stringify(resultType)}`);
  }
}

function nativeHistogram(): EngineError {
  return new EngineError(
    "execution",
    "the remote storage returned native histograms, which this service does not support",
  );
}

/** The list of label sets of /api/v1/series. */
export function decodeSeriesList(data: unknown): Labels[] {
  if (!Array.isArray(data)) throw malformed("series data is not a list");
  return data.map(decodeMetric);
}

/** The string lists of /api/v1/labels and /api/v1/label/<name>/values. */
export function decodeStringList(data: unknown): string[] {
  if (data === null) return [];
  if (!Array.isArray(data) || !data.every((s) => typeof s === "string"))
    throw malformed("data is not a list of strings");
  return data as string[];
}
