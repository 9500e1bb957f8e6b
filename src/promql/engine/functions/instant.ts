/** Element-wise functions of instant vectors (abs, clamp, round, time parts, …). */

export type InstantFunction = (v: number, args: readonly number[]) => number;

function goRound(x: number): number {
  // Go's math.Round rounds half away from zero; Prometheus's round() uses floor(x + 0.5).
  return Math.floor(x + 0.5);
}

const date = (v: number) => new Date(v * 1000);

export const abs: InstantFunction = Math.abs;
export const ceil: InstantFunction = Math.ceil;
export const floor: InstantFunction = Math.floor;
export const exp: InstantFunction = Math.exp;
export const ln: InstantFunction = Math.log;
export const log2: InstantFunction = Math.log2;
export const log10: InstantFunction = Math.log10;
export const sqrt: InstantFunction = Math.sqrt;
export const sgn: InstantFunction = (v) => (v > 0 ? 1 : v < 0 ? -1 : v);
export const sin: InstantFunction = Math.sin;
export const cos: InstantFunction = Math.cos;
export const tan: InstantFunction = Math.tan;
export const asin: InstantFunction = Math.asin;
export const acos: InstantFunction = Math.acos;
export const atan: InstantFunction = Math.atan;
export const sinh: InstantFunction = Math.sinh;
export const cosh: InstantFunction = Math.cosh;
export const tanh: InstantFunction = Math.tanh;
export const asinh: InstantFunction = Math.asinh;
export const acosh: InstantFunction = Math.acosh;
export const atanh: InstantFunction = Math.atanh;
export const deg: InstantFunction = (v) => (v * 180) / Math.PI;
export const rad: InstantFunction = (v) => (v * Math.PI) / 180;
export const round: InstantFunction = (v, args) => {
  const toNearest = args.length ? args[0] : 1;
  // Prometheus divides by the inverse to keep precision for fractions like 0.1.
  const inverse = 1 / toNearest;
  return goRound(v * inverse) / inverse;
};
export const clamp: InstantFunction = (v, args) => {
  const [min, max] = args;
  if (max < min || Number.isNaN(min) || Number.isNaN(max)) return Number.NaN;
  return Math.max(min, Math.min(max, v));
};
export const clamp_min: InstantFunction = (v, args) => Math.max(args[0], v);
export const clamp_max: InstantFunction = (v, args) => Math.min(args[0], v);
export const minute: InstantFunction = (v) => date(v).getUTCMinutes();
export const hour: InstantFunction = (v) => date(v).getUTCHours();
export const month: InstantFunction = (v) => date(v).getUTCMonth() + 1;
export const year: InstantFunction = (v) => date(v).getUTCFullYear();
export const day_of_month: InstantFunction = (v) => date(v).getUTCDate();
export const day_of_week: InstantFunction = (v) => date(v).getUTCDay();
export const day_of_year: InstantFunction = (v) => {
  const d = date(v);
  return (
    Math.floor(
      (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) /
        86_400_000,
    ) + 1
  );
};
export const days_in_month: InstantFunction = (v) => {
  const d = date(v);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
};
