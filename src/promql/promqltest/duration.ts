/**
 * Durations and times in test scripts. Prometheus's promqltest reads every `load` step, `at` and
 * `from`/`to`/`step` with model.ParseDuration alone (src/promql/duration.ts), so these do too:
 * `1h30m`, `10s53ms` or a bare `0`, and no bare seconds. Times are offsets from Unix time 0.
 */
import { parseDuration } from "../duration.js";

/** Milliseconds of a duration, or throws with model.ParseDuration's error text. */
export function parseDurationMs(text: string): number {
  const d = parseDuration(text);
  if (d.error !== undefined) throw new Error(d.error);
  return d.ms;
}

/** Prints milliseconds as seconds (`300s`, `1.5s`), the form used in failure messages. */
export function formatTimeMs(ms: number): string {
  return `${ms / 1000}s`;
}
