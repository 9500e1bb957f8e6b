/** Element-wise functions of instant vectors (abs, clamp, round, time parts, …). */

export type InstantFunction = (v: number, args: readonly number[]) => number;

function goRound(x: number): number {
  // Go's math.Round rounds half away from zero; Prometheus's round() uses floor(x + 0.5).
  return Math.floor(x + 0.5);
}

const date = (v: number) => new Date(v * 1000);

export const INSTANT_FUNCTIONS: Record<string, InstantFunction> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  sgn: (v) => (v > 0 ? 1 : v < 0 ? -1 : v),
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
  round: (v, args) => {
    const toNearest = args.length ? args[0] : 1;
    // Prometheus divides by the inverse to keep precision for fractions like 0.1.
    const inverse = 1 / toNearest;
    return goRound(v * inverse) / inverse;
  },
  clamp: (v, args) => {
    const [min, max] = args;
    if (max < min || Number.isNaN(min) || Number.isNaN(max)) return Number.NaN;
    return Math.max(min, Math.min(max, v));
  },
  clamp_min: (v, args) => Math.max(args[0], v),
  clamp_max: (v, args) => Math.min(args[0], v),
  minute: (v) => date(v).getUTCMinutes(),
  hour: (v) => date(v).getUTCHours(),
  month: (v) => date(v).getUTCMonth() + 1,
  year: (v) => date(v).getUTCFullYear(),
  day_of_month: (v) => date(v).getUTCDate(),
  day_of_week: (v) => date(v).getUTCDay(),
  day_of_year: (v) => {
    const d = date(v);
    return (
      Math.floor(
        (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) /
          86_400_000,
      ) + 1
    );
  },
  days_in_month: (v) => {
    const d = date(v);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  },
};

/** The date functions take an optional vector and default to vector(time()). */
export const DATE_FUNCTIONS = new Set([
  "minute",
  "hour",
  "month",
  "year",
  "day_of_month",
  "day_of_week",
  "day_of_year",
  "days_in_month",
]);
