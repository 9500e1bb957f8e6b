/**
 * Durations and times in test scripts, as Prometheus's model.ParseDuration reads them: units
 * y w d h m s ms, each at most once and in that order (`1h30m`, `10s53ms`), or a bare `0`. A plain
 * number of seconds (`1800`, `2.5`) is accepted too. Times are offsets from Unix time 0.
 */

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];
const SECONDS_RE = /^\d+(?:\.\d+)?$/;

/** Milliseconds of a duration, or throws with the text that could not be read. */
export function parseDurationMs(text: string): number {
  const s = text.trim();
  if (s === "") throw new Error("empty duration string");
  if (SECONDS_RE.test(s)) return Math.round(Number(s) * 1000);
  const m = DURATION_RE.exec(s);
  if (m === null) throw new Error(`not a valid duration string: ${JSON.stringify(s)}`);
  let total = 0;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const n = m[i + 1];
    if (n !== undefined) total += Number(n) * UNIT_MS[i];
  }
  return total;
}

/** Prints milliseconds as seconds (`300s`, `1.5s`), the form used in failure messages. */
export function formatTimeMs(ms: number): string {
  return `${ms / 1000}s`;
}
