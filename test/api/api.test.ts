import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import pino from "pino";
import { ADMIN_KEY, startRouteService, type TestService } from "./harness.js";

const T0 = 1_700_000_000_000;
const MIN = 60_000;

/** Two projects; counters every 15 s for an hour, plus a few odd values. */
function seed(s: TestService): void {
  const series = [];
  for (const project of ["alpha", "beta"]) {
    for (const model of ["llama-8b", "llama-70b"]) {
      for (const tier of ["on_demand", "pt"]) {
        const samples: Array<[number, number]> = [];
        for (let i = 0; i <= 240; i++) samples.push([T0 + i * 15_000, i * (model === "llama-8b" ? 3 : 1)]);
        series.push({
          labels: {
            __name__: "crusoe_inference_request_count",
            project_id: project,
            model_name: model,
            service_tier: tier,
          },
          samples,
        });
      }
    }
  }
  series.push({
    labels: { __name__: "odd_values", project_id: "alpha", kind: "nan" },
    samples: [[T0, Number.NaN]] as Array<[number, number]>,
  });
  series.push({
    labels: { __name__: "odd_values", project_id: "alpha", kind: "inf" },
    samples: [[T0, Number.POSITIVE_INFINITY]] as Array<[number, number]>,
  });
  s.load(series);
}

async function get(s: TestService, project: string, path: string, token: string, init: RequestInit = {}) {
  const res = await s.fetch(s.base(project) + path, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: JSON.parse(text) as Record<string, unknown>,
  };
}

function form(body: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body).toString(),
  };
}

const t = (ms: number) => String(ms / 1000);

