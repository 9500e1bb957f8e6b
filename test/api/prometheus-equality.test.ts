/**
 * End-to-end equality with a real Prometheus: the same fleet samples go into Prometheus (written
 * as OpenMetrics, turned into blocks by `promtool tsdb create-blocks-from openmetrics`, served by
 * `prometheus` on loopback) and into the service (through the harness), then the product page's
 * five queries and a broad set of other PromQL run through both HTTP APIs — Prometheus's
 * /api/v1/query[_range] and the project's base URL with a monitoring token — as instant queries at
 * several times and as range queries with several steps and unaligned starts. Result type, the set
 * of series and every timestamp and value must be equal; values as strings (Go's float format).
 *
 * The reference is Debian's Prometheus 2.42 while the engine follows Prometheus 3.5. The fleet's
 * samples are never on a whole second and every query time, range and step is whole seconds, so
 * 2.x's closed range boundaries and 3.x's left-open ones select the same samples; evaluation times
 * also avoid the 15 s grid the subqueries' steps sit on. New processes show zeros before their
 * first traffic, as model servers do while they warm up. The 2.x/3.x differences this leaves are
 * checked on their own at the end ("where Prometheus 2.42 and 3.x differ"), each against the
 * exact rule that explains it, and printed in the last test's diagnostics. Cases whose floats
 * legitimately differ in the last bits carry `tolerance` (relative 1e-12) with the reason; every
 * other value must be string-equal. The last test also fails if a case compared nothing (both
 * answers empty) without being marked `empty` with the reason.
 *
 * Without prometheus/promtool the suite is skipped locally and fails in CI (CI=true).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FleetData, generateFleet, roundTrips, toOpenMetrics } from "./fleet-samples.js";
import { type SampleSeries, startTestService, type TestService } from "./harness.js";

const LOOKBACK = "5m";
/** Largest relative difference accepted for cases marked `tolerance`. */
const REL_TOLERANCE = 1e-12;

