/**
 * A replay of what Grafana's built-in Prometheus data source (11.x/12.x, backend `pkg/promlib`)
 * sends to a project's base URL, byte for byte where it matters: POST form bodies encoded as Go's
 * url.Values.Encode (keys sorted, `+` for space), custom query parameters in the URL of POSTs,
 * resource calls with integer-second times, the millisecond exemplar probe, and the GET fallback
 * after a 405. See /work/shared/research/prom-api-compat.md, section 1.
 *
 * Exact JSON is asserted where Grafana's parser cares: values as strings, timestamps as numbers,
 * `[]` never null, and every failure a JSON envelope with a non-2xx status.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { METRIC_FAMILIES } from "../../src/catalog/metrics.js";
import {
  assertClose,
  counter,
  END_MS,
  expectedRateByModel,
  INPUT_TOKENS,
  MODELS,
  OTHER,
  OUTPUT_TOKENS,
  PROJECT,
  projectData,
  REQUESTS,
  START_MS,
  useClientService,
} from "./client-fixtures.js";
import type { SampleSeries } from "./harness.js";

const DATA = projectData(PROJECT, 11, MODELS);
// The other project: a model and a metric family this project does not have.
const OTHER_DATA: SampleSeries[] = [
  counter(
    { __name__: REQUESTS, project_id: OTHER, model_name: "secret-model", service_tier: "on_demand" },
    900,
  ),
  counter(
    { __name__: OUTPUT_TOKENS, project_id: OTHER, model_name: "secret-model", service_tier: "on_demand" },
    901,
  ),
];

// ---------------------------------------------------------------------------------------------
// What Grafana's Go HTTP client puts on the wire.

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay; space is "+". */
function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** Go's url.Values.Encode(): keys sorted, each value in order. */
function goValues(params: Record<string, string | readonly string[]>): string {
  return Object.keys(params)
    .sort()
    .flatMap((k) => {
      const v = params[k];
      return (typeof v === "string" ? [v] : v).map((x) => `${goQueryEscape(k)}=${goQueryEscape(x)}`);
    })
    .join("&");
}

/** strconv.FormatFloat(sec, 'f', -1, 64) of a ms time: what Grafana sends as start/end/time. */
const goSeconds = (ms: number) => String(ms / 1000);

/** Prometheus's MarshalTimestamp: seconds, then "." and three digits if the ms part is not 0. */
function promTs(ms: number): string {
  const frac = ms % 1000;
  return frac === 0 ? String(ms / 1000) : `${Math.floor(ms / 1000)}.${String(frac).padStart(3, "0")}`;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface Envelope {
  status: string;
  data?: unknown;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

const svc = useClientService([...DATA, ...OTHER_DATA]);

/**
 * One request as Grafana's backend sends it: the data source's Authorization header, Grafana's
 * tracing headers, Go's Accept-Encoding, and for POST a form body with its content type.
 */
async function grafana(
  method: "GET" | "POST",
  path: string,
  opts: { query?: string; form?: string; auth?: string | null; project?: string } = {},
): Promise<Reply> {
  const url = `${svc.service.base(opts.project ?? PROJECT)}/${path}${opts.query ? `?${opts.query}` : ""}`;
  const headers: Record<string, string> = {
    "User-Agent": "Grafana/11.3.0",
    "Accept-Encoding": "gzip",
    "X-Dashboard-Uid": "inference-overview",
    "X-Panel-Id": "4",
    "X-Grafana-Org-Id": "1",
  };
  const auth = opts.auth === undefined ? `Bearer ${svc.token}` : opts.auth;
  if (auth !== null) headers.Authorization = auth;
  if (method === "POST") headers["Content-Type"] = "application/x-www-form-urlencoded";
  const res = await svc.service.fetch(url, {
    method,
    headers,
    body: method === "POST" ? (opts.form ?? "") : undefined,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`${method} ${path}: body is not JSON (Grafana cannot parse it): ${text.slice(0, 200)}`);
  }
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `${method} ${path} content type`);
  // Never a 2xx with status "error" (clients would take it for success), nor an error without one.
  const env = json as Envelope;
  assert.equal(
    env.status,
    res.status === 200 ? "success" : "error",
    `${method} ${path} ${res.status}: ${text}`,
  );
  return { status: res.status, headers: res.headers, text, json };
}

/** A failure's envelope: exactly status, errorType and error. */
function assertErrorEnvelope(r: Reply, status: number, errorType: string): string {
  assert.equal(r.status, status, r.text);
  const env = r.json as Envelope;
  assert.deepEqual(Object.keys(env).sort(), ["error", "errorType", "status"], r.text);
  assert.equal(env.errorType, errorType);
  assert.equal(typeof env.error, "string");
  assert.ok(env.error!.length > 0);
  return env.error!;
}

/** Frontend resource calls: integer seconds, the range snapped to whole minutes. */
const RES_START = String(Math.floor(START_MS / 60_000) * 60);
const RES_END = String(Math.ceil(END_MS / 60_000) * 60);

describe("Grafana: Save & test", () => {
  test("health check: POST api/v1/query with query=1%2B1&time=4 answers the exact scalar", async () => {
    const form = goValues({ query: "1+1", time: "4" });
    assert.equal(form, "query=1%2B1&time=4");
    const r = await grafana("POST", "api/v1/query", { form });
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}');
  });

  test("health check with the data source's query timeout set", async () => {
    const r = await grafana("POST", "api/v1/query", {
      form: goValues({ query: "1+1", time: "4", timeout: "60s" }),
    });
    assert.equal(r.text, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}');
  });

  test("heuristics: GET api/v1/status/buildinfo has a semver version and no features", async () => {
    const r = await grafana("GET", "api/v1/status/buildinfo");
    assert.equal(r.status, 200);
    const data = (r.json as Envelope).data as Record<string, unknown>;
    assert.deepEqual(Object.keys(data).sort(), [
      "branch",
      "buildDate",
      "buildUser",
      "goVersion",
      "revision",
      "version",
    ]);
    for (const [k, v] of Object.entries(data)) assert.equal(typeof v, "string", k);
    assert.match(
      String(data.version),
      /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/,
    );
    assert.equal("features" in data, false, "a features map makes Grafana classify the server as Mimir");
  });
});

