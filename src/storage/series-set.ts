import type { Series, SeriesSet } from "./interface.js";

/** A SeriesSet over an array already in memory. */
export function listSeriesSet(series: readonly Series[], warnings: readonly string[] = []): SeriesSet {
  let i = -1;
  return {
    next: () => ++i < series.length,
    at: () => series[i],
    err: () => null,
    warnings: () => warnings,
  };
}

export function emptySeriesSet(): SeriesSet {
  return listSeriesSet([]);
}
