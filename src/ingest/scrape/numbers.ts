/**
 * Sample values and timestamps as the exposition formats write them. Values follow Go's
 * strconv.ParseFloat as Prometheus uses it (decimal floats, `NaN`, `Inf`/`+Inf`/`-Inf` in any case),
 * minus hex floats; JavaScript's Number() alone would also take "", "0x10", " 1" and "Infinity".
 */

export const FLOAT_SPEC = "a decimal number, NaN, +Inf or -Inf";

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF = /^[+-]?inf(?:inity)?$/i;

/** A sample value, or undefined when the token is not one. */
export function parseExposedFloat(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  if (INF.test(token)) return token.charCodeAt(0) === 45 /* - */ ? -Infinity : Infinity;
  if (token.length === 3 && token.toLowerCase() === "nan") return Number.NaN;
  return undefined;
}

const INTEGER = /^-?\d+$/;

/**
 * A sample's timestamp in ms: integer ms in the Prometheus text format, (fractional) seconds in
 * OpenMetrics, rounded to the nearest ms (1520879607.789 s × 1000 is 1520879607788.9998).
 */
export function parseTimestamp(token: string, openMetrics: boolean): number | undefined {
  if (!openMetrics) {
    if (!INTEGER.test(token)) return undefined;
    const ms = Number(token);
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  if (!DECIMAL.test(token)) return undefined;
  const ms = Math.round(Number(token) * 1000);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
