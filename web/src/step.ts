/**
 * Time ranges and query_range steps. Pure (no DOM) so the unit test can import it.
 *
 * A step is picked from "nice" values so each chart gets ~300–1,000 points: the smallest nice step
 * that keeps the range at or under 1,000 points. Consecutive nice steps differ by at most 2.5×, so
 * the point count stays above 400 whenever the 15 s floor does not bind (the data moves once a
 * minute at best and rate() looks back 300 s, so finer steps only add cost). Start and end are
 * aligned to the step (multiples of it, as Grafana does) so successive refreshes hit the same grid
 * and lines do not wobble. The end is rounded up when that stays within MAX_LEAD of now: the last
 * point then includes the newest samples (rate()[300s] a little ahead of now sees the same data),
 * where rounding down hides up to a step of fresh data. Further ahead (the 7-day range's 900 s
 * step), the last point's 300 s window would hold too little data or none, so it is rounded down.
 */

export interface RangeOption {
  key: string;
  label: string;
  seconds: number;
}

export const RANGES: readonly RangeOption[] = [
  { key: "15m", label: "15m", seconds: 15 * 60 },
  { key: "1h", label: "1h", seconds: 3600 },
  { key: "6h", label: "6h", seconds: 6 * 3600 },
  { key: "24h", label: "24h", seconds: 24 * 3600 },
  { key: "7d", label: "7d", seconds: 7 * 86400 },
];

export const MIN_STEP = 15;
/** How far past `to` the last point may lie: half of rate()'s 300 s window. */
export const MAX_LEAD = 150;
export const MAX_POINTS = 1000;

const NICE_STEPS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

export function chooseStep(rangeSeconds: number): number {
  const wanted = Math.max(MIN_STEP, rangeSeconds / MAX_POINTS);
  for (const s of NICE_STEPS) if (s >= wanted) return s;
  return Math.ceil(wanted / 86400) * 86400;
}

export interface QueryWindow {
  /** Unix seconds, multiples of step. */
  start: number;
  end: number;
  step: number;
}

/** The window for [from, to] (unix seconds): start rounded down to the step, end up (see above). */
export function alignWindow(from: number, to: number): QueryWindow {
  const step = chooseStep(Math.max(0, to - from));
  let end = Math.ceil(to / step) * step;
  if (end - to > MAX_LEAD) end -= step;
  let start = Math.floor(from / step) * step;
  if (start >= end) start = end - step;
  return { start, end, step };
}

/** The window of a relative range ending now. */
export function relativeWindow(rangeSeconds: number, nowSeconds: number): QueryWindow {
  return alignWindow(nowSeconds - rangeSeconds, nowSeconds);
}

export function pointsOf(w: QueryWindow): number {
  return Math.floor((w.end - w.start) / w.step) + 1;
}