describe("query API", () => {
  let s: TestService;
  let tok: string;
  before(async () => {
    s = await startRouteService({ limits: { maxSeries: 50 } });
    seed(s);
    tok = s.token("alpha");
  });
  after(() => s.close());

  it("answers the Grafana health check exactly", async () => {
    const r = await get(s, "alpha", "/api/v1/query", tok, form({ query: "1+1", time: "4" }));
    assert.equal(r.status, 200);
    assert.equal(r.text, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}');
  });

  it("evaluates instant queries with the evaluation time as the sample time", async () => {
    const q = 'sum by (model_name) (rate(crusoe_inference_request_count{model_name="llama-8b"}[300s]))';
    const at = T0 + 30 * MIN + 500;
    const r = await get(s, "alpha", `/api/v1/query?query=${encodeURIComponent(q)}&time=${t(at)}`, tok);
    assert.equal(r.status, 200);
    const result = (r.body.data as { result: Array<{ metric: object; value: [number, string] }> }).result;
    assert.equal(result.length, 1);
    assert.deepEqual(result[0].metric, { model_name: "llama-8b" });
    assert.equal(result[0].value[0], at / 1000);
    // Two tiers, each counting 3 requests per 15 s scrape.
    assert.ok(Math.abs(Number(result[0].value[1]) - 0.4) < 1e-12, result[0].value[1]);
  });

  it("writes NaN and infinities as Prometheus does", async () => {
    const r = await get(s, "alpha", `/api/v1/query?query=sort(odd_values)&time=${t(T0)}`, tok);
    const values = (r.body.data as { result: Array<{ value: [number, string] }> }).result.map(
      (x) => x.value[1],
    );
    assert.deepEqual(values.sort(), ["+Inf", "NaN"]);
    const neg = await get(s, "alpha", `/api/v1/query?query=-vector(1)/0&time=${t(T0)}`, tok);
    assert.match(neg.text, /"-Inf"/);
  });

  it("runs range queries, sorted by labels, with scalars as a label-less series", async () => {
    const q = "sum by (service_tier) (crusoe_inference_request_count)";
    const r = await get(
      s,
      "alpha",
      `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${t(T0 + 10 * MIN)}&end=${t(T0 + 12 * MIN)}&step=1m`,
      tok,
    );
    assert.equal(r.status, 200);
    const data = r.body.data as {
      resultType: string;
      result: Array<{ metric: Record<string, string>; values: unknown }>;
    };
    assert.equal(data.resultType, "matrix");
    assert.deepEqual(
      data.result.map((x) => x.metric.service_tier),
      ["on_demand", "pt"],
    );
    assert.deepEqual(data.result[0].values, [
      [(T0 + 10 * MIN) / 1000, "160"],
      [(T0 + 11 * MIN) / 1000, "176"],
      [(T0 + 12 * MIN) / 1000, "192"],
    ]);
    const sc = await get(s, "alpha", "/api/v1/query_range?query=time()&start=0&end=30&step=15", tok);
    assert.deepEqual(sc.body.data, {
      resultType: "matrix",
      result: [
        {
          metric: {},
          values: [
            [0, "0"],
            [15, "15"],
            [30, "30"],
          ],
        },
      ],
    });
  });

  it("treats GET and form POST alike, the body winning over the URL", async () => {
    const a = await get(s, "alpha", "/api/v1/query?query=vector(1)&time=100", tok);
    const b = await get(s, "alpha", "/api/v1/query", tok, form({ query: "vector(1)", time: "100" }));
    assert.equal(a.text, b.text);
    const merged = await get(
      s,
      "alpha",
      "/api/v1/query?query=vector(2)&time=100&dedup=true",
      tok,
      form({ query: "vector(3)" }),
    );
    assert.deepEqual((merged.body.data as { result: unknown }).result, [{ metric: {}, value: [100, "3"] }]);
  });

  it("serves the base path as the page's curl example does, instant or range", async () => {
    const inst = await get(s, "alpha", "?query=vector(5)&time=10", tok);
    assert.equal(
      inst.text,
      '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[10,"5"]}]}}',
    );
    const range = await get(s, "alpha", "?query=vector(5)&start=0&end=10&step=5", tok);
    assert.equal((range.body.data as { resultType: string }).resultType, "matrix");
  });

  it("rejects bad parameters with bad_data and Prometheus's messages", async () => {
    const cases: Array<[string, string]> = [
      ["/api/v1/query?query=sum(", 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'],
      ["/api/v1/query?query=", 'invalid parameter "query": 1:1: parse error: no expression found in input'],
      [
        "/api/v1/query?query=1&time=yesterday",
        'invalid parameter "time": cannot parse "yesterday" to a valid timestamp',
      ],
      [
        "/api/v1/query?query=1&timeout=soon",
        'invalid parameter "timeout": cannot parse "soon" to a valid duration',
      ],
      ["/api/v1/query?query=1&limit=-1", 'invalid parameter "limit": limit must be non-negative'],
      [
        "/api/v1/query_range?query=1&end=10&step=1",
        'invalid parameter "start": cannot parse "" to a valid timestamp',
      ],
      ["/api/v1/query_range?query=1&start=10&end=0&step=1", "end timestamp must not be before start time"],
      [
        "/api/v1/query_range?query=1&start=0&end=10&step=0",
        "zero or negative query resolution step widths are not accepted. Try a positive integer",
      ],
      [
        "/api/v1/query_range?query=1&start=0&end=10&step=1.5m",
        'invalid parameter "step": cannot parse "1.5m" to a valid duration',
      ],
      [
        "/api/v1/query_range?query=1&start=0&end=11001&step=1",
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
      ],
      [
        "/api/v1/query_range?query=up[5m]&start=0&end=10&step=1",
        'invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector',
      ],
      ["/api/v1/series", "no match[] parameter provided"],
      ['/api/v1/series?match[]={job=~".*"}', "match[] must contain at least one non-empty matcher"],
      ["/api/v1/label/%20/values", 'invalid label name: " "'.replace(" ", " ")],
    ];
    for (const [path, message] of cases) {
      const r = await get(s, "alpha", path, tok);
      if (path.includes("%20")) {
        assert.equal(r.status, 200, path); // " " is a valid UTF-8 label name in Prometheus 3
        continue;
      }
      assert.equal(r.status, 400, path);
      assert.deepEqual(r.body, { status: "error", errorType: "bad_data", error: message }, path);
    }
  });

  it("accepts 11,000 points exactly and step as a duration", async () => {
    const r = await get(s, "alpha", "/api/v1/query_range?query=1&start=0&end=11000&step=1s", tok);
    assert.equal(r.status, 200);
  });

  it("reports evaluation errors as execution (422)", async () => {
    const q = "crusoe_inference_request_count + on(project_id) crusoe_inference_request_count";
    const r = await get(
      s,
      "alpha",
      `/api/v1/query?query=${encodeURIComponent(q)}&time=${t(T0 + 10 * MIN)}`,
      tok,
    );
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.errorType, "execution");
    assert.match(
      String(r.body.error),
      /^found duplicate series for the match group \{project_id="alpha"\} on the right hand-side/,
    );
  });

  it("applies limit with Prometheus's warning, and the service's series cap as an error", async () => {
    const r = await get(
      s,
      "alpha",
      `/api/v1/query?query=crusoe_inference_request_count&time=${t(T0)}&limit=2`,
      tok,
    );
    assert.equal((r.body.data as { result: unknown[] }).result.length, 2);
    assert.deepEqual(r.body.warnings, ["results truncated due to limit"]);
    const small = await startRouteService({ limits: { maxSeries: 3 } });
    try {
      seed(small);
      const big = await get(
        small,
        "alpha",
        `/api/v1/query?query=crusoe_inference_request_count&time=${t(T0)}`,
        small.token("alpha"),
      );
      assert.equal(big.status, 422);
      assert.match(String(big.body.error), /returned 4 series, more than the limit of 3/);
      const series = await get(
        small,
        "alpha",
        "/api/v1/series?match[]=crusoe_inference_request_count",
        small.token("alpha"),
      );
      assert.equal((series.body.data as unknown[]).length, 3);
      assert.deepEqual(series.body.warnings, ["results truncated due to limit"]);
    } finally {
      await small.close();
    }
  });

  it("stops queries at the sample limit and the timeout, in Prometheus's shapes", async () => {
    const small = await startRouteService({ limits: { maxSamples: 100 } });
    try {
      seed(small);
      const q = `count_over_time(crusoe_inference_request_count[1h])`;
      const r = await get(
        small,
        "alpha",
        `/api/v1/query?query=${q}&time=${t(T0 + 60 * MIN)}`,
        small.token("alpha"),
      );
      assert.equal(r.status, 422);
      assert.deepEqual(r.body, {
        status: "error",
        errorType: "execution",
        error: "query processing would load too many samples into memory in query execution",
      });
    } finally {
      await small.close();
    }
    const q = "sum(rate(crusoe_inference_request_count[5m:15s]))";
    const r = await get(
      s,
      "alpha",
      `/api/v1/query_range?query=${q}&start=${t(T0)}&end=${t(T0 + 60 * MIN)}&step=1&timeout=0.001`,
      tok,
    );
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.errorType, "timeout");
    assert.match(String(r.body.error), /^query timed out in /);
  });

  it("serves series, label names and values of the project", async () => {
    const series = await get(
      s,
      "alpha",
      '/api/v1/series?match[]=crusoe_inference_request_count{model_name="llama-8b"}',
      tok,
    );
    assert.deepEqual(series.body.data, [
      {
        __name__: "crusoe_inference_request_count",
        model_name: "llama-8b",
        project_id: "alpha",
        service_tier: "on_demand",
      },
      {
        __name__: "crusoe_inference_request_count",
        model_name: "llama-8b",
        project_id: "alpha",
        service_tier: "pt",
      },
    ]);
    const names = await get(s, "alpha", "/api/v1/labels", tok);
    assert.deepEqual(names.body.data, ["__name__", "kind", "model_name", "project_id", "service_tier"]);
    const matched = await get(s, "alpha", "/api/v1/labels?match[]=odd_values", tok, { method: "POST" });
    assert.deepEqual(matched.body.data, ["__name__", "kind", "project_id"]);
    const values = await get(s, "alpha", "/api/v1/label/model_name/values", tok);
    assert.deepEqual(values.body.data, ["llama-70b", "llama-8b"]);
    const metrics = await get(s, "alpha", "/api/v1/label/__name__/values?limit=1", tok);
    assert.deepEqual(metrics.body, {
      status: "success",
      data: ["crusoe_inference_request_count"],
      warnings: ["results truncated due to limit"],
    });
    const escaped = await get(s, "alpha", "/api/v1/label/U__model__name/values", tok);
    assert.deepEqual(escaped.body.data, ["llama-70b", "llama-8b"]);
    const none = await get(s, "alpha", "/api/v1/label/nothing/values", tok);
    assert.equal(none.text, '{"status":"success","data":[]}');
    const outside = await get(s, "alpha", `/api/v1/label/model_name/values?start=0&end=${t(T0 - MIN)}`, tok);
    assert.deepEqual(outside.body.data, []);
  });

  it("answers POST to label values with 405 so clients fall back to GET", async () => {
    const r = await get(s, "alpha", "/api/v1/label/model_name/values", tok, { method: "POST" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET");
    assert.equal(r.body.errorType, "method_not_allowed");
  });

  it("serves metadata, exemplars, buildinfo, rules, alerts and format_query", async () => {
    const md = await get(s, "alpha", "/api/v1/metadata", tok);
    assert.deepEqual(Object.keys(md.body.data as object), ["crusoe_inference_request_count"]);
    const ex = await get(
      s,
      "alpha",
      "/api/v1/query_exemplars?query=test&start=1724270000000&end=1724272000000",
      tok,
      {
        method: "POST",
      },
    );
    assert.equal(ex.text, '{"status":"success","data":[]}');
    const bi = await get(s, "alpha", "/api/v1/status/buildinfo", tok);
    const info = bi.body.data as Record<string, string>;
    assert.match(info.version, /^\d+\.\d+\.\d+$/);
    assert.equal("features" in info, false);
    assert.equal(
      (await get(s, "alpha", "/api/v1/rules", tok)).text,
      '{"status":"success","data":{"groups":[]}}',
    );
    assert.equal(
      (await get(s, "alpha", "/api/v1/alerts", tok)).text,
      '{"status":"success","data":{"alerts":[]}}',
    );
    const fq = await get(s, "alpha", "/api/v1/format_query", tok, form({ query: "sum(rate(x[5m]))by(a)" }));
    assert.deepEqual(fq.body, { status: "success", data: "sum by (a) (rate(x[5m]))" });
  });

  it("gzips large answers when asked", async () => {
    const res = await s.fetch(
      `${s.base("alpha")}/api/v1/query_range?query=crusoe_inference_request_count&start=${t(T0)}&end=${t(T0 + 60 * MIN)}&step=15`,
      {
        headers: { Authorization: `Bearer ${tok}`, "Accept-Encoding": "gzip" },
        decompress: false,
      } as RequestInit,
    );
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const raw = Buffer.from(await res.arrayBuffer());
    // fetch may or may not have decoded it; the payload must be gzip or already JSON.
    const text = raw[0] === 0x1f ? gunzipSync(raw).toString() : raw.toString();
    assert.equal((JSON.parse(text) as { status: string }).status, "success");
  });

  it("answers unknown paths and oversized bodies in the envelope", async () => {
    const nf = await get(s, "alpha", "/api/v1/nothing", tok);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.errorType, "not_found");
    const big = await get(
      s,
      "alpha",
      "/api/v1/query",
      tok,
      form({ query: "1", pad: "x".repeat(1.5 * 1024 * 1024) }),
    );
    assert.equal(big.status, 413);
    assert.equal(big.body.errorType, "payload_too_large");
  });

  it("is healthy and ready, at the root and under the base path, without credentials", async () => {
    for (const url of [
      `${s.url}/-/healthy`,
      `${s.url}/-/ready`,
      `${s.base("alpha")}/-/healthy`,
      `${s.base("x")}/-/ready`,
    ]) {
      const r = await s.fetch(url);
      assert.equal(r.status, 200, url);
    }
  });
});

