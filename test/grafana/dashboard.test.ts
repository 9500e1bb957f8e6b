/**
 * grafana/dashboard.json and grafana/datasource.yaml, used the way Grafana 10/11 uses them
 * (/work/shared/research/prom-api-compat.md, section 1):
 * - the dashboard is importable (a data-source input, a data-source variable that every panel and
 *   target refers to, unique refIds) and its panels carry the page's exact queries;
 * - the provisioning file, with its environment variables expanded as Grafana expands them, gives
 *   the URL and Authorization header that every request below is sent with;
 * - with the simulated fleet's traffic (through the real gateway) in a test service, each
 *   `label_values()` variable is resolved through the label-values endpoint, values are picked (All,
 *   one, two) and substituted with Grafana's regex escaping, and every panel target runs as Grafana's
 *   backend runs it: a form POST to query_range with Grafana's step and start/end aligned to it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { TPOT_QUANTILES, TTFT_QUANTILES } from "../../src/catalog/metrics.js";
import { pageQueries } from "../../src/cli/banner.js";
import { type Gateway, parseGatewayConfig, startGateway } from "../../src/gateway/index.js";
import { DEMO_MODELS, type SimFleet, startSimFleet } from "../../src/sim/fleet.js";
import { type LoadStats, runLoad } from "../../src/sim/load.js";
import { startRouteService, type TestService } from "../api/harness.js";
import {
  alignToStep,
  expandBuiltins,
  expandProvisioningEnv,
  formatVariable,
  goValues,
  grafanaIntervals,
  interpolateVariables,
  parseLabelValues,
} from "./grafana-emulation.js";

interface DsRef {
  type?: string;
  uid?: string;
}
interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: DsRef;
  range?: boolean;
  instant?: boolean;
  interval?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DsRef;
  interval?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit?: string } };
  targets: Target[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: DsRef;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value?: unknown };
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dir = new URL("../../grafana/", import.meta.url);
const dashboardText = readFileSync(new URL("dashboard.json", dir), "utf8");
const dashboard = JSON.parse(dashboardText) as Dashboard;
const variables = dashboard.templating.list;
const queryVariables = variables.filter((v) => v.type === "query");

/** What panels, targets and variables name as their data source: the data-source variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
const DS_REF = { type: "prometheus", uid: "${datasource}" };

/** The page's selector in pageQueries() and the dashboard's, which the variables fill. */
const PAGE_SELECTOR = '{project_id="P", model_name="M"}';
const DASHBOARD_SELECTOR = '{model_name=~"$model_name", service_tier=~"$service_tier"}';

