/**
 * What a query evaluates to. Results are small next to the data a query reads, so they are plain
 * objects; the engine's inner loops work on typed arrays and only build these at the end.
 */
import type { Labels } from "../storage/index.js";

/** One element of an instant vector. */
export interface VectorSample {
  readonly metric: Labels;
  /** Evaluation time in ms. */
  readonly t: number;
  readonly v: number;
}

/** One series of a range result (a matrix): points in increasing time order. */
export interface MatrixSeries {
  readonly metric: Labels;
  /** Times in ms. */
  readonly ts: Float64Array;
  readonly vs: Float64Array;
}

export type QueryValue =
  | { readonly type: "scalar"; readonly t: number; readonly v: number }
  | { readonly type: "string"; readonly t: number; readonly v: string }
  | { readonly type: "vector"; readonly samples: readonly VectorSample[] }
  | { readonly type: "matrix"; readonly series: readonly MatrixSeries[] };

export interface QueryResult {
  readonly value: QueryValue;
  /** Prometheus's annotations: warnings ("PromQL warning: …") and infos ("PromQL info: …"). */
  readonly warnings: readonly string[];
  readonly infos: readonly string[];
  /** Samples read from storage (Prometheus's totalQueryableSamples). */
  readonly samplesRead: number;
}