describe("authentication", () => {
  let s: TestService;
  let now = Date.now();
  before(async () => {
    s = await startRouteService({ now: () => now, limits: { rateLimitPerSecond: 1, rateLimitBurst: 3 } });
  });
  after(() => s.close());
  const q = "/api/v1/query?query=1&time=1";

  it("refuses missing, malformed and unknown tokens with 401 in the envelope", async () => {
    const missing = await s.fetch(s.base("p") + q);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);
    assert.equal(((await missing.json()) as { errorType: string }).errorType, "unauthorized");
    for (const header of ["Basic abc", "Bearer", "Bearer mim_mon_nope", `Bearer ${ADMIN_KEY}`, "token x"]) {
      const r = await s.fetch(s.base("p") + q, { headers: { Authorization: header } });
      assert.equal(r.status, 401, header);
      const body = (await r.json()) as { status: string; errorType: string };
      assert.deepEqual([body.status, body.errorType], ["error", "unauthorized"]);
    }
  });

  it("refuses another project's URL with 403 and the same body whether it exists or not", async () => {
    const tokA = s.token("a");
    s.token("b");
    const b = await get(s, "b", q, tokA);
    const nowhere = await get(s, "never-created", q, tokA);
    assert.equal(b.status, 403);
    assert.equal(b.text, nowhere.text);
  });

  it("refuses expired tokens, and revoked ones from the next request on", async () => {
    const tok = s.token("e", new Date(now + 60_000));
    assert.equal((await get(s, "e", q, tok)).status, 200);
    now += 61_000;
    const expired = await get(s, "e", q, tok);
    assert.equal(expired.status, 401);
    assert.match(String(expired.body.error), /expired at/);
    const created = await s.fetch(`${s.url}/v1alpha5/projects/e/monitoring/tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "r" }),
    });
    const { id, token } = (await created.json()) as { id: string; token: string };
    assert.equal((await get(s, "e", q, token)).status, 200);
    const del = await s.fetch(`${s.url}/v1alpha5/projects/e/monitoring/tokens/${id}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(del.status, 204);
    const revoked = await get(s, "e", q, token);
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error, "monitoring token has been revoked");
  });

  it("limits each token's request rate with 429 and Retry-After", async () => {
    const tok = s.token("rl");
    const other = s.token("rl");
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(s, "rl", q, tok)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const limited = await get(s, "rl", q, tok);
    assert.equal(limited.headers.get("retry-after"), "1");
    assert.equal(limited.body.errorType, "too_many_requests");
    assert.equal((await get(s, "rl", q, other)).status, 200, "another token has its own budget");
    now += 2000;
    assert.equal((await get(s, "rl", q, tok)).status, 200, "the bucket refills");
  });
});