describe("Grafana: data source init", () => {
  test("exemplar probe: POST with the params in the URL, start/end in ms, query=test → []", async () => {
    const now = Date.now();
    const query = goValues({ end: String(now), query: "test", start: String(now - 30 * 60_000) });
    const post = await grafana("POST", "api/v1/query_exemplars", { query });
    assert.equal(post.status, 200);
    assert.equal(post.text, '{"status":"success","data":[]}');
    // The browser's own GET, and the query path's form POST, get the same.
    const get = await grafana("GET", "api/v1/query_exemplars", { query });
    assert.equal(get.text, '{"status":"success","data":[]}');
    const form = await grafana("POST", "api/v1/query_exemplars", {
      form: goValues({
        end: goSeconds(END_MS),
        query: `rate(${REQUESTS}[1m30s])`,
        start: goSeconds(START_MS),
      }),
    });
    assert.equal(form.text, '{"status":"success","data":[]}');
  });

  test("GET api/v1/rules and api/v1/alerts: empty lists, not null", async () => {
    assert.equal((await grafana("GET", "api/v1/rules")).text, '{"status":"success","data":{"groups":[]}}');
    assert.equal((await grafana("GET", "api/v1/alerts")).text, '{"status":"success","data":{"alerts":[]}}');
  });
});