describe("grafana/dashboard.json is importable and carries the page's queries", () => {
  test("a Prometheus data-source input, and a data-source variable defaulting to it", () => {
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `${dashboard.schemaVersion}`);
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.equal(dashboard.__inputs.length, 1);
    const [input] = dashboard.__inputs;
    assert.deepEqual([input.type, input.pluginId], ["datasource", "prometheus"]);
    const ds = variables.find((v) => v.type === "datasource");
    assert.ok(ds, "a variable of type datasource");
    assert.equal(ds.name, "datasource");
    assert.equal(ds.query, "prometheus");
    // Import replaces ${DS_…} with the chosen data source, so the variable starts on it.
    assert.equal(ds.current?.value, `\${${input.name}}`);
  });

  test("every variable reference is an input, a variable or a Grafana built-in", () => {
    const known = new Set([...dashboard.__inputs.map((i) => i.name), ...variables.map((v) => v.name)]);
    for (const m of dashboardText.matchAll(/\$\{(\w+)[^}]*\}|\$(\w+)/g)) {
      const name = m[1] ?? m[2];
      assert.ok(known.has(name) || name.startsWith("__"), `unknown reference ${m[0]}`);
    }
  });

  test("model_name and service_tier: label_values() of the request counter, multi-value with All", () => {
    assert.deepEqual(
      queryVariables.map((v) => v.name),
      ["model_name", "service_tier"],
    );
    for (const v of queryVariables) {
      assert.deepEqual(v.datasource, DS_REF);
      const query = typeof v.query === "string" ? v.query : v.query?.query;
      assert.equal(query, v.definition, "the editor's query and the shown definition agree");
      assert.deepEqual(parseLabelValues(query ?? ""), {
        metric: "crusoe_inference_request_count",
        label: v.name,
      });
      assert.equal(v.multi, true);
      assert.equal(v.includeAll, true);
    }
  });

  test("five time-series panels on the data-source variable; unique ids and refIds; no overlaps", () => {
    assert.equal(dashboard.panels.length, 5);
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, 5);
    for (const p of dashboard.panels) {
      assert.equal(p.type, "timeseries");
      assert.deepEqual(p.datasource, DS_REF, p.title);
      assert.equal(p.interval, "60s", `${p.title}: min interval (the metrics move once a minute)`);
      assert.ok(p.targets.length > 0);
      assert.equal(new Set(p.targets.map((t) => t.refId)).size, p.targets.length, `${p.title}: refIds`);
      for (const t of p.targets) {
        assert.deepEqual(t.datasource, DS_REF, `${p.title} ${t.refId}`);
        assert.equal(t.range, true, "a range query, as the test runs it");
        assert.notEqual(t.instant, true);
        // A per-query Min step would change Grafana's step; grafanaIntervals.forPanel assumes none.
        assert.equal(t.interval ?? "", "");
        assert.match(t.legendFormat ?? "", /\{\{model_name\}\}/);
      }
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${p.title}: gridPos`);
      for (const q of dashboard.panels) {
        const o = q.gridPos;
        const overlap = q !== p && g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h;
        assert.ok(!overlap, `${p.title} overlaps ${q.title}`);
      }
    }
  });

  test("target A of each panel is the page's query; the latency panels add p90 and p99; units", () => {
    const page = pageQueries("P", "M").map((q) => {
      assert.ok(q.includes(PAGE_SELECTOR), q);
      return q.replaceAll(PAGE_SELECTOR, DASHBOARD_SELECTOR);
    });
    dashboard.panels.forEach((p, i) => {
      assert.equal(p.targets[0].expr, page[i], p.title);
    });
    for (const p of dashboard.panels.slice(3)) {
      assert.deepEqual(
        p.targets.map((t) => t.expr),
        ["0.5", "0.9", "0.99"].map((q) => page[dashboard.panels.indexOf(p)].replace("( 0.5,", `( ${q},`)),
      );
    }
    assert.deepEqual(
      dashboard.panels.map((p) => p.fieldConfig.defaults.unit),
      ["reqps", "count:tokens/s", "count:tokens/s", "s", "s"],
    );
  });

  test("no target reads a recorded series (so no recording rules need evaluating here)", () => {
    // If one ever does, the live test below must run the rule manager over the fleet's samples.
    for (const p of dashboard.panels) {
      for (const t of p.targets)
        assert.doesNotMatch(t.expr, new RegExp(`${TTFT_QUANTILES}|${TPOT_QUANTILES}`));
    }
  });
});

/** grafana/datasource.yaml as Grafana provisions it, with these environment variables. */
function provisionedDataSource(env: Record<string, string>) {
  const file = parseYaml(readFileSync(new URL("datasource.yaml", dir), "utf8")) as {
    apiVersion: number;
    datasources: Array<Record<string, unknown>>;
  };
  assert.equal(file.apiVersion, 1);
  assert.equal(file.datasources.length, 1);
  const ds = expandProvisioningEnv(file.datasources[0], env) as {
    type: string;
    url: string;
    access: string;
    jsonData: Record<string, string>;
    secureJsonData: Record<string, string>;
  };
  assert.equal(ds.type, "prometheus");
  assert.equal(ds.access, "proxy");
  const headers: Record<string, string> = {};
  for (let i = 1; ds.jsonData[`httpHeaderName${i}`] !== undefined; i++) {
    headers[ds.jsonData[`httpHeaderName${i}`]] = ds.secureJsonData[`httpHeaderValue${i}`];
  }
  return { ...ds, headers };
}

describe("grafana/datasource.yaml", () => {
  test("expands MIM_QUERY_URL and MIM_MONITORING_TOKEN into the URL and Authorization header", () => {
    const ds = provisionedDataSource({
      MIM_QUERY_URL: "https://mim.example/v1alpha5/projects/p1/metrics/timeseries",
      MIM_MONITORING_TOKEN: "mim_mon_abc",
    });
    assert.equal(ds.url, "https://mim.example/v1alpha5/projects/p1/metrics/timeseries");
    assert.deepEqual(ds.headers, { Authorization: "Bearer mim_mon_abc" });
    assert.deepEqual(
      [ds.jsonData.httpMethod, ds.jsonData.timeInterval, ds.jsonData.prometheusType],
      ["POST", "60s", "Prometheus"],
    );
  });
});

// ---------------------------------------------------------------------------------------------

const PROJECT = "demo";
const REQUESTS_PER_STREAM = 30;
/** A panel's maxDataPoints: its width in pixels (Grafana's default when the panel sets none). */
const MAX_DATA_POINTS = 800;
/** Sample time runs this many times faster than real time (see the gateway's clock below). */
const SPEEDUP = 60;
const RANGES = [
  { label: "last 1 hour", ms: 3_600_000, step: 60 },
  { label: "last 6 hours", ms: 6 * 3_600_000, step: 60 },
  { label: "last 24 hours", ms: 24 * 3_600_000, step: 120 },
];

interface Matrix {
  status: string;
  data: {
    resultType: string;
    result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
  };
}

describe("the dashboard's variables and queries against the API, as Grafana runs them", () => {
  let s: TestService;
  let fleet: SimFleet;
  let gateway: Gateway;
  let gatewayOpen = true;
  let stats: LoadStats;
  let ds: ReturnType<typeof provisionedDataSource>;

  /** One request as Grafana's backend sends it: the data source's URL joined with the endpoint, its headers. */
  async function call(method: string, endpoint: string, params: Record<string, string>) {
    const url = `${ds.url.replace(/\/+$/, "")}/${endpoint}`;
    const body = goValues(params);
    const res =
      method === "GET"
        ? await s.fetch(`${url}?${body}`, { headers: ds.headers })
        : await s.fetch(url, {
            method,
            headers: { ...ds.headers, "Content-Type": "application/x-www-form-urlencoded" },
            body,
          });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  before(async () => {
    s = await startRouteService();
    fleet = await startSimFleet({ seed: 7 });
    // Grafana aligns a panel's end down to a multiple of its step, so the current minute is never
    // drawn. So the samples are stamped in the past, and one real second (one flush) is a minute
    // of sample time, the cadence the metrics have in production: a few seconds of traffic give
    // the [300s] windows several points each, ending well before "now".
    const t0 = Date.now();
    const simStart = Math.floor(t0 / 60_000) * 60_000 - 40 * 60_000;
    gateway = await startGateway({
      config: parseGatewayConfig(fleet.gatewayConfig, "test fleet"),
      appendable: s.db,
      flushIntervalMs: 1_000,
      now: () => simStart + (Date.now() - t0) * SPEEDUP,
    });
    stats = await runLoad({
      baseUrl: gateway.url,
      seed: 7,
      streams: fleet.loadStreams.map((st) => ({ ...st, rate: 5, count: REQUESTS_PER_STREAM })),
      maxTokensFraction: 1,
      maxTokens: { kind: "uniform", min: 8, max: 24 },
      promptTokens: { kind: "uniform", min: 20, max: 400 },
    });
    // Closing flushes a last time and stops the clock-driven flushes, which would otherwise keep
    // adding (unchanged) samples at ever later times while the queries run.
    await gateway.close();
    gatewayOpen = false;
    const lastSample = simStart + (Date.now() - t0) * SPEEDUP;
    assert.ok(lastSample < Date.now() - 5 * 60_000, "traffic took too long: samples would reach now");
    ds = provisionedDataSource({ MIM_QUERY_URL: s.base(PROJECT), MIM_MONITORING_TOKEN: s.token(PROJECT) });
  });
  after(async () => {
    if (gatewayOpen) await gateway?.close();
    await fleet?.close();
    await s?.close();
  });

  test("the fleet sent exactly the requests asked for, without errors", () => {
    assert.equal(stats.total.sent, REQUESTS_PER_STREAM * fleet.loadStreams.length);
    assert.equal(stats.total.errors, 0, JSON.stringify(stats.total.errorsByKind));
  });

  test("Save & test passes with the provisioned URL and header, and fails without the header", async () => {
    const ok = await call(ds.jsonData.httpMethod, "api/v1/query", { query: "1+1", time: "4" });
    assert.deepEqual(ok, {
      status: 200,
      json: { status: "success", data: { resultType: "scalar", result: [4, "2"] } },
    });
    const res = await s.fetch(`${ds.url}/api/v1/query`, {
      method: "POST",
      body: goValues({ query: "1+1", time: "4" }),
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });

  test("every target, for All / one / two values of each variable, over 1 h, 6 h and 24 h", async () => {
    const models = DEMO_MODELS.map((m) => m.name).sort();
    const tierOf = new Map(DEMO_MODELS.map((m) => [m.name, m.serviceTier as string]));
    const tiers = [...new Set(tierOf.values())].sort();
    type Pick = "all" | string[];
    const selections: Array<{ model_name: Pick; service_tier: Pick }> = [
      { model_name: "all", service_tier: "all" },
      { model_name: [models[0]], service_tier: "all" },
      { model_name: models, service_tier: "all" },
      { model_name: models, service_tier: [tiers[1]] },
      { model_name: "all", service_tier: tiers },
    ];
    const scrapeMs = grafanaIntervals.parse(ds.jsonData.timeInterval);
    const now = Date.now();
    let queries = 0;
    for (const range of RANGES) {
      const from = now - range.ms;
      // Variables refresh on time-range change: Grafana's label_values() resource call, always a GET,
      // with the range snapped to whole minutes.
      const options: Record<string, string[]> = {};
      for (const v of queryVariables) {
        const q = parseLabelValues(typeof v.query === "string" ? v.query : (v.query?.query ?? ""));
        const r = await call("GET", `api/v1/label/${q.label}/values`, {
          "match[]": q.metric,
          start: String(Math.floor(from / 60_000) * 60),
          end: String(Math.ceil(now / 60_000) * 60),
          limit: "40000",
        });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        options[v.name] = r.json.data as string[];
      }
      assert.deepEqual({ ...options }, { model_name: models, service_tier: tiers });

      const allResults = new Map<string, Matrix["data"]["result"]>();
      for (const sel of selections) {
        const values: Record<string, string> = {};
        for (const v of queryVariables) {
          values[v.name] = formatVariable(v, sel[v.name as keyof typeof sel], options[v.name]);
        }
        const pickedModels = sel.model_name === "all" ? models : sel.model_name;
        const pickedTiers = sel.service_tier === "all" ? tiers : sel.service_tier;
        const expected = pickedModels.filter((m) => pickedTiers.includes(tierOf.get(m)!));
        for (const panel of dashboard.panels) {
          const iv = grafanaIntervals.forPanel(range.ms, MAX_DATA_POINTS, panel.interval, scrapeMs);
          assert.equal(iv.stepMs, range.step * 1000, `${range.label}: Grafana's step`);
          for (const t of panel.targets) {
            const expr = expandBuiltins(interpolateVariables(t.expr, values), { ...iv, rangeMs: range.ms });
            assert.doesNotMatch(expr, /\$/, "every variable is filled");
            const where = `${range.label}, ${JSON.stringify(sel)}: ${panel.title} ${t.refId}: ${expr}`;
            const r = await call(ds.jsonData.httpMethod, "api/v1/query_range", {
              query: expr,
              start: String(alignToStep(from, iv.stepMs) / 1000),
              end: String(alignToStep(now, iv.stepMs) / 1000),
              step: String(iv.stepMs / 1000),
            });
            queries++;
            const body = r.json as unknown as Matrix;
            assert.equal(r.status, 200, `${where}\n${JSON.stringify(body)}`);
            assert.equal(body.data.resultType, "matrix");
            const result = body.data.result;
            assert.deepEqual(
              result.map((x) => x.metric.model_name),
              expected,
              where,
            );
            for (const series of result) {
              const finite = series.values.map(([, v]) => Number(v)).filter(Number.isFinite);
              assert.ok(finite.length > 0, `${where}: ${series.metric.model_name} has no numbers`);
              assert.ok(
                finite.every((v) => v >= 0 && (panel.fieldConfig.defaults.unit !== "s" || v < 60)),
                where,
              );
            }
            // Filtering picks series out of the All answer and changes none of their points.
            const key = `${panel.id}/${t.refId}`;
            if (sel.model_name === "all" && sel.service_tier === "all") allResults.set(key, result);
            const all = allResults.get(key)!;
            for (const series of result) {
              assert.deepEqual(
                series,
                all.find((x) => x.metric.model_name === series.metric.model_name),
                where,
              );
            }
          }
        }
      }
    }
    const targets = dashboard.panels.reduce((n, p) => n + p.targets.length, 0);
    assert.equal(queries, RANGES.length * selections.length * targets);
  });

  test("two models become Grafana's escaped alternation, one model a bare escaped value", () => {
    const v = queryVariables[0];
    const models = DEMO_MODELS.map((m) => m.name).sort();
    assert.equal(
      formatVariable(v, models, models),
      "(meta-llama/Llama-3\\\\.1-8B-Instruct|meta-llama/Llama-3\\\\.3-70B-Instruct)",
    );
    assert.equal(formatVariable(v, [models[1]], models), "meta-llama/Llama-3\\\\.3-70B-Instruct");
    assert.equal(formatVariable(v, "all", models), ".*");
  });
});
