/**
 * What every store accepts of a sample, whatever keeps it afterwards (the embedded chunks or the
 * remote-write queue): the same checks, in one place, so a sample refused by one mode is refused
 * by the other with the same error.
 */
import { InvalidTimestampError, InvalidValueError } from "./errors.js";
import { formatLabels, type Labels } from "./labels.js";

/** Timestamps are integers within ±2^51 ms, so every delta-of-delta a chunk keeps is an exact double. */
export const MAX_ABS_TIMESTAMP = 2 ** 51;

/**
 * The widest range a look-up covers when it gives no bounds: Prometheus's MinTime/MaxTime, here
 * the range of a JS Date, which keeps every ms an exact integer (Prometheus's own are beyond 2^53).
 */
export const MIN_TIME_MS = -8_640_000_000_000_000;
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** Throws the SampleError of a timestamp or value no store can keep. */
export function checkSample(labels: Labels, t: number, v: number): void {
  if (!Number.isInteger(t) || Math.abs(t) > MAX_ABS_TIMESTAMP) {
    throw new InvalidTimestampError(
      `timestamp ${t} of ${formatLabels(labels)} is not an integer number of milliseconds within ±2^51`,
    );
  }
  if (typeof v !== "number") throw new InvalidValueError(`value of ${formatLabels(labels)} is not a number`);
}