describe("token admin API", () => {
  let s: TestService;
  before(async () => {
    s = await startRouteService();
  });
  after(() => s.close());
  const admin = (path: string, init: RequestInit = {}, key = ADMIN_KEY) =>
    s.fetch(`${s.url}/v1alpha5/projects${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${key}`,
        "Content-Type": "application/json",
        ...(init.headers as object),
      },
    });

  it("creates, lists (without values, with last use) and revokes tokens", async () => {
    const res = await admin("/p1/monitoring/tokens", {
      method: "POST",
      body: JSON.stringify({ name: "grafana", expires_in: "90d" }),
    });
    assert.equal(res.status, 201);
    const t = (await res.json()) as Record<string, string>;
    assert.match(t.token, /^mim_mon_[A-Za-z0-9_-]{43}$/);
    assert.equal(t.prefix, t.token.slice(0, 14));
    assert.equal(t.name, "grafana");
    assert.ok(Date.parse(t.expires_at) - Date.now() > 89 * 86_400_000);
    assert.equal((await get(s, "p1", "/api/v1/query?query=1", t.token)).status, 200);
    const list = (await (await admin("/p1/monitoring/tokens")).json()) as {
      tokens: Array<Record<string, unknown>>;
    };
    assert.equal(list.tokens.length, 1);
    assert.equal(JSON.stringify(list).includes(t.token), false);
    assert.ok(list.tokens[0].last_used_at, "last use is recorded");
    assert.deepEqual(Object.keys(list.tokens[0]).sort(), [
      "created_at",
      "expires_at",
      "id",
      "last_used_at",
      "name",
      "prefix",
      "project_id",
    ]);
    assert.deepEqual((await (await admin("/p2/monitoring/tokens")).json()) as object, { tokens: [] });
    assert.equal(
      (await admin(`/p2/monitoring/tokens/${t.id}`, { method: "DELETE" })).status,
      404,
      "not p2's token",
    );
    assert.equal((await admin(`/p1/monitoring/tokens/${t.id}`, { method: "DELETE" })).status, 204);
    assert.equal((await admin(`/p1/monitoring/tokens/${t.id}`, { method: "DELETE" })).status, 404);
  });

  it("rejects bad bodies, bad project ids and wrong keys", async () => {
    const cases: Array<[string, RequestInit, number]> = [
      ["/p1/monitoring/tokens", { method: "POST", body: "{" }, 400],
      ["/p1/monitoring/tokens", { method: "POST", body: "{}" }, 400],
      [
        "/p1/monitoring/tokens",
        { method: "POST", body: JSON.stringify({ name: "x", expires_in: "soon" }) },
        400,
      ],
      [
        "/p1/monitoring/tokens",
        { method: "POST", body: JSON.stringify({ name: "x", expires_at: "2001-01-01T00:00:00Z" }) },
        400,
      ],
      ["/p1/monitoring/tokens", { method: "POST", body: JSON.stringify({ name: "x", extra: 1 }) }, 400],
      ["/..bad/monitoring/tokens", { method: "POST", body: JSON.stringify({ name: "x" }) }, 400],
    ];
    for (const [path, init, status] of cases) {
      const r = await admin(path, init);
      assert.equal(r.status, status, `${path} ${init.body}`);
      const body = (await r.json()) as { status: string; errorType: string };
      assert.equal(body.status, "error");
    }
    assert.equal((await admin("/p1/monitoring/tokens", {}, "wrong-key")).status, 401);
  });

  it("lets a monitoring token manage its own project's tokens only, never outliving it", async () => {
    const tok = s.token("p1");
    assert.equal((await admin("/p1/monitoring/tokens", {}, tok)).status, 200, "its own project");
    assert.equal((await admin("/p2/monitoring/tokens", {}, tok)).status, 403, "another project");
    const ingest = await s.fetch(`${s.url}/v1alpha5/ingest-tokens`, {
      headers: { Authorization: `Bearer ${tok}` },
    });
    assert.equal(ingest.status, 401, "ingest tokens stay behind the admin key");
    const made = await admin(
      "/p1/monitoring/tokens",
      { method: "POST", body: JSON.stringify({ name: "from-page" }) },
      tok,
    );
    assert.equal(made.status, 201);
    const expiring = s.token("p1", new Date(Date.now() + 3_600_000));
    const forever = await admin(
      "/p1/monitoring/tokens",
      { method: "POST", body: JSON.stringify({ name: "x" }) },
      expiring,
    );
    assert.equal(forever.status, 400);
    assert.match(
      ((await forever.json()) as { error: string }).error,
      /can only create tokens that expire by then/,
    );
    const shorter = await admin(
      "/p1/monitoring/tokens",
      { method: "POST", body: JSON.stringify({ name: "x", expires_in: "30m" }) },
      expiring,
    );
    assert.equal(shorter.status, 201);
  });
});

