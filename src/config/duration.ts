/**
 * Durations in flags, MIM_* variables, config files and rule files: Prometheus's grammar
 * (src/promql/duration.ts: "15d", "1h30m", "500ms", each unit at most once, largest first) plus a
 * bare number of seconds ("90", "1.5"), because a JSON config file or an environment variable
 * naturally holds a number there. Misordered or repeated units (`30m1h`, `1h1h`) are refused, not
 * summed, as Prometheus refuses them.
 */
import { DURATION_OUT_OF_RANGE, formatDuration, MAX_DURATION_MS, parseDuration } from "../promql/duration.js";

/** What a duration setting accepts, for the error message. */
const DURATION_FORM =
  "a number of seconds, or units y w d h m s ms largest first and each at most once (e.g. 15d, 2h, 1h30m, 500ms)";

const SECONDS_RE = /^\d+(?:\.\d+)?$/;

/** Milliseconds of a duration setting; the error names the text and the accepted form. */
export function parseDurationMs(text: string): number {
  // Surrounding blanks are dropped: env files and hand-edited JSON pick them up easily.
  const s = text.trim();
  const outOfRange = () =>
    new Error(`invalid duration ${JSON.stringify(text)}: out of range (at most about 292 years)`);
  if (SECONDS_RE.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    // model.Duration's bound holds for bare seconds too.
    if (ms > MAX_DURATION_MS) throw outOfRange();
    return ms;
  }
  const d = parseDuration(s);
  if (d.error === DURATION_OUT_OF_RANGE) throw outOfRange();
  if (d.error !== undefined)
    throw new Error(`invalid duration ${JSON.stringify(text)}: use ${DURATION_FORM}`);
  return d.ms;
}

/**
 * A duration for log lines, help defaults and messages, as Prometheus prints one ("15d", "1h30m");
 * parseDurationMs reads it back.
 */
export const formatDurationMs = formatDuration;
