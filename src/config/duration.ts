/** Prometheus-style durations for flags: "15d", "1h30m", "500ms", "2w", "1y"; a bare number is seconds. */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

export function parseDurationMs(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (s === "" || consumed !== s.length) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: use e.g. 15d, 2h, 1h30m, 500ms`);
  }
  return total;
}

export function formatDurationMs(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ["y", "w", "d", "h", "m", "s", "ms"]) {
    const size = UNITS[unit];
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
