/**
 * Engine behaviour beyond the conformance scripts: the page's five queries on a known counter
 * history, limits (timeout, cancellation, sample budget) and result shapes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newEngine } from "../../src/promql/engine.js";
import { QueryCanceledError, QueryTimeoutError, TooManySamplesError } from "../../src/promql/errors.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";

const BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];

describe("PromQL engine", () => {
  let db: Tsdb;
  let cleanup: () => void;
  const engine = newEngine();

  before(() => {
    const t = tempDir("mim-engine-");
    cleanup = t.cleanup;
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0 });
    const app = db.appender();
    const base = { project_id: "p1", model_name: "llama", service_tier: "on_demand" };
    // 1 request/s, 100 input and 40 output tokens per request, for 20 minutes at 15 s.
    for (let i = 0; i <= 80; i++) {
      const t = i * 15_000;
      app.append(0, labelsFromObject({ __name__: "crusoe_inference_request_count", ...base }), t, i * 15);
      app.append(
        0,
        labelsFromObject({ __name__: "crusoe_inference_input_token_count", ...base }),
        t,
        i * 1500,
      );
      app.append(
        0,
        labelsFromObject({ __name__: "crusoe_inference_output_token_count", ...base }),
        t,
        i * 600,
      );
      // Half the requests under 0.1 s, the rest under 0.25 s.
      const cumulative = [0, 7.5, 15, 15, 15, 15];
      BUCKETS.forEach((le, k) => {
        app.append(
          0,
          labelsFromObject({
            __name__: "crusoe_inference_histogram_first_token_latency_bucket",
            le,
            ...base,
          }),
          t,
          i * cumulative[k],
        );
      });
    }
    app.commit();
  });
  after(() => {
    db.close();
    cleanup();
  });

  const page = (metric: string) =>
    `sum by (model_name) ( rate( ${metric}{project_id="p1", model_name="llama"}[300s] ) )`;

  it("answers the page's rate queries", () => {
    const at = 15 * 60_000;
    for (const [metric, want] of [
      ["crusoe_inference_request_count", 1],
      ["crusoe_inference_input_token_count", 100],
      ["crusoe_inference_output_token_count", 40],
    ] as const) {
      const r = engine.instantQuery(db, page(metric), at);
      assert.equal(r.value.type, "vector");
      if (r.value.type !== "vector") return;
      assert.equal(r.value.samples.length, 1);
      assert.deepEqual(r.value.samples[0].metric, [{ name: "model_name", value: "llama" }]);
      assert.ok(Math.abs(r.value.samples[0].v - want) < 1e-9, `${metric}: ${r.value.samples[0].v}`);
    }
  });

  it("answers the page's TTFT quantile", () => {
    const q =
      'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket{project_id="p1", model_name="llama"}[300s] ) ) )';
    const r = engine.rangeQuery(db, q, 5 * 60_000, 15 * 60_000, 60_000);
    assert.equal(r.value.type, "matrix");
    if (r.value.type !== "matrix") return;
    assert.equal(r.value.series.length, 1);
    assert.equal(r.value.series[0].vs.length, 11);
    // The median sits at the top of the 0.05–0.1 bucket.
    for (const v of r.value.series[0].vs) assert.ok(Math.abs(v - 0.1) < 1e-9, String(v));
  });

  it("stops at the sample budget with Prometheus's error", () => {
    const small = newEngine({ maxSamples: 10 });
    assert.throws(
      () => small.instantQuery(db, "crusoe_inference_request_count[20m]", 20 * 60_000),
      (e: Error) => e instanceof TooManySamplesError && /too many samples/.test(e.message),
    );
  });

  it("honours an AbortSignal and a timeout", () => {
    const controller = new AbortController();
    controller.abort();
    assert.throws(
      () => engine.instantQuery(db, "crusoe_inference_request_count", 0, { signal: controller.signal }),
      (e: Error) => e instanceof QueryCanceledError && /query was canceled/.test(e.message),
    );
    const hasty = newEngine({ timeoutMs: -1 });
    assert.throws(
      () => hasty.instantQuery(db, "crusoe_inference_request_count", 0),
      (e: Error) => e instanceof QueryTimeoutError && /query timed out/.test(e.message),
    );
  });

  it("refuses a range vector in a range query", () => {
    assert.throws(
      () => engine.rangeQuery(db, "crusoe_inference_request_count[5m]", 0, 60_000, 15_000),
      /invalid expression type "range vector" for range query/,
    );
  });
});