describe("Grafana: metrics browser, autocomplete and variables", () => {
  test("metric names: GET api/v1/label/__name__/values?start&end&limit=40000 (this project only)", async () => {
    const r = await grafana("GET", "api/v1/label/__name__/values", {
      query: goValues({ end: RES_END, limit: "40000", start: RES_START }),
    });
    assert.equal(r.text, JSON.stringify({ status: "success", data: [INPUT_TOKENS, REQUESTS] }));
  });

  test("label values with match[], as label_values(metric{…}, label) variables send them", async () => {
    const values = (match: string) =>
      grafana("GET", "api/v1/label/model_name/values", {
        query: goValues({ end: RES_END, limit: "40000", "match[]": match, start: RES_START }),
      });
    assert.equal((await values(REQUESTS)).text, JSON.stringify({ status: "success", data: MODELS }));
    assert.equal(
      (await values(`${REQUESTS}{model_name=~"(mistral-7b-instruct|secret-model)"}`)).text,
      JSON.stringify({ status: "success", data: [MODELS[1]] }),
    );
    assert.equal((await values(`${OUTPUT_TOKENS}`)).text, '{"status":"success","data":[]}');
    // Two match[] are OR-ed.
    const two = await grafana("GET", "api/v1/label/service_tier/values", {
      query: goValues({
        "match[]": [
          `${REQUESTS}{model_name="${MODELS[0]}",service_tier="pt"}`,
          `${INPUT_TOKENS}{service_tier="on_demand"}`,
        ],
      }),
    });
    assert.equal(two.text, JSON.stringify({ status: "success", data: ["on_demand", "pt"] }));
  });

  test("POST to label values is 405 (JSON, Allow: GET), and the GET retry with the body's params works", async () => {
    const params = { end: RES_END, "match[]": `${REQUESTS}{service_tier="pt"}`, start: RES_START };
    const post = await grafana("POST", "api/v1/label/model_name/values", { form: goValues(params) });
    assertErrorEnvelope(post, 405, "method_not_allowed");
    assert.equal(post.headers.get("allow"), "GET");
    const retry = await grafana("GET", "api/v1/label/model_name/values", { query: goValues(params) });
    assert.equal(retry.text, JSON.stringify({ status: "success", data: MODELS }));
  });

  test("POST api/v1/labels: form body and the data source's custom query parameters are both honoured", async () => {
    // Grafana regex-escapes variable values: "." is sent as \\. inside the PromQL string.
    const form = goValues({
      end: RES_END,
      "match[]": `${REQUESTS}{model_name=~"(llama-3\\\\.1-70b-instruct)"}`,
      start: RES_START,
    });
    // Unknown custom parameters are ignored.
    const plain = await grafana("POST", "api/v1/labels", {
      query: "max_source_resolution=5m&partial_response=false",
      form,
    });
    assert.equal(
      plain.text,
      JSON.stringify({ status: "success", data: ["__name__", "model_name", "project_id", "service_tier"] }),
    );
    // A known one in the URL applies together with the body's match[].
    const limited = await grafana("POST", "api/v1/labels", { query: "partial_response=false&limit=2", form });
    assert.equal(
      limited.text,
      JSON.stringify({
        status: "success",
        data: ["__name__", "model_name"],
        warnings: ["results truncated due to limit"],
      }),
    );
    // On a conflict the body wins, as with Go's r.FormValue.
    const bodyWins = await grafana("POST", "api/v1/labels", {
      query: "limit=2",
      form: `${form}&limit=40000`,
    });
    assert.deepEqual((bodyWins.json as Envelope).data, [
      "__name__",
      "model_name",
      "project_id",
      "service_tier",
    ]);
    assert.equal((bodyWins.json as Envelope).warnings, undefined);
  });

  test("POST api/v1/series: match[] from the body and from the URL are OR-ed, sorted by labels", async () => {
    const r = await grafana("POST", "api/v1/series", {
      query: goValues({ "match[]": `${INPUT_TOKENS}{model_name="${MODELS[0]}"}` }),
      form: goValues({
        end: RES_END,
        limit: "40000",
        "match[]": `${REQUESTS}{service_tier="pt"}`,
        start: RES_START,
      }),
    });
    const series = (name: string, model: string, tier: string) => ({
      __name__: name,
      model_name: model,
      project_id: PROJECT,
      service_tier: tier,
    });
    assert.equal(
      r.text,
      JSON.stringify({
        status: "success",
        data: [
          series(INPUT_TOKENS, MODELS[0], "on_demand"),
          series(INPUT_TOKENS, MODELS[0], "pt"),
          series(REQUESTS, MODELS[0], "pt"),
          series(REQUESTS, MODELS[1], "pt"),
        ],
      }),
    );
  });

  test("GET api/v1/metadata: type, help and unit of this project's families", async () => {
    const meta = (name: string) => {
      const f = METRIC_FAMILIES.find((x) => x.name === name)!;
      return [{ type: f.type, help: f.help, unit: f.unit }];
    };
    const all = await grafana("GET", "api/v1/metadata");
    assert.deepEqual(all.json, {
      status: "success",
      data: { [INPUT_TOKENS]: meta(INPUT_TOKENS), [REQUESTS]: meta(REQUESTS) },
    });
    assert.deepEqual(meta(REQUESTS)[0].type, "counter");
    const one = await grafana("GET", "api/v1/metadata", { query: goValues({ metric: REQUESTS }) });
    assert.deepEqual(one.json, { status: "success", data: { [REQUESTS]: meta(REQUESTS) } });
    const none = await grafana("GET", "api/v1/metadata", { query: goValues({ metric: OUTPUT_TOKENS }) });
    assert.equal(none.text, '{"status":"success","data":{}}');
  });
});

