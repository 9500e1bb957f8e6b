/** Number and time formatting shared by axes, tooltips, legends and tables. */

const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const exact = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** Axis ticks: short. */
export function short(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1000) return compact.format(v);
  if (a >= 10) return String(Math.round(v * 10) / 10);
  return String(Number(v.toPrecision(2)));
}

/** Tooltips: exact to six significant digits (what a float sample really says, readably). */
export function precise(v: number | null | undefined): string {
  return v == null || Number.isNaN(v) ? "–" : exact.format(v);
}

export function count(v: number): string {
  return whole.format(v);
}

export function clock(d: Date): string {
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(d: Date): string {
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

const shortFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

/** Table cells: to the minute (the cell's title has the exact ISO time). */
export function shortDate(iso: string | null, none = "–"): string {
  return iso ? shortFmt.format(new Date(iso)) : none;
}

/** For <input type="datetime-local">: local time without seconds' fraction. */
export function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A range length for humans: "6h", "2d 3h", "45m". */
export function span(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const hr = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const parts = [d && `${d}d`, hr && `${hr}h`, m && `${m}m`].filter(Boolean);
  return parts.length ? parts.join(" ") : `${seconds}s`;
}
