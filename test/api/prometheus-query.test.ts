/**
 * Drives the real query API with the npm client `prometheus-query` (PrometheusDriver, axios), with
 * a project's base URL as its endpoint and the monitoring token as a Bearer header, once with GET
 * (the driver's default) and once with `preferPost: true` (form bodies for query, query_range,
 * series and labels). Values are checked against rates computed from the loaded samples.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PrometheusDriver } from "prometheus-query";
import {
  assertClose,
  END_MS,
  expectedRateByModel,
  INPUT_TOKENS,
  MODELS,
  OTHER,
  PROJECT,
  projectData,
  REQUESTS,
  START_MS,
  useClientService,
} from "./client-fixtures.js";

const DATA = projectData(PROJECT, 7, MODELS);
const OTHER_DATA = projectData(OTHER, 700, ["secret-model"]);

/** What the driver throws for a non-2xx answer. */
interface DriverError {
  status: string;
  errorType: string;
  httpStatus?: number;
  error: string;
  prometheus?: { status: string; errorType: string; error: string };
}

async function rejection(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (err) {
    return err as DriverError;
  }
  assert.fail("the driver did not throw");
}

// The driver's parsed shapes (its .d.ts types results as `any`).
interface DMetric {
  name: string | undefined;
  labels: Record<string, string>;
}
interface DSample {
  time: Date;
  value: number;
}
interface DInstant {
  metric: DMetric;
  value: DSample;
}
interface DRange {
  metric: DMetric;
  values: DSample[];
}

// Listening: the subject is the npm client (axios) with its own HTTP stack talking to us.
const svc = useClientService([...DATA, ...OTHER_DATA], { listen: true });

