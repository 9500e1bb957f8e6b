/**
 * The evaluator's intermediate values. Every node is evaluated for all steps of the query at once
 * (an instant query is a range of one step), series at a time over typed arrays:
 *
 *   scalar  one value per step
 *   vector  series with one value per step and a presence flag per step
 *   matrix  raw samples per series (a range selector or subquery), windowed by the function using it
 */
import type { Labels } from "../../storage/index.js";

export interface StepSeries {
  metric: Labels;
  values: Float64Array;
  /** 1 where the series has a value at that step. */
  present: Uint8Array;
  /** Delayed name removal: `__name__` is still in `metric` but goes before the result is returned. */
  dropName: boolean;
}

export interface RangeSeries {
  metric: Labels;
  /** Sample times (ms) and values, increasing in time, stale markers removed. */
  ts: Float64Array;
  vs: Float64Array;
  dropName: boolean;
}

export type EvalValue =
  | { readonly kind: "scalar"; readonly values: Float64Array }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "vector"; readonly series: StepSeries[] }
  | {
      readonly kind: "matrix";
      readonly series: RangeSeries[];
      /** Window length in ms and the time each step's window ends at (after offset and @). */
      readonly range: number;
      readonly windowEnds: Float64Array;
    };

/** The steps of the evaluation: times start, start + step, …, end. */
export interface Steps {
  readonly start: number;
  readonly end: number;
  readonly step: number;
  readonly count: number;
}

export function stepTime(s: Steps, i: number): number {
  return s.start + i * s.step;
}

export function newStepSeries(metric: Labels, n: number, dropName = false): StepSeries {
  return { metric, values: new Float64Array(n), present: new Uint8Array(n), dropName };
}