describe("operability", () => {
  it("exports its own metrics and never logs a token", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const s = await startRouteService({ logger: pino({ level: "info" }, sink) });
    try {
      const tok = s.token("p");
      await get(s, "p", "/api/v1/query?query=1", tok);
      await get(s, "p", `/api/v1/query?query=1&token=${tok}`, tok);
      await get(s, "p", "/api/v1/query?query=sum(", tok);
      const created = await s.fetch(`${s.url}/v1alpha5/projects/p/monitoring/tokens`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "n" }),
      });
      const { token } = (await created.json()) as { token: string };
      await get(s, "p", "/api/v1/query?query=1", `${tok}x`);
      const metrics = await (await s.fetch(`${s.url}/metrics`)).text();
      assert.match(
        metrics,
        /mim_http_requests_total\{route="\/v1alpha5\/projects\/:projectId\/metrics\/timeseries\/api\/v1\/query",method="GET",code="200"\} 2/,
      );
      assert.match(metrics, /mim_http_requests_total\{[^}]*code="400"\} 1/);
      assert.match(metrics, /mim_query_duration_seconds_count\{kind="instant"\} 3/);
      assert.match(metrics, /mim_active_queries 0/);
      assert.match(metrics, /^mim_queries_waiting 0$/m);
      assert.match(metrics, /^mim_query_workers [1-9]\d*$/m);
      assert.match(metrics, /^mim_query_workers_busy 0$/m);
      assert.match(metrics, /^mim_query_worker_queries_total [1-9]\d*$/m);
      assert.match(metrics, /^mim_query_worker_ended_total\{reason="deadline"\} 0$/m);
      assert.match(metrics, /mim_auth_failures_total\{reason="unknown"\} 1/);
      const log = lines.join("");
      assert.ok(log.includes('"route"'), "requests are logged");
      for (const secret of [tok, token, ADMIN_KEY])
        assert.equal(log.includes(secret), false, "a secret reached the log");
    } finally {
      await s.close();
    }
  });

  it("runs the product page's curl example verbatim", async () => {
    // Listening: the point is curl, another process, reaching the service over HTTP.
    const s = await startRouteService({ listen: true });
    try {
      s.load([
        {
          labels: {
            __name__: "crusoe_inference_first_token_latency",
            project_id: "my-project",
            model_name: "m",
            service_tier: "pt",
            quantile: "0.5",
          },
          samples: [[Date.now() - 30_000, 0.25]],
        },
      ]);
      const token = s.token("my-project");
      const base = s.base("my-project");
      const script = `curl -s -G ${base}\\?query=\\\ncrusoe_inference_first_token_latency \\\n-H 'Authorization: Bearer ${token}'`;
      const { stdout: out } = await promisify(execFile)("bash", ["-c", script], { encoding: "utf8" });
      const body = JSON.parse(out) as { data: { result: Array<{ value: [number, string] }> } };
      assert.equal(body.data.result.length, 1);
      assert.equal(body.data.result[0].value[1], "0.25");
    } finally {
      await s.close();
    }
  });
});