function toolsMissing(): string | undefined {
  for (const tool of ["prometheus", "promtool"]) {
    const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) return `${tool} is not installed (${r.error?.message ?? r.stderr})`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The cases. In a query, `{P}` and `{P,` stand for the project's matcher: Prometheus holds every
// project's series, so its query says `project_id="…"`; the service is asked both the same text
// and the text without the matcher (its token's scope must do the same job). `$P` is the project
// id, `$M` its first model (the one whose pt target restarts), `$M2` its second (whose on-demand
// target has a scrape outage), `$M3` its third (deployed part-way through).
// ---------------------------------------------------------------------------------------------

interface Case {
  q: string;
  /** Index of the project whose token asks (default 0). */
  project?: number;
  /** Instant results are compared in order (sort, sort_desc, topk/bottomk without grouping). */
  ordered?: boolean;
  /** Why the last bits of a float may differ (such values are compared with REL_TOLERANCE). */
  tolerance?: string;
  /** Only as an instant query. */
  instantOnly?: boolean;
  /** Why every answer is empty in both (the report checks that it is, and that no other case is). */
  empty?: string;
}

const PAGE_QUERIES = [
  'sum by (model_name) ( rate( crusoe_inference_request_count{project_id="$P", model_name="$M"}[300s] ) )',
  'sum by (model_name) ( rate( crusoe_inference_input_token_count{project_id="$P", model_name="$M"}[300s] ) )',
  'sum by (model_name) ( rate( crusoe_inference_output_token_count{project_id="$P", model_name="$M"}[300s] ) )',
  'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket{project_id="$P", model_name="$M"}[300s] ) ) )',
  'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_output_token_latency_bucket{project_id="$P", model_name="$M"}[300s] ) ) )',
];

const REQ = "crusoe_inference_request_count";
const IN = "crusoe_inference_input_token_count";
const OUT = "crusoe_inference_output_token_count";
const TTFT = "crusoe_inference_histogram_first_token_latency";
const TPOT = "crusoe_inference_histogram_output_token_latency";

// Why a case's floats may differ in the last bits.
const SUM_KAHAN = "sum(): 3.x adds with Kahan-Neumaier compensation, 2.42 plainly (checked exactly below)";
const AVG_KAHAN =
  "avg(), avg_over_time(): 3.x divides a compensated sum by the count, 2.42 keeps a running mean";
const DERIV_KAHAN = "deriv() of a sum(): 3.x's linear regression and sum() add with Kahan compensation";
const GO_MATH =
  "ln, log2, log10, exp and ^ use JavaScript's Math, whose last bit differs from Go's math package: the engine's, not a 2.x/3.x difference";

const CASES: Case[] = [
  // Selectors and raw samples (also proves the import kept every timestamp and value).
  { q: `${REQ}{P}` },
  { q: `${TTFT}_sum{P}` },
  { q: `${REQ}{P}[2m]`, instantOnly: true },
  { q: `${TPOT}_sum{P,model_name="$M2"}[20m]`, instantOnly: true },
  { q: `${REQ}{P} offset 10m` },
  { q: `${REQ}{P} @ 1748859000` }, // 70 min into the (deterministic) fleet
  // Rates over several windows.
  { q: `rate(${REQ}{P}[1m])` },
  { q: `rate(${OUT}{P}[5m])` },
  { q: `rate(${IN}{P}[30m])` },
  { q: `rate(${REQ}{P}[1h])` },
  { q: `irate(${IN}{P}[45s])` },
  { q: `irate(${OUT}{P}[5m])` },
  { q: `increase(${REQ}{P}[10m])` },
  { q: `increase(${TTFT}_count{P}[2h])` },
  { q: `delta(${TTFT}_sum{P}[5m])` },
  { q: `idelta(${OUT}{P}[1m])` },
  { q: `resets(${REQ}{P}[30m])` },
  { q: `changes(${TPOT}_bucket{P,le="0.02"}[10m])` },
  { q: `deriv(${REQ}{P}[10m])` },
  { q: `predict_linear(${OUT}{P}[15m], 3600)` },
  { q: `rate(${REQ}{P}[5m] offset 30m)` },
  { q: `increase(${OUT}{P}[1h] offset 1h)` },
  // Aggregations.
  { q: `sum by (model_name) (rate(${REQ}{P}[5m]))` },
  { q: `sum by (service_tier) (rate(${OUT}{P}[1m]))`, tolerance: SUM_KAHAN },
  { q: `sum(rate(${IN}{P}[5m])) by (model_name, service_tier)` },
  { q: `avg by (model_name) (rate(${IN}{P}[10m]))`, tolerance: AVG_KAHAN },
  { q: `max by (service_tier) (irate(${REQ}{P}[2m]))` },
  { q: `min by (model_name) (increase(${OUT}{P}[15m]))` },
  { q: `count by (model_name) (${REQ}{P})` },
  { q: `count(${TTFT}_bucket{P})` },
  { q: `count(count by (model_name) (${REQ}{P}))` },
  { q: `group by (model_name) (${REQ}{P})` },
  { q: `stddev by (service_tier) (rate(${REQ}{P}[5m]))` },
  { q: `stdvar(rate(${OUT}{P}[5m]))` },
  { q: `quantile by (service_tier) (0.9, rate(${OUT}{P}[5m]))` },
  { q: `sum without (le) (rate(${TPOT}_bucket{P}[5m]))`, tolerance: SUM_KAHAN },
  { q: `count_values("requests", round(increase(${REQ}{P}[5m])))` },
  { q: `count_values("rate", round(rate(${REQ}{P}[5m]), 0.001))` },
  { q: `sum by (__name__) (${REQ}{P})` },
  // Histograms.
  { q: `histogram_quantile(0.9, sum by (model_name, le) (rate(${TTFT}_bucket{P}[5m])))` },
  {
    q: `histogram_quantile(0.99, sum by (service_tier, le) (rate(${TPOT}_bucket{P}[10m])))`,
    tolerance: SUM_KAHAN,
  },
  { q: `histogram_quantile(0.5, rate(${TTFT}_bucket{P}[5m]))` },
  {
    q: `histogram_quantile(1.5, sum by (le) (rate(${TTFT}_bucket{P}[5m]))) + histogram_quantile(0, sum by (le) (rate(${TTFT}_bucket{P}[5m])))`,
  },
  {
    q: `histogram_quantile(0.9, sum by (le) (increase(${TPOT}_bucket{P,service_tier="pt"}[1h])))`,
    tolerance: SUM_KAHAN,
  },
  { q: `histogram_quantile(0.5, sum by (model_name, le) (irate(${TPOT}_bucket{P}[1m])))` },
  {
    q: `sum by (model_name) (rate(${TTFT}_sum{P}[5m])) / sum by (model_name) (rate(${TTFT}_count{P}[5m]))`,
  },
  // topk / bottomk / sort.
  { q: `topk(3, rate(${OUT}{P}[5m]))`, ordered: true },
  { q: `bottomk(2, sum by (model_name) (rate(${REQ}{P}[5m])))`, ordered: true },
  { q: `topk by (service_tier) (1, rate(${REQ}{P}[5m]))` },
  { q: `sort(rate(${REQ}{P}[5m]))`, ordered: true },
  { q: `sort_desc(sum by (model_name) (increase(${OUT}{P}[30m])))`, ordered: true },
  { q: `topk by (model_name) (1, increase(${OUT}{P}[10m]))` },
  { q: `quantile(0.25, rate(${IN}{P}[5m])) + quantile(1.5, rate(${IN}{P}[5m]))` },
  // Binary operators and vector matching.
  { q: `rate(${OUT}{P}[5m]) / on (project_id, model_name, service_tier) rate(${REQ}{P}[5m])` },
  {
    q: `sum by (model_name, service_tier) (rate(${OUT}{P}[5m])) / ignoring (service_tier) group_left sum by (model_name) (rate(${OUT}{P}[5m]))`,
  },
  {
    q: `rate(${TTFT}_count{P}[5m]) - ignoring (le) group_left rate(${TTFT}_bucket{P,le="+Inf"}[5m])`,
  },
  { q: `${REQ}{P} - ${REQ}{P} offset 10m` },
  { q: `${REQ}{P} offset -5m` },
  { q: `rate(${REQ}{P}[5m] @ end()) - rate(${REQ}{P}[5m] @ start())` },
  { q: `sum by (model_name) (rate(${REQ}{P}[5m])) * on (model_name) group_right rate(${REQ}{P}[5m])` },
  { q: `rate(${OUT}{P}[5m]) > on (project_id, model_name, service_tier) rate(${IN}{P}[5m]) / 10` },
  { q: `rate(${OUT}{P}[5m]) / 100 != bool ignoring (__name__) rate(${REQ}{P}[5m])` },
  { q: `rate(${REQ}{P}[5m]) > 1` },
  { q: `rate(${REQ}{P}[5m]) > bool 1` },
  { q: `sum by (model_name) (rate(${REQ}{P}[5m])) >= 0.5 < 5` },
  { q: `${IN}{P} / 1000 + 1` },
  { q: `-rate(${OUT}{P}[5m]) % 7` },
  { q: `2 ^ 3 * 4` },
  { q: `rate(${REQ}{P}[5m]) / 0` },
  {
    q: `rate(${REQ}{P,service_tier="pt"}[5m]) and on (model_name) rate(${REQ}{P,service_tier="on_demand"}[5m]) > 0.5`,
  },
  { q: `${REQ}{P,service_tier="pt"} or ${IN}{P}` },
  {
    q: `sum by (model_name) (rate(${REQ}{P,service_tier="pt"}[5m])) or sum by (model_name) (rate(${REQ}{P}[5m]))`,
  },
  {
    q: `${REQ}{P} unless on (model_name) ${REQ}{P,service_tier="pt"}`,
    empty: "every model of the project has a pt series",
  },
  { q: `${REQ}{P} unless on (model_name, service_tier) ${REQ}{P,service_tier="pt"}` },
  { q: `rate(${REQ}{P}[5m]) * on () group_left scalar(sum(rate(${REQ}{P}[5m])))`, tolerance: SUM_KAHAN },
  // Scalars, vector(), time.
  { q: `scalar(sum(rate(${REQ}{P}[5m])))`, tolerance: SUM_KAHAN },
  { q: `scalar(${REQ}{P})` },
  { q: "vector(1)" },
  { q: "time()" },
  { q: `time() - timestamp(${REQ}{P})` },
  { q: `timestamp(${REQ}{P,model_name="$M2"})` },
  {
    q: `hour(timestamp(${REQ}{P})) + minute() / 60`,
    empty: "one-to-one matching: hour() keeps the series' labels, minute() has none",
  },
  { q: `hour(timestamp(${REQ}{P})) + on () group_left minute() / 60` },
  { q: `day_of_week() + days_in_month(vector(time()))` },
  { q: '"a string"', instantOnly: true },
  { q: "-0 * 1" },
  { q: "vector(NaN) + -Inf" },
  { q: `rate(${REQ}{P}[5m]) / 1e12` },
  { q: `rate(${OUT}{P}[5m]) * 1e25` },
  { q: `vector(scalar(sum(${REQ}{P}))) - 1` },
  { q: "time() % 3600 + month() * 100 + year() + day_of_month()" },
  // Math and label functions.
  { q: `clamp(rate(${REQ}{P}[5m]), 0.5, 2)` },
  { q: `clamp_min(rate(${REQ}{P}[5m]), 1) + clamp_max(rate(${REQ}{P}[5m]), 1)` },
  { q: `round(rate(${REQ}{P}[5m]), 0.1)` },
  { q: `ceil(rate(${OUT}{P}[5m])) - floor(rate(${OUT}{P}[5m]))` },
  { q: `abs(delta(${TTFT}_sum{P}[5m])) + sqrt(rate(${IN}{P}[5m]))` },
  { q: `ln(rate(${OUT}{P}[5m]))`, tolerance: GO_MATH },
  { q: `log2(rate(${OUT}{P}[5m]))`, tolerance: GO_MATH },
  { q: `log10(rate(${OUT}{P}[5m]))`, tolerance: GO_MATH },
  { q: `exp(-rate(${REQ}{P}[5m]))`, tolerance: GO_MATH },
  { q: `rate(${IN}{P}[5m]) ^ 1.5`, tolerance: GO_MATH },
  { q: `sgn(deriv(${TTFT}_sum{P}[10m]))` },
  { q: `label_replace(rate(${REQ}{P}[5m]), "family", "$1", "model_name", "([^/]+)/.*")` },
  { q: `label_join(${REQ}{P}, "target", ":", "model_name", "service_tier")` },
  // absent.
  { q: `absent(${REQ}{project_id="$P", model_name="no-such-model"})` },
  { q: `absent(${REQ}{project_id="$P"})` },
  { q: `absent_over_time(${REQ}{project_id="$P", model_name="$M3"}[10m])` },
  { q: `absent(nonexistent_metric{project_id="$P", service_tier=~"p.*"})` },
  // *_over_time and subqueries.
  { q: `avg_over_time(${TTFT}_sum{P}[10m])`, tolerance: AVG_KAHAN },
  { q: `sum_over_time(${REQ}{P}[5m])` },
  { q: `count_over_time(${REQ}{P}[5m])` },
  { q: `min_over_time(${OUT}{P}[20m]) + max_over_time(${OUT}{P}[20m])` },
  { q: `last_over_time(${REQ}{P,model_name="$M2"}[15m])` },
  { q: `present_over_time(${REQ}{P}[10m])` },
  { q: `quantile_over_time(0.9, ${TPOT}_sum{P}[30m])` },
  { q: `sum_over_time(${TTFT}_sum{P}[5m])` },
  { q: `stddev_over_time(${TPOT}_sum{P}[10m])` },
  { q: `stddev_over_time(${TTFT}_count{P}[10m])` },
  { q: `stdvar_over_time(${REQ}{P}[10m])` },
  { q: `max_over_time(rate(${REQ}{P}[1m])[30m:1m])` },
  { q: `quantile_over_time(0.9, rate(${OUT}{P}[1m])[1h:5m])` },
  { q: `stddev_over_time(rate(${REQ}{P}[1m])[30m:30s])` },
  { q: `avg_over_time(sum by (model_name) (rate(${REQ}{P}[5m]))[1h:])`, tolerance: AVG_KAHAN },
  { q: `max_over_time(${REQ}{P}[5m:15s])` },
  { q: `deriv(sum(rate(${OUT}{P}[5m]))[30m:1m])`, tolerance: DERIV_KAHAN },
  { q: `rate(sum by (service_tier) (${REQ}{P})[10m:30s])` },
  { q: `min_over_time(rate(${REQ}{P}[5m])[20m:2m] offset 10m)` },
  // Series of several metric names.
  { q: `sum by (__name__) ({P,__name__=~"crusoe_inference_(request|input_token|output_token)_count"})` },
  { q: `rate({P,__name__=~"crusoe_inference_(request|output_token)_count"}[5m])` },
  // Other projects: one with an idle target, one with a model shared with the first.
  { q: `sum by (model_name, service_tier) (rate(${REQ}{P}[5m]))`, project: 1 },
  { q: `histogram_quantile(0.9, sum by (le, model_name) (rate(${TTFT}_bucket{P}[5m])))`, project: 1 },
  { q: `rate(${OUT}{P}[5m]) / rate(${REQ}{P}[5m])`, project: 1 },
  { q: `histogram_quantile(0.5, rate(${TPOT}_bucket{P}[5m]))`, project: 1 },
  { q: `irate(${IN}{P}[1m]) == 0`, project: 1 },
  { q: `count by (service_tier) (${REQ}{P})`, project: 2 },
  { q: `topk(2, rate(${IN}{P}[10m]))`, project: 2, ordered: true },
];

// ---------------------------------------------------------------------------------------------
// Comparison.
// ---------------------------------------------------------------------------------------------

type Metric = Record<string, string>;
type Point = [number, string];
interface ApiBody {
  status: "success" | "error";
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

function metricKey(m: Metric): string {
  return JSON.stringify(
    Object.keys(m)
      .sort()
      .map((k) => [k, m[k]]),
  );
}

interface Outcome {
  mismatches: string[];
  /** Timestamp/value pairs compared. */
  points: number;
  /** Largest relative difference accepted below exact equality (0 if all exact). */
  maxRel: number;
}

function comparePoint(where: string, want: Point, got: Point, out: Outcome): void {
  out.points++;
  if (want[0] !== got[0]) {
    out.mismatches.push(`${where}: timestamp ${got[0]}, want ${want[0]}`);
    return;
  }
  if (want[1] === got[1]) return;
  const a = Number(want[1]);
  const b = Number(got[1]);
  const rel = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  if (Number.isFinite(rel) && rel <= REL_TOLERANCE) {
    out.maxRel = Math.max(out.maxRel, rel);
    out.mismatches.push(
      `~${where} @${want[0]}: value ${got[1]}, want ${want[1]} (relative ${rel.toExponential(2)})`,
    );
  } else {
    out.mismatches.push(`${where} @${want[0]}: value ${got[1]}, want ${want[1]}`);
  }
}

function compareSeriesList<T extends { metric: Metric }>(
  want: T[],
  got: T[],
  ordered: boolean,
  points: (s: T) => Point[],
  out: Outcome,
): void {
  const index = (list: T[], side: string) => {
    const m = new Map<string, T>();
    for (const s of list) {
      const k = metricKey(s.metric);
      if (m.has(k)) out.mismatches.push(`${side} has ${k} twice`);
      m.set(k, s);
    }
    return m;
  };
  const w = index(want, "Prometheus");
  const g = index(got, "service");
  for (const k of w.keys()) if (!g.has(k)) out.mismatches.push(`missing series ${k}`);
  for (const k of g.keys()) if (!w.has(k)) out.mismatches.push(`extra series ${k}`);
  if (ordered && want.length === got.length) {
    const wk = want.map((s) => metricKey(s.metric));
    const gk = got.map((s) => metricKey(s.metric));
    if (wk.join("\n") !== gk.join("\n")) out.mismatches.push(`order ${gk.join(" ")}, want ${wk.join(" ")}`);
  }
  for (const [k, ws] of w) {
    const gs = g.get(k);
    if (!gs) continue;
    const wp = points(ws);
    const gp = points(gs);
    if (wp.length !== gp.length) {
      const wt = new Set(wp.map((p) => p[0]));
      const gt = new Set(gp.map((p) => p[0]));
      const missing = wp.filter((p) => !gt.has(p[0])).map((p) => p[0]);
      const extra = gp.filter((p) => !wt.has(p[0])).map((p) => p[0]);
      out.mismatches.push(
        `${k}: ${gp.length} points, want ${wp.length} (missing ${missing.slice(0, 5).join(",")}; extra ${extra.slice(0, 5).join(",")})`,
      );
      continue;
    }
    for (let i = 0; i < wp.length; i++) comparePoint(k, wp[i], gp[i], out);
  }
}

function compareBodies(want: ApiBody, got: ApiBody, ordered: boolean): Outcome {
  const out: Outcome = { mismatches: [], points: 0, maxRel: 0 };
  if (want.status !== got.status) {
    out.mismatches.push(
      `status ${got.status} (${got.errorType ?? ""} ${got.error ?? ""}), want ${want.status} (${want.errorType ?? ""} ${want.error ?? ""})`,
    );
    return out;
  }
  if (want.status === "error") {
    if (want.errorType !== got.errorType) {
      out.mismatches.push(
        `errorType ${got.errorType} (${got.error}), want ${want.errorType} (${want.error})`,
      );
    }
    return out;
  }
  const wd = want.data!;
  const gd = got.data!;
  if (wd.resultType !== gd.resultType) {
    out.mismatches.push(`resultType ${gd.resultType}, want ${wd.resultType}`);
    return out;
  }
  switch (wd.resultType) {
    case "scalar":
      comparePoint("scalar", wd.result as Point, gd.result as Point, out);
      break;
    case "string":
      out.points++;
      if (JSON.stringify(wd.result) !== JSON.stringify(gd.result)) {
        out.mismatches.push(`string ${JSON.stringify(gd.result)}, want ${JSON.stringify(wd.result)}`);
      }
      break;
    case "vector": {
      type S = { metric: Metric; value: Point };
      compareSeriesList(wd.result as S[], gd.result as S[], ordered, (s) => [s.value], out);
      break;
    }
    case "matrix": {
      type S = { metric: Metric; values: Point[] };
      compareSeriesList(wd.result as S[], gd.result as S[], false, (s) => s.values, out);
      break;
    }
  }
  return out;
}

/** The first two samples of an instant vector, for the report (project_id left out). */
function brief(body: ApiBody): string {
  if (body.status !== "success") return `error ${body.errorType}: ${body.error}`;
  const result = body.data!.result as Array<{ metric: Metric; value: Point }>;
  const shown = result.slice(0, 2).map(({ metric, value }) => {
    const labels = Object.keys(metric)
      .filter((k) => k !== "project_id")
      .sort()
      .map((k) => `${k}="${metric[k]}"`);
    return `{${labels.join(",")}} ${value[1]}`;
  });
  return result.length > 2 ? `${shown.join(", ")}, … (${result.length} series)` : shown.join(", ");
}

// ---------------------------------------------------------------------------------------------
// Processes and HTTP.
// ---------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

/**
 * Prometheus runs under a small shell guard: it is killed when the guard gets SIGTERM, and also
 * when this process dies in any way (even SIGKILL), because the guard's stdin (a pipe from here)
 * then reaches end of file.
 */
const GUARD = [
  "exec 3<&0",
  '"$0" "$@" </dev/null &',
  "pid=$!",
  '(cat <&3 >/dev/null; kill "$pid" 2>/dev/null) &',
  "trap 'kill \"$pid\" 2>/dev/null' TERM INT HUP",
  'wait "$pid"',
  'wait "$pid" 2>/dev/null',
].join("\n");

class PrometheusProcess {
  private readonly child: ChildProcess;
  private exited = false;
  private readonly killOnExit = () => {
    if (!this.exited) this.child.kill("SIGTERM");
  };
  readonly exit: Promise<void>;

  constructor(
    readonly url: string,
    args: string[],
    readonly logFile: string,
  ) {
    const log = openSync(logFile, "a");
    this.child = spawn("sh", ["-c", GUARD, "prometheus", ...args], {
      stdio: ["pipe", log, log],
      detached: false,
    });
    closeSync(log);
    this.exit = new Promise((resolve) => {
      this.child.once("exit", () => {
        this.exited = true;
        resolve();
      });
    });
    process.once("exit", this.killOnExit);
  }

  get running(): boolean {
    return !this.exited;
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`prometheus exited:\n${readFileSync(this.logFile, "utf8")}`);
      try {
        const r = await fetch(`${this.url}/-/ready`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${readFileSync(this.logFile, "utf8")}`);
  }

  async stop(): Promise<void> {
    process.off("exit", this.killOnExit);
    if (this.exited) return;
    this.child.kill("SIGTERM");
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exit;
    clearTimeout(timer);
  }
}

interface Evaluation {
  label: string;
  params: Record<string, string>;
  kind: "query" | "query_range";
  /** Some of its times are multiples of 15 s, where subqueries' boundaries differ (2.x/3.x). */
  onGrid?: boolean;
}

async function ask(url: string, e: Evaluation, query: string, token?: string): Promise<ApiBody> {
  const body = new URLSearchParams({ query, ...e.params });
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  // Instant queries as GET, range queries as form POST: both servers serve both.
  const r =
    e.kind === "query"
      ? await fetch(`${url}/api/v1/query?${body}`, { headers })
      : await fetch(`${url}/api/v1/query_range`, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
          body,
        });
  const text = await r.text();
  try {
    return JSON.parse(text) as ApiBody;
  } catch {
    throw new Error(`${url} answered ${r.status}: ${text.slice(0, 300)}`);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Documented differences between Prometheus 2.42 and 3.x.
// ---------------------------------------------------------------------------------------------

/**
 * A counter whose first scrape comes after its process has already counted about one scrape
 * interval's worth (a new target that got traffic before Prometheus first scraped it). It lives
 * in a project of its own so the fleet's comparisons never see it.
 */
const PROBE_PROJECT = "f0f0f0f0-0000-4000-a000-000000000001";
function probeSeries(startMs: number): SampleSeries {
  const offsets = [387, 212, 466, -99, 125];
  const samples: Array<readonly [number, number]> = [];
  for (let k = 0; k < 40; k++) {
    const t = startMs + k * 15_000 + offsets[k % offsets.length];
    assert.ok(t % 1000 !== 0 && roundTrips(t));
    samples.push([t, 14 * (k + 1) + (k % 3)]);
  }
  return {
    labels: {
      __name__: "crusoe_inference_request_count",
      project_id: PROBE_PROJECT,
      model_name: "meta-llama/Llama-3.1-8B-Instruct",
      service_tier: "on_demand",
    },
    samples,
  };
}

/**
 * rate()/increase() of a counter as Prometheus 2.42 computes it (promql/functions.go
 * extrapolatedRate): the zero point of the counter caps the extrapolation before the threshold
 * test, so a counter that starts inside the window is extrapolated to its zero point.
 */
function extrapolated242(
  samples: ReadonlyArray<readonly [number, number]>,
  tMs: number,
  rangeMs: number,
  isRate: boolean,
): number {
  const s = samples.filter(([t]) => t > tMs - rangeMs && t <= tMs);
  let result = s[s.length - 1][1] - s[0][1];
  let durationToStart = (s[0][0] - (tMs - rangeMs)) / 1000;
  const durationToEnd = (tMs - s[s.length - 1][0]) / 1000;
  const sampledInterval = (s[s.length - 1][0] - s[0][0]) / 1000;
  const average = sampledInterval / (s.length - 1);
  if (result > 0 && s[0][1] >= 0) {
    const durationToZero = sampledInterval * (s[0][1] / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = average * 1.1;
  let extrapolateTo = sampledInterval;
  extrapolateTo += durationToStart < threshold ? durationToStart : average / 2;
  extrapolateTo += durationToEnd < threshold ? durationToEnd : average / 2;
  result = result * (extrapolateTo / sampledInterval);
  return isRate ? result / (rangeMs / 1000) : result;
}

/**
 * The same as 3.x computes it: the threshold test first (a start far from the window's start is
 * replaced by half a sample interval), then the zero point caps what is left.
 */
function extrapolated3(
  samples: ReadonlyArray<readonly [number, number]>,
  tMs: number,
  rangeMs: number,
  isRate: boolean,
): number {
  const s = samples.filter(([t]) => t > tMs - rangeMs && t <= tMs);
  const result = s[s.length - 1][1] - s[0][1];
  let durationToStart = (s[0][0] - (tMs - rangeMs)) / 1000;
  let durationToEnd = (tMs - s[s.length - 1][0]) / 1000;
  const sampledInterval = (s[s.length - 1][0] - s[0][0]) / 1000;
  const average = sampledInterval / (s.length - 1);
  const threshold = average * 1.1;
  if (durationToStart >= threshold) durationToStart = average / 2;
  if (result > 0 && s[0][1] >= 0) {
    const durationToZero = sampledInterval * (s[0][1] / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= threshold) durationToEnd = average / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= rangeMs / 1000;
  return result * factor;
}

/** One step of Kahan–Neumaier summation, as 3.x's kahanSumInc. */
function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (!Number.isFinite(t)) return [t, 0];
  return [t, Math.abs(sum) >= Math.abs(inc) ? c + (sum - t + inc) : c + (inc - t + sum)];
}

/** sum() as 2.42 aggregates: plain addition in series order. */
function plainSum(values: readonly number[]): number {
  let sum = values[0];
  for (let i = 1; i < values.length; i++) sum += values[i];
  return sum;
}

/** sum() as 3.x aggregates. */
function kahanSum(values: readonly number[]): number {
  let sum = values[0];
  let c = 0;
  for (let i = 1; i < values.length; i++) [sum, c] = kahanInc(values[i], sum, c);
  return sum + c;
}

/** avg() as 2.42 aggregates: a running mean. */
function runningMean(values: readonly number[]): number {
  let mean = values[0];
  for (let i = 1; i < values.length; i++) mean += values[i] / (i + 1) - mean / (i + 1);
  return mean;
}

/** avg() as 3.x aggregates (no overflow here): the Kahan sum and its compensation divided by the count. */
function kahanMean(values: readonly number[]): number {
  let sum = values[0];
  let c = 0;
  for (let i = 1; i < values.length; i++) [sum, c] = kahanInc(values[i], sum, c);
  return sum / values.length + c / values.length;
}

/** Prometheus's labels.Compare. */
function compareLabels(a: Metric, b: Metric): number {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
    if (a[ka[i]] !== b[kb[i]]) return a[ka[i]] < b[kb[i]] ? -1 : 1;
  }
  return ka.length - kb.length;
}

// ---------------------------------------------------------------------------------------------
// The suite.
// ---------------------------------------------------------------------------------------------

const missing = toolsMissing();
const inCi = process.env.CI === "true";

/** A query with a subquery in it: its inner steps sit on multiples of the subquery step. */
const SUBQUERY = /\[[^\]]*:[^\]]*\]/;

if (missing && inCi) {
  describe("equality with Prometheus", () => {
    it("needs prometheus and promtool", () => {
      assert.fail(`${missing}: CI must install Debian's prometheus package (see .ci/run)`);
    });
  });
} else if (missing) {
  describe("equality with Prometheus", () => {
    it("compares the service with a real Prometheus", {
      skip: `${missing}; skipped (CI=true fails instead)`,
    });
  });
} else {
  describe("equality with Prometheus", () => {
    let dir = "";
    let fleet: FleetData;
    let probe: SampleSeries;
    let prom: PrometheusProcess | undefined;
    let service: TestService | undefined;
    const tokens = new Map<string, string>();
    const evaluations: Evaluation[] = [];
    /** Lines for the report: values equal only within the tolerance, and 2.42/3.x differences. */
    const tolerated: string[] = [];
    const differences: string[] = [];
    const stats = { comparisons: 0, values: 0 };
    /** Per case checked (query and project): values compared, and reference answers that were errors. */
    const perCase = new Map<string, { c: Case; values: number; errors: number }>();

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "mim-promeq-"));
      fleet = generateFleet();
      probe = probeSeries(fleet.startMs + 30 * 60_000);
      const all = [...fleet.series, probe];
      const om = join(dir, "fleet.om");
      writeFileSync(om, toOpenMetrics(all));
      const data = join(dir, "prometheus");
      const importing = run("promtool", ["tsdb", "create-blocks-from", "openmetrics", om, data]);

      service = await startTestService();
      service.load(all);
      for (const p of [...fleet.projects, PROBE_PROJECT]) tokens.set(p, service.token(p));

      const imported = await importing;
      assert.equal(imported.code, 0, `promtool failed:\n${imported.output}`);
      const config = join(dir, "prometheus.yml");
      // No scrape configs; the evaluation interval is the default step of `[1h:]` subqueries.
      writeFileSync(config, "global:\n  evaluation_interval: 1m\n");
      const port = await freePort();
      prom = new PrometheusProcess(
        `http://127.0.0.1:${port}`,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${data}`,
          // Time retention counts back from the newest block, but be explicit: nothing is dropped.
          "--storage.tsdb.retention.time=100y",
          `--web.listen-address=127.0.0.1:${port}`,
          `--query.lookback-delta=${LOOKBACK}`,
          "--log.level=warn",
        ],
        join(dir, "prometheus.log"),
      );
      await prom.waitReady(30_000);

      // Evaluation times: whole seconds, at the moments where the fleet does something, never on
      // the 15 s grid that every subquery step here sits on (see the documented differences).
      const s = fleet.startMs / 1000;
      const e = fleet.endMs / 1000;
      const { reset, gap, deployed } = fleet.events;
      const off = (t: number) => (t % 15 === 0 ? t + 1 : t);
      const sec = (ms: number) => off(Math.floor(ms / 1000));
      const instants: Array<[string, number]> = [
        ["4 min in (windows longer than the data)", s + 247],
        ["37m13s in", s + 37 * 60 + 13],
        ["2 min after a model's deployment", sec(deployed.atMs + 131_000)],
        ["40 s after a counter reset", sec(reset.atMs + 40_000)],
        ["7 min into a scrape outage", sec(gap.fromMs + 422_000)],
        ["20 s after the outage", sec(gap.toMs + 22_000)],
        ["the end of the data", e + 4],
        ["3 min after the data", e + 183],
        ["8 min after the data", e + 484],
      ];
      for (const [label, t] of instants) {
        evaluations.push({ label: `instant, ${label}`, kind: "query", params: { time: String(t) } });
      }
      const ranges: Array<[string, number, number, number, boolean?]> = [
        ["the whole fleet, step 60s, unaligned", s + 17, e + 360, 60],
        ["reset and outage, step 15s", sec(reset.atMs - 20 * 60_000), sec(gap.toMs + 600_000), 15],
        ["the deployment, step 45s", sec(deployed.atMs - 300_000), sec(deployed.atMs + 1_800_000), 45],
        ["beyond both ends, step 5m", s - 592, e + 1208, 300],
        // A step shorter than the scrape interval: some steps land on the 15 s grid.
        ["the outage, step 7s", sec(gap.fromMs - 120_000), sec(gap.toMs + 120_000), 7, true],
      ];
      for (const [label, start, end, step, onGrid] of ranges) {
        evaluations.push({
          label: `range, ${label}`,
          kind: "query_range",
          params: { start: String(start), end: String(end), step: String(step) },
          onGrid,
        });
      }
    });

    after(async () => {
      await prom?.stop();
      await service?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Substitutes the placeholders; `scoped` keeps the project matcher for `{P}`. */
    function render(q: string, project: string, scoped: boolean): string {
      const models = fleet.models[project] ?? [];
      const vars: Record<string, string> = {
        P: project,
        M: models[0] ?? "",
        M2: models[1] ?? "",
        M3: models[2] ?? "",
      };
      return q
        .replaceAll("{P}", scoped ? `{project_id="${project}"}` : "{}")
        .replaceAll("{P,", scoped ? `{project_id="${project}",` : "{")
        .replace(/\$(M2|M3|M|P)\b/g, (_m, k: string) => vars[k]);
    }

    function ours(project: string) {
      return { url: service!.base(project), token: tokens.get(project)! };
    }

    async function check(c: Case, t: { diagnostic(msg: string): void }): Promise<void> {
      const project = fleet.projects[c.project ?? 0];
      const mine = ours(project);
      const scoped = render(c.q, project, true);
      const unscoped = render(c.q, project, false);
      const evals = evaluations.filter(
        (e) => !(c.instantOnly && e.kind === "query_range") && !(e.onGrid && SUBQUERY.test(c.q)),
      );
      const problems: string[] = [];
      const close = { evaluations: 0, values: 0, maxRel: 0 };
      const tally = { c, values: 0, errors: 0 };
      perCase.set(`${scoped} (project ${c.project ?? 0})`, tally);
      await pool(evals, 4, async (e) => {
        const [want, got, gotUnscoped] = await Promise.all([
          ask(prom!.url, e, scoped),
          ask(mine.url, e, scoped, mine.token),
          unscoped === scoped ? undefined : ask(mine.url, e, unscoped, mine.token),
        ]);
        for (const [variant, body] of [
          ["", got],
          [" (without the project matcher)", gotUnscoped],
        ] as const) {
          if (!body) continue;
          const o = compareBodies(want, body, c.ordered === true);
          stats.comparisons++;
          stats.values += o.points;
          tally.values += o.points;
          if (want.status === "error") tally.errors++;
          const exact = o.mismatches.filter((m) => !m.startsWith("~"));
          const near = o.mismatches.filter((m) => m.startsWith("~"));
          if (near.length > 0 && c.tolerance) {
            close.evaluations++;
            close.values += near.length;
            close.maxRel = Math.max(close.maxRel, o.maxRel);
          } else {
            exact.push(...near);
          }
          if (exact.length > 0) {
            problems.push(
              `${e.label}${variant}:\n    ${exact.slice(0, 8).join("\n    ")}${exact.length > 8 ? `\n    … ${exact.length - 8} more` : ""}`,
            );
          }
        }
      });
      if (close.values > 0) {
        const line = `${c.q}${c.project ? ` (project ${c.project})` : ""}: ${close.values} values in ${close.evaluations} answers, relative difference up to ${close.maxRel.toExponential(2)} (${c.tolerance})`;
        tolerated.push(line);
        t.diagnostic(line);
      }
      assert.ok(problems.length === 0, `${scoped}\n  ${problems.join("\n  ")}`);
    }

    it("Prometheus holds every generated sample", async () => {
      const expected = new Map<string, number>();
      for (const x of [...fleet.series, probe]) {
        const name = x.labels.__name__;
        expected.set(name, (expected.get(name) ?? 0) + x.samples.length);
      }
      const at: Evaluation = { label: "", kind: "query", params: { time: String(fleet.endMs / 1000 + 60) } };
      for (const [name, count] of expected) {
        const body = await ask(prom!.url, at, `sum(count_over_time(${name}[1d]))`);
        assert.equal(body.status, "success", body.error);
        const result = body.data!.result as Array<{ value: Point }>;
        assert.equal(result[0]?.value[1], String(count), name);
      }
    });

    describe("the page's five queries, every project and model", () => {
      for (const [i, q] of PAGE_QUERIES.entries()) {
        it(`query ${i + 1}: ${q.replace(/\{[^}]*\}/, "{…}")}`, async (t) => {
          for (const [project, p] of fleet.projects.entries()) {
            for (const m of fleet.models[p]) await check({ q: q.replace("$M", m), project }, t);
          }
        });
      }
    });

    describe("more PromQL", () => {
      for (const c of CASES) {
        it(c.project ? `${c.q} (project ${c.project})` : c.q, (t) => check(c, t));
      }
    });

    describe("where Prometheus 2.42 and 3.x differ", () => {
      it("sum() and avg() of floats: 3.x adds with Kahan compensation, 2.42 plainly", async (t) => {
        const project = fleet.projects[0];
        const mine = ours(project);
        const e = evaluations.find((x) => x.label.startsWith("range, the whole fleet"))!;
        const inner = render(`rate(${OUT}{P}[1m])`, project, true);
        const perSeries = await ask(prom!.url, e, inner);
        // Prometheus aggregates a step's samples in the order of its series: sorted by labels.
        type S = { metric: Metric; values: Point[] };
        const series = (perSeries.data!.result as S[]).sort((a, b) => compareLabels(a.metric, b.metric));
        const inputs = new Map<string, number[]>(); // tier and time → values in aggregation order
        for (const x of series) {
          for (const [ts, v] of x.values) {
            const key = `${x.metric.service_tier} ${ts}`;
            inputs.set(key, [...(inputs.get(key) ?? []), Number(v)]);
          }
        }
        for (const op of ["sum", "avg"] as const) {
          const q = render(`${op} by (service_tier) (rate(${OUT}{P}[1m]))`, project, true);
          const [p, o] = await Promise.all([ask(prom!.url, e, q), ask(mine.url, e, q, mine.token)]);
          let points = 0;
          let differ = 0;
          const example: string[] = [];
          for (const [which, body, reference] of [
            ["Prometheus 2.42", p, op === "sum" ? plainSum : runningMean],
            ["ours", o, op === "sum" ? kahanSum : kahanMean],
          ] as const) {
            for (const x of body.data!.result as S[]) {
              for (const [ts, v] of x.values) {
                const values = inputs.get(`${x.metric.service_tier} ${ts}`)!;
                assert.equal(
                  Number(v),
                  reference(values),
                  `${which}: ${q} at ${ts} over ${values.join(", ")}`,
                );
                if (which === "ours") {
                  points++;
                  const other = op === "sum" ? plainSum(values) : runningMean(values);
                  if (other !== Number(v)) {
                    differ++;
                    if (example.length === 0)
                      example.push(`@${ts} ${x.metric.service_tier}: 2.42 ${other}, 3.x ${v}`);
                  }
                }
              }
            }
          }
          const line = `${q}: ${differ} of ${points} points differ in the last bits, e.g. ${example[0] ?? "none"}`;
          differences.push(line);
          t.diagnostic(line);
        }
      });

      it("subquery ranges are left-open in 3.x: at a multiple of the step, 2.x has one more point", async (t) => {
        const project = fleet.projects[0];
        const mine = ours(project);
        // A time on the minute: the subquery's first step, t - 30m, is a multiple of 1m.
        const time = Math.floor(fleet.events.gap.fromMs / 60_000) * 60 + 7 * 60;
        const at: Evaluation = { label: "", kind: "query", params: { time: String(time) } };
        for (const q of [
          `count_over_time(rate(${REQ}{P}[1m])[30m:1m])`,
          `max_over_time(rate(${REQ}{P}[1m])[30m:1m])`,
        ]) {
          const text = render(q, project, true);
          // 2.42 with the range shortened by 1 ms selects what 3.x's left-open range selects.
          const leftOpen = text.replace("[30m:1m]", "[1799999ms:1m]");
          const [p, pOpen, o] = await Promise.all([
            ask(prom!.url, at, text),
            ask(prom!.url, at, leftOpen),
            ask(mine.url, at, text, mine.token),
          ]);
          assert.deepEqual(compareBodies(pOpen, o, false).mismatches, [], `${leftOpen} vs ours`);
          const diff = compareBodies(p, o, false).mismatches;
          if (q.startsWith("count")) assert.ok(diff.length > 0, "2.42 counts 31 points, 3.x 30");
          const line = q.startsWith("count")
            ? `${q} @${time}: Prometheus 2.42 ${brief(p)}; ours (3.x) ${brief(o)}`
            : `${q} @${time}: ${diff.length} of ${(p.data!.result as unknown[]).length} series differ (value: ours, want: 2.42): ${diff.slice(0, 2).join("; ")}`;
          differences.push(line);
          t.diagnostic(line);
        }
      });

      it("rate/increase of a counter that starts inside the window: 3.x extrapolates less", async (t) => {
        const mine = ours(PROBE_PROJECT);
        const time = Math.floor(probe.samples[0][0] / 1000) + 50;
        const at: Evaluation = { label: "", kind: "query", params: { time: String(time) } };
        for (const [fn, rangeMs] of [
          ["rate", 300_000],
          ["increase", 300_000],
          ["rate", 120_000],
        ] as const) {
          const q = `${fn}(${REQ}{project_id="${PROBE_PROJECT}"}[${rangeMs / 1000}s])`;
          const [p, o] = await Promise.all([ask(prom!.url, at, q), ask(mine.url, at, q, mine.token)]);
          const pv = Number((p.data!.result as Array<{ value: Point }>)[0].value[1]);
          const ov = Number((o.data!.result as Array<{ value: Point }>)[0].value[1]);
          const v2 = extrapolated242(probe.samples, time * 1000, rangeMs, fn === "rate");
          const v3 = extrapolated3(probe.samples, time * 1000, rangeMs, fn === "rate");
          assert.ok(
            Math.abs(pv - v2) <= 1e-12 * Math.abs(v2),
            `${q}: Prometheus ${pv}, 2.42's formula ${v2}`,
          );
          assert.ok(Math.abs(ov - v3) <= 1e-12 * Math.abs(v3), `${q}: ours ${ov}, 3.x's formula ${v3}`);
          const line = `${q} @${time}: Prometheus 2.42 ${pv}; ours (3.x) ${ov}`;
          differences.push(line);
          t.diagnostic(line);
        }
      });

      it("__name__ is dropped at the function, as a Prometheus 3.5 server does without promql-delayed-name-removal", async () => {
        const project = fleet.projects[0];
        const mine = ours(project);
        const at: Evaluation = { label: "", kind: "query", params: { time: String(fleet.endMs / 1000 + 4) } };
        for (const q of [`label_replace(rate(${REQ}{P}[5m]), "name", "$1", "__name__", "(.+)")`]) {
          const text = render(q, project, true);
          const [p, o] = await Promise.all([ask(prom!.url, at, text), ask(mine.url, at, text, mine.token)]);
          assert.deepEqual(compareBodies(p, o, false).mismatches, [], q);
        }
      });
    });

    it("report: every case compared something, except those empty on purpose", (t) => {
      t.diagnostic(
        `${CASES.length} queries plus the page's five for each of ${Object.values(fleet.models).flat().length} project models, at ${evaluations.filter((e) => e.kind === "query").length} instants and over ${evaluations.filter((e) => e.kind === "query_range").length} ranges: ${stats.comparisons} answers compared (with and without the project matcher), ${stats.values} values`,
      );
      for (const line of tolerated) t.diagnostic(`within ${REL_TOLERANCE}: ${line}`);
      for (const line of differences) t.diagnostic(`2.42 vs 3.x: ${line}`);
      // Equal answers prove something only if there was something to compare: every case ran, and
      // each compared values (or errors) unless it is marked as empty on purpose, and those were.
      const projectModels = Object.values(fleet.models).flat().length;
      assert.equal(perCase.size, CASES.length + PAGE_QUERIES.length * projectModels, "cases checked");
      const vacuous = [...perCase]
        .filter(([, x]) => x.c.empty === undefined && x.values === 0 && x.errors === 0)
        .map(([k]) => k);
      assert.deepEqual(vacuous, [], "cases whose answers were empty in both: nothing was compared");
      const notEmpty = [...perCase]
        .filter(([, x]) => x.c.empty !== undefined && x.values > 0)
        .map(([k]) => k);
      assert.deepEqual(notEmpty, [], "cases marked empty that compared values");
      // One line per documented difference: two aggregations, two subqueries, three rates.
      assert.equal(differences.length, 7, differences.join("\n"));
    });
  });
}