for (const preferPost of [false, true]) {
  describe(`prometheus-query, preferPost: ${preferPost}`, () => {
    /** Method and path of every request the driver made. */
    const sent: string[] = [];

    /** A driver for `project`'s base URL, sending `tok` (null: no Authorization header). */
    function driver(tok: string | null = svc.token, project = PROJECT): PrometheusDriver {
      return new PrometheusDriver({
        endpoint: svc.service.base(project),
        headers: tok === null ? {} : { Authorization: `Bearer ${tok}` },
        preferPost,
        timeout: 10_000,
        requestInterceptor: {
          onFulfilled: (config) => {
            config.proxy = false; // 127.0.0.1 is never reached through an HTTP_PROXY from the environment
            sent.push(`${config.method?.toUpperCase()} ${config.url}`);
            return config;
          },
        },
      });
    }
    const post = preferPost ? "POST" : "GET";

    test("instantQuery: sum by (model_name) (rate(…[300s])) at a millisecond time", async () => {
      const t = END_MS - 4_321;
      const expr = `sum by (model_name) (rate(${REQUESTS}{service_tier=~"pt|on_demand"}[300s]))`;
      const res = await driver().instantQuery(expr, t, "30s");
      assert.equal(sent.at(-1), `${post} query`);
      assert.equal(res.resultType, "vector");
      const result = res.result as DInstant[];
      const expected = expectedRateByModel(DATA, REQUESTS, t, 300_000);
      assert.deepEqual(result.map((r) => r.metric.labels.model_name).sort(), [...expected.keys()].sort());
      for (const r of result) {
        assert.equal(r.metric.name, undefined, "sum drops the metric name");
        assert.deepEqual(Object.keys(r.metric.labels), ["model_name"]);
        // The driver turns seconds into a Date with new Date(ts * 1000): allow its float rounding.
        assert.ok(Math.abs(r.value.time.getTime() - t) <= 1, `time ${r.value.time.toISOString()}`);
        assertClose(r.value.value, expected.get(r.metric.labels.model_name)!, r.metric.labels.model_name);
      }
    });

    test("instantQuery: a raw selector keeps the name and all labels; no data is []", async () => {
      const res = await driver().instantQuery(
        `${REQUESTS}{model_name="${MODELS[0]}",service_tier="on_demand"}`,
        END_MS,
      );
      const result = res.result as DInstant[];
      assert.equal(result.length, 1);
      assert.equal(result[0].metric.name, REQUESTS);
      assert.deepEqual(result[0].metric.labels, {
        model_name: MODELS[0],
        project_id: PROJECT,
        service_tier: "on_demand",
      });
      const series = DATA.find(
        (d) =>
          d.labels.__name__ === REQUESTS &&
          d.labels.model_name === MODELS[0] &&
          d.labels.service_tier === "on_demand",
      )!;
      assert.equal(result[0].value.value, series.samples.filter(([ts]) => ts <= END_MS).at(-1)![1]);
      assert.equal(result[0].value.time.getTime(), END_MS);

      const none = await driver().instantQuery(`${REQUESTS}{model_name="secret-model"}`, END_MS);
      assert.equal(none.resultType, "vector");
      assert.deepEqual(none.result, []);

      const scalar = await driver().instantQuery("1+1", END_MS);
      assert.equal(scalar.resultType, "scalar");
      assert.deepEqual(scalar.result, [END_MS / 1000, "2"]);
    });

    test("rangeQuery: step as a duration string and as seconds", async () => {
      const start = END_MS - 1_800_000 - 250;
      const expr = `sum by (model_name) (rate(${REQUESTS}[300s]))`;
      for (const step of ["1m", 60] as const) {
        const res = await driver().rangeQuery(expr, start, END_MS, step);
        assert.equal(sent.at(-1), `${post} query_range`);
        assert.equal(res.resultType, "matrix");
        const result = res.result as DRange[];
        assert.deepEqual(
          result.map((r) => r.metric.labels),
          MODELS.map((model_name) => ({ model_name })),
          "matrix sorted by labels",
        );
        for (const r of result) {
          assert.equal(r.values.length, 31);
          r.values.forEach((v, i) => {
            const t = start + i * 60_000;
            assert.ok(Math.abs(v.time.getTime() - t) <= 1, `time ${v.time.toISOString()}`);
            const want = expectedRateByModel(DATA, REQUESTS, t, 300_000).get(r.metric.labels.model_name)!;
            assertClose(v.value, want, `step ${step} @${t}`);
          });
        }
      }
    });

    test("series: union of selectors, this project only", async () => {
      const res = (await driver().series(
        [`${REQUESTS}{model_name="${MODELS[1]}"}`, `{__name__="${INPUT_TOKENS}",service_tier="pt"}`],
        START_MS,
        END_MS,
      )) as DMetric[];
      assert.equal(sent.at(-1), `${post} series`);
      const got = res.map((m) => `${m.name}${JSON.stringify(m.labels)}`).sort();
      const want = [
        { __name__: INPUT_TOKENS, model_name: MODELS[0], tier: "pt" },
        { __name__: INPUT_TOKENS, model_name: MODELS[1], tier: "pt" },
        { __name__: REQUESTS, model_name: MODELS[1], tier: "pt" },
        { __name__: REQUESTS, model_name: MODELS[1], tier: "on_demand" },
      ]
        .map(
          (m) =>
            `${m.__name__}${JSON.stringify({ model_name: m.model_name, project_id: PROJECT, service_tier: m.tier })}`,
        )
        .sort();
      assert.deepEqual(got, want);
    });

    test("labelNames and labelValues", async () => {
      assert.deepEqual(await driver().labelNames(), ["__name__", "model_name", "project_id", "service_tier"]);
      assert.equal(sent.at(-1), `${post} labels`);
      assert.deepEqual(await driver().labelNames(`${REQUESTS}{model_name="nope"}`, START_MS, END_MS), []);

      assert.deepEqual(await driver().labelValues("model_name"), [...MODELS]);
      assert.equal(sent.at(-1), "GET label/model_name/values", "label values are always GET");
      assert.deepEqual(await driver().labelValues("project_id"), [PROJECT]);
      assert.deepEqual(await driver().labelValues("__name__", undefined, START_MS, END_MS), [
        INPUT_TOKENS,
        REQUESTS,
      ]);
      assert.deepEqual(
        await driver().labelValues("service_tier", `${REQUESTS}{model_name=~"llama.*"}`, START_MS, END_MS),
        ["on_demand", "pt"],
      );
      // Data ends at END_MS (± 1.5 s jitter): a window well after it has no values.
      assert.deepEqual(
        await driver().labelValues("model_name", undefined, END_MS + 3_600_000, END_MS + 7_200_000),
        [],
      );
    });

    test("statusBuildinfo, metadata, rules, alerts", async () => {
      const info = (await driver().statusBuildinfo()) as Record<string, unknown>;
      assert.match(String(info.version), /^\d+\.\d+\.\d+$/);
      assert.equal("features" in info, false);
      for (const k of ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"]) {
        assert.equal(typeof info[k], "string", k);
      }

      const meta = (await driver().metadata()) as Record<
        string,
        Array<{ type: string; help: string; unit: string }>
      >;
      assert.deepEqual(Object.keys(meta).sort(), [INPUT_TOKENS, REQUESTS]);
      assert.deepEqual(
        meta[REQUESTS].map((m) => m.type),
        ["counter"],
      );
      assert.deepEqual(Object.keys(await driver().metadata(REQUESTS)), [REQUESTS]);

      assert.deepEqual(await driver().rules(), []);
      assert.deepEqual(await driver().alerts(), []);
    });

    test("bad PromQL: the driver throws http_error 400 with Prometheus's bad_data message", async () => {
      const err = await rejection(driver().instantQuery(`sum(rate(${REQUESTS}[5m])`, END_MS));
      assert.equal(err.status, "error");
      assert.equal(err.errorType, "http_error");
      assert.equal(err.httpStatus, 400);
      assert.match(err.error, /^invalid parameter "query": 1:\d+: parse error: /);
      assert.deepEqual(err.prometheus, { status: "error", errorType: "bad_data", error: err.error });

      const range = await rejection(driver().rangeQuery(`rate(${REQUESTS}[5m])`, START_MS, END_MS, 0));
      assert.equal(range.httpStatus, 400);
      assert.equal(
        range.error,
        "zero or negative query resolution step widths are not accepted. Try a positive integer",
      );
    });

    test("match[] whose matchers all match the empty string: Prometheus's bad_data message", async () => {
      // Prometheus parses match[] with ParseMetricSelector (no AST check), then rejects a selector
      // whose matchers all match "" with its own message (web/api/v1/api.go, parseMatchersParam);
      // /series wraps it as an invalid parameter.
      const series = await rejection(driver().series(`{model_name=~".*"}`, START_MS, END_MS));
      assert.equal(series.httpStatus, 400);
      assert.equal(series.prometheus?.errorType, "bad_data");
      assert.match(
        series.error,
        /^(invalid parameter "match\[\]": )?match\[\] must contain at least one non-empty matcher$/,
      );
    });

    test("evaluation error: many-to-many matching is a 422 execution error", async () => {
      const err = await rejection(
        driver().instantQuery(`${REQUESTS} + on(model_name) ${INPUT_TOKENS}`, END_MS),
      );
      assert.equal(err.httpStatus, 422);
      assert.equal(err.prometheus?.errorType, "execution");
      assert.match(err.error, /many-to-many matching not allowed/);
    });

    test("auth: no token is 401, another project's token is 403", async () => {
      const none = await rejection(driver(null).instantQuery("1+1", END_MS));
      assert.equal(none.httpStatus, 401);
      assert.equal(none.prometheus?.errorType, "unauthorized");
      assert.match(none.error, /missing credentials/);

      const other = await rejection(driver(svc.otherToken).labelValues("model_name"));
      assert.equal(other.httpStatus, 403);
      assert.equal(other.prometheus?.errorType, "forbidden");

      // Its own project works with the other token, and shows none of this project's data.
      assert.deepEqual(await driver(svc.otherToken, OTHER).labelValues("model_name"), ["secret-model"]);
    });
  });
}
