/**
 * What Grafana (10/11, Prometheus data source) does to a dashboard's queries before the API sees
 * them, re-done here so the test can send exactly that. Sources, in grafana/grafana:
 * pkg/services/provisioning/values/values.go (env expansion), packages/grafana-prometheus
 * datasource.ts (interpolateQueryExpr and its escapes) and metric_find_query.ts (label_values),
 * packages/grafana-data rangeutil.ts (roundInterval, calculateInterval), pkg/promlib/models/query.go
 * (the step, the built-in variables, AlignTimeRange), pkg/promlib/intervalv2 and gtime.
 */

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay; space is "+". */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** Go's url.Values.Encode(), which Grafana's backend uses for form bodies: keys sorted. */
export function goValues(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(params[k])}`)
    .join("&");
}

/**
 * Provisioning interpolation of every string in a value: "$$" is a literal "$", the rest goes
 * through Go's os.ExpandEnv (`${VAR}` or `$VAR`; unset variables become "").
 */
export function expandProvisioningEnv(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === "string") {
    return value
      .split("$$")
      .map((part) =>
        part.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, braced?: string, bare?: string) => {
          return env[braced ?? bare ?? ""] ?? "";
        }),
      )
      .join("$");
  }
  if (Array.isArray(value)) return value.map((v) => expandProvisioningEnv(v, env));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandProvisioningEnv(v, env)]));
  }
  return value;
}

/** `label_values(metric, label)` as metric_find_query.ts parses it. */
export function parseLabelValues(query: string): { metric: string; label: string } {
  const m = /^label_values\((?:(.+),\s*)?([a-zA-Z_$][a-zA-Z0-9_]*)\)\s*$/.exec(query);
  if (!m?.[1]) throw new Error(`not label_values(metric, label): ${query}`);
  return { metric: m[1].trim(), label: m[2] };
}

/** Grafana's escapes for a variable's value inside a PromQL string literal. */
const regularEscape = (s: string) => s.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");
const specialRegexEscape = (s: string) => s.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]+?.()|]/g, "\\\\$&");

/**
 * A query variable's text in a query: a custom All value as is; otherwise, for multi-value or
 * include-All variables, each value regex-escaped and several of them as `(a|b)`.
 */
export function formatVariable(
  v: { multi?: boolean; includeAll?: boolean; allValue?: string | null },
  picked: "all" | readonly string[],
  options: readonly string[],
): string {
  if (picked === "all") {
    if (v.allValue) return v.allValue;
    picked = options;
  }
  if (!v.multi && !v.includeAll) return regularEscape(picked[0] ?? "");
  const escaped = picked.map(specialRegexEscape);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join("|")})`;
}

/** templateSrv.replace: `$name`, `${name}` and `[[name]]` of the dashboard's variables; others stay. */
export function interpolateVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (m, a?: string, b?: string, c?: string) => {
    return values[a ?? b ?? c ?? ""] ?? m;
  });
}

/** Grafana's "nice" intervals: below the first number, the second (ms). */
const LADDER: ReadonlyArray<readonly [number, number]> = [
  [10, 1],
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1_500, 1_000],
  [3_500, 2_000],
  [7_500, 5_000],
  [12_500, 10_000],
  [17_500, 15_000],
  [25_000, 20_000],
  [45_000, 30_000],
  [90_000, 60_000],
  [210_000, 120_000],
  [450_000, 300_000],
  [750_000, 600_000],
  [1_050_000, 900_000],
  [1_500_000, 1_200_000],
  [2_700_000, 1_800_000],
  [5_400_000, 3_600_000],
  [9_000_000, 7_200_000],
  [16_200_000, 10_800_000],
  [32_400_000, 21_600_000],
  [86_400_000, 43_200_000],
  [604_800_000, 86_400_000],
  [1_814_400_000, 604_800_000],
  [3_628_800_000, 2_592_000_000],
];

function roundInterval(ms: number): number {
  for (const [below, nice] of LADDER) if (ms < below) return nice;
  return 31_536_000_000;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };

export interface Intervals {
  /** The range query's step, and what `$__interval` is. */
  stepMs: number;
  /** `$__rate_interval`. */
  rateIntervalMs: number;
}

export const grafanaIntervals = {
  /** "60s", "1m": Grafana's interval strings. */
  parse(s: string): number {
    const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(s);
    if (!m) throw new Error(`not a Grafana interval: ${s}`);
    return Number(m[1]) * UNIT_MS[m[2]];
  },

  /** For a panel's range query with no per-query Min step, frontend and backend together. */
  forPanel(rangeMs: number, maxDataPoints: number, panelMinInterval: string | undefined, scrapeMs: number) {
    // Frontend (calculateInterval): the panel's min interval, else the data source's scrape interval,
    // is the floor of range / maxDataPoints rounded.
    const floor = panelMinInterval ? grafanaIntervals.parse(panelMinInterval) : scrapeMs;
    const intervalMs = Math.max(roundInterval(rangeMs / maxDataPoints), floor);
    // Backend (calculatePrometheusInterval): that interval is the minimum, and at most 11,000 points.
    const raw = rangeMs / maxDataPoints;
    const calculated = raw < intervalMs ? intervalMs : roundInterval(raw);
    const stepMs = Math.max(calculated, roundInterval(rangeMs / 11_000));
    // interpolateVariables: max(interval + scrape interval, 4 × scrape interval).
    const rateIntervalMs = Math.max(intervalMs + scrapeMs, 4 * scrapeMs);
    return { stepMs, rateIntervalMs } satisfies Intervals;
  },
};

/** Go's time.Duration.String() for whole seconds: "4m0s", "1h0m0s", "45s". */
function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${m}m${s % 60}s`;
  return m > 0 ? `${m}m${s % 60}s` : `${s}s`;
}

/** gtime.FormatInterval: the largest whole unit ("2m", "1h"). */
function formatInterval(ms: number): string {
  for (const u of ["y", "d", "h", "m", "s", "ms"]) {
    if (ms >= UNIT_MS[u]) return `${Math.floor(ms / UNIT_MS[u])}${u}`;
  }
  return "1ms";
}

/** The backend's built-ins, `$x` and `${x}`, in the order it replaces them. */
export function expandBuiltins(expr: string, iv: Intervals & { rangeMs: number }): string {
  const rangeS = Math.round(iv.rangeMs / 1000);
  const builtins: Array<[string, string]> = [
    ["__interval_ms", String(iv.stepMs)],
    ["__interval", formatInterval(iv.stepMs)],
    ["__range_ms", String(iv.rangeMs)],
    ["__range_s", String(rangeS)],
    ["__range", `${rangeS}s`],
    ["__rate_interval_ms", String(iv.rateIntervalMs)],
    ["__rate_interval", goDuration(iv.rateIntervalMs)],
  ];
  for (const [name, value] of builtins) expr = expr.replaceAll(`$${name}`, value);
  for (const [name, value] of builtins) expr = expr.replaceAll(`\${${name}}`, value);
  return expr;
}

/** AlignTimeRange: down to a multiple of the step, in the browser's time zone (UTC here). */
export function alignToStep(ms: number, stepMs: number, utcOffsetSec = 0): number {
  const off = utcOffsetSec * 1000;
  return Math.floor((ms + off) / stepMs) * stepMs - off;
}