describe("Grafana: panels", () => {
  test("POST api/v1/query_range: step=15, unaligned start/end, timeout=60s, [1m30s], (a|b) regex", async () => {
    const startMs = END_MS - 1_800_000 + 7_123;
    const endMs = END_MS - 2_500;
    const expr = `sum by (model_name) (rate(${REQUESTS}{model_name=~"(llama-3\\\\.1-70b-instruct|mistral-7b-instruct)"}[1m30s]))`;
    const form = goValues({
      end: goSeconds(endMs),
      query: expr,
      start: goSeconds(startMs),
      step: "15",
      timeout: "60s",
    });
    assert.match(form, /^end=\d+\.5&query=sum\+by\+%28model_name%29\+%28rate%28/);
    const r = await grafana("POST", "api/v1/query_range", { form });
    assert.equal(r.status, 200, r.text);
    const data = (r.json as Envelope).data as {
      resultType: string;
      result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
    };
    assert.equal(data.resultType, "matrix");
    assert.deepEqual(
      data.result.map((m) => m.metric),
      MODELS.map((model_name) => ({ model_name })),
    );
    const points = Math.floor((endMs - startMs) / 15_000) + 1;
    for (const m of data.result) {
      assert.equal(m.values.length, points);
      m.values.forEach(([ts, v], i) => {
        const t = startMs + i * 15_000;
        assert.equal(typeof ts, "number");
        assert.equal(typeof v, "string");
        assert.equal(Math.round(ts * 1000), t);
        assertClose(
          Number(v),
          expectedRateByModel(DATA, REQUESTS, t, 90_000).get(m.metric.model_name)!,
          `@${ts}`,
        );
      });
    }
    // Timestamps are written as Prometheus's MarshalTimestamp does (".123").
    assert.ok(r.text.includes(`"values":[[${promTs(startMs)},"`), r.text.slice(0, 200));
  });

  test("GET api/v1/query_range (httpMethod GET) gives the same bytes as the POST", async () => {
    const params = {
      end: goSeconds(END_MS),
      query: `sum by (service_tier) (rate(${INPUT_TOKENS}[4m]))`,
      start: goSeconds(END_MS - 600_000),
      step: "60",
    };
    const post = await grafana("POST", "api/v1/query_range", { form: goValues(params) });
    const get = await grafana("GET", "api/v1/query_range", { query: goValues(params) });
    assert.equal(post.status, 200);
    assert.equal(get.text, post.text);
    assert.equal((post.json as { data: { result: unknown[] } }).data.result.length, 2);
  });

  test('instant query ("Both" mode): time is the dashboard\'s unaligned `to`; sample timestamps equal it', async () => {
    const t = END_MS - 2_500;
    const r = await grafana("POST", "api/v1/query", {
      form: goValues({
        query: `sum by (model_name) (rate(${REQUESTS}{model_name=~"(mistral-7b-instruct)"}[1m30s]))`,
        time: goSeconds(t),
        timeout: "2m",
      }),
    });
    const want = expectedRateByModel(DATA, REQUESTS, t, 90_000).get(MODELS[1])!;
    const data = (r.json as Envelope).data as {
      resultType: string;
      result: Array<{ value: [number, string] }>;
    };
    assert.equal(data.resultType, "vector");
    assert.equal(data.result.length, 1);
    assertClose(Number(data.result[0].value[1]), want, "rate");
    assert.ok(
      r.text.startsWith(
        `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"model_name":"${MODELS[1]}"},"value":[${promTs(t)},"`,
      ),
      r.text,
    );
    assert.equal(promTs(t).endsWith(".500"), true);
  });

  test("no data is [] in both query kinds", async () => {
    const instant = await grafana("POST", "api/v1/query", {
      form: goValues({ query: `${REQUESTS}{model_name="secret-model"}`, time: goSeconds(END_MS) }),
    });
    assert.equal(instant.text, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    const range = await grafana("POST", "api/v1/query_range", {
      form: goValues({
        end: goSeconds(END_MS),
        query: `rate(${OUTPUT_TOKENS}[1m30s])`,
        start: goSeconds(END_MS - 600_000),
        step: "15",
      }),
    });
    assert.equal(range.text, '{"status":"success","data":{"resultType":"matrix","result":[]}}');
  });
});

describe("Grafana: what a user types cannot reach another project", () => {
  test("project_id matchers and catch-all selectors see this project only", async () => {
    const q = (query: string) =>
      grafana("POST", "api/v1/query", { form: goValues({ query, time: goSeconds(END_MS) }) });
    const byProject = await q(`count by (project_id) ({__name__=~"crusoe_inference_.+",project_id=~".+"})`);
    assert.equal(
      byProject.text,
      `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"project_id":"${PROJECT}"},"value":[${promTs(END_MS)},"8"]}]}}`,
    );
    const other = await q(`${REQUESTS}{project_id="${OTHER}"}`);
    assert.equal(other.text, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    // An ad-hoc filter's key/value look-ups.
    const values = await grafana("GET", "api/v1/label/project_id/values", {
      query: goValues({ "match[]": `{project_id=~".+"}` }),
    });
    assert.equal(values.text, JSON.stringify({ status: "success", data: [PROJECT] }));
  });
});

describe("Grafana: failures are JSON envelopes with a non-2xx status", () => {
  test("401 without a token, with a bearer challenge", async () => {
    const r = await grafana("POST", "api/v1/query", { form: "query=1%2B1&time=4", auth: null });
    assertErrorEnvelope(r, 401, "unauthorized");
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer /);
  });

  test("401 for basic auth or an unknown token; 403 for another project's token", async () => {
    const basic = await grafana("POST", "api/v1/query", {
      form: "query=1%2B1&time=4",
      auth: `Basic ${Buffer.from("grafana:secret").toString("base64")}`,
    });
    assertErrorEnvelope(basic, 401, "unauthorized");
    const unknown = await grafana("GET", "api/v1/status/buildinfo", {
      auth: "Bearer mim_mon_not-a-real-token",
    });
    assertErrorEnvelope(unknown, 401, "unauthorized");
    const other = await grafana("GET", "api/v1/label/__name__/values", { auth: `Bearer ${svc.otherToken}` });
    const msg = assertErrorEnvelope(other, 403, "forbidden");
    assert.doesNotMatch(msg, /secret-model|globex/);
  });

  test("400 bad_data for a PromQL syntax error, with Prometheus's message", async () => {
    const r = await grafana("POST", "api/v1/query_range", {
      form: goValues({
        end: goSeconds(END_MS),
        query: `sum by (model_name) (rate(${REQUESTS}[1m30s])`,
        start: goSeconds(END_MS - 600_000),
        step: "15",
      }),
    });
    const msg = assertErrorEnvelope(r, 400, "bad_data");
    assert.match(msg, /^invalid parameter "query": 1:\d+: parse error: /);
  });

  test("400 bad_data for bad parameters", async () => {
    const timeout = await grafana("POST", "api/v1/query", {
      form: goValues({ query: "1+1", time: "4", timeout: "soon" }),
    });
    assert.equal(
      assertErrorEnvelope(timeout, 400, "bad_data"),
      'invalid parameter "timeout": cannot parse "soon" to a valid duration',
    );
    const step = await grafana("POST", "api/v1/query_range", {
      form: goValues({ end: goSeconds(END_MS), query: "1", start: goSeconds(START_MS), step: "0" }),
    });
    assert.equal(
      assertErrorEnvelope(step, 400, "bad_data"),
      "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
    const series = await grafana("POST", "api/v1/series", {
      form: goValues({ end: RES_END, start: RES_START }),
    });
    assert.equal(assertErrorEnvelope(series, 400, "bad_data"), "no match[] parameter provided");
  });

  test("422 execution for an evaluation error; 404 for an endpoint the service does not have", async () => {
    const exec = await grafana("POST", "api/v1/query", {
      form: goValues({ query: `${REQUESTS} / on(model_name) ${INPUT_TOKENS}`, time: goSeconds(END_MS) }),
    });
    assert.match(assertErrorEnvelope(exec, 422, "execution"), /many-to-many matching not allowed/);
    const missing = await grafana("GET", "api/v1/status/config");
    assertErrorEnvelope(missing, 404, "not_found");
  });
});
