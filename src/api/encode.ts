/**
 * Writes query results as Prometheus's JSON codec does (web/api/v1/json_codec.go): values as
 * strings in Go's float format ("NaN", "+Inf", "1e-07", "-0"), timestamps as numbers of seconds
 * with at most three decimals, labels sorted. Results can hold millions of points, so the text is
 * built by concatenation straight from the typed arrays, with no intermediate objects.
 */

import type { QueryValue } from "../promql/value.js";
import type { Labels } from "../storage/index.js";

/** A float as Go's strconv.AppendFloat(f, 'f' or 'e', -1, 64) writes it, as Prometheus does. */
export function formatValue(v: number): string {
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  const s = String(v);
  const e = s.indexOf("e");
  if (e < 0) return s;
  // JS writes one exponent digit where Go writes at least two.
  const sign = s[e + 1];
  const digits = s.slice(e + 2);
  return digits.length === 1 ? `${s.slice(0, e)}e${sign}0${digits}` : s;
}

/** A ms timestamp as Prometheus's MarshalTimestamp writes it: seconds, then ".ddd" if needed. */
export function formatTimestamp(t: number): string {
  const neg = t < 0;
  const abs = neg ? -t : t;
  const sec = Math.floor(abs / 1000);
  const frac = abs - sec * 1000;
  let out = neg ? `-${sec}` : String(sec);
  if (frac !== 0) out += frac < 10 ? `.00${frac}` : frac < 100 ? `.0${frac}` : `.${frac}`;
  return out;
}

export function encodeLabels(labels: Labels): string {
  let out = "{";
  for (let i = 0; i < labels.length; i++) {
    if (i > 0) out += ",";
    out += `${JSON.stringify(labels[i].name)}:${JSON.stringify(labels[i].value)}`;
  }
  return `${out}}`;
}

/** `{"resultType":…,"result":…}` for a query value. */
export function encodeQueryData(value: QueryValue): string {
  switch (value.type) {
    case "scalar":
      return `{"resultType":"scalar","result":[${formatTimestamp(value.t)},"${formatValue(value.v)}"]}`;
    case "string":
      return `{"resultType":"string","result":[${formatTimestamp(value.t)},${JSON.stringify(value.v)}]}`;
    case "vector": {
      const parts: string[] = [];
      for (const s of value.samples) {
        parts.push(
          `{"metric":${encodeLabels(s.metric)},"value":[${formatTimestamp(s.t)},"${formatValue(s.v)}"]}`,
        );
      }
      return `{"resultType":"vector","result":[${parts.join(",")}]}`;
    }
    case "matrix": {
      const parts: string[] = [];
      for (const s of value.series) {
        let points = "";
        for (let i = 0; i < s.ts.length; i++) {
          if (i > 0) points += ",";
          points += `[${formatTimestamp(s.ts[i])},"${formatValue(s.vs[i])}"]`;
        }
        parts.push(`{"metric":${encodeLabels(s.metric)},"values":[${points}]}`);
      }
      return `{"resultType":"matrix","result":[${parts.join(",")}]}`;
    }
  }
}

export interface Envelope {
  /** Pre-encoded JSON of `data`, or undefined to leave it out. */
  data?: string;
  warnings?: readonly string[];
  infos?: readonly string[];
}

export function successBody(e: Envelope): string {
  let out = '{"status":"success"';
  if (e.data !== undefined) out += `,"data":${e.data}`;
  if (e.warnings && e.warnings.length > 0) out += `,"warnings":${JSON.stringify(e.warnings)}`;
  if (e.infos && e.infos.length > 0) out += `,"infos":${JSON.stringify(e.infos)}`;
  return `${out}}`;
}

export function errorBody(type: string, message: string): string {
  return JSON.stringify({ status: "error", errorType: type, error: message });
}
