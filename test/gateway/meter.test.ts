/** The meter's series: names, labels, `le` strings, cumulative buckets and error series. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TPOT_BUCKETS, TTFT_BUCKETS } from "../../src/catalog/metrics.js";
import { formatBucketBound, Meter, SERIES_PER_SLOT } from "../../src/gateway/meter.js";
import { labelsToObject } from "../../src/storage/index.js";

describe("gateway meter", () => {
  it("formats bounds as Go's client library does", () => {
    const cases: Array<[number, string]> = [
      [0.001, "0.001"],
      [0.0025, "0.0025"],
      [0.0001, "0.0001"],
      [0.00001, "1e-05"],
      [1, "1"],
      [60, "60"],
      [1e21, "1e+21"],
      [123456789, "123456789"],
      [Number.POSITIVE_INFINITY, "+Inf"],
    ];
    for (const [v, want] of cases) assert.equal(formatBucketBound(v), want, String(v));
    for (const b of [...TTFT_BUCKETS, ...TPOT_BUCKETS]) assert.equal(formatBucketBound(b), String(b));
  });

  it("exports every series of a slot with the product's names and labels", () => {
    const m = new Meter({ now: () => 1000, extraLabels: { instance: "gw-1" } });
    const s = m.slot("p", "llama", "pt");
    assert.equal(m.slot("p", "llama", "pt"), s);
    const names = new Map<string, number>();
    for (let j = 0; j < SERIES_PER_SLOT; j++) {
      const l = labelsToObject(m.labelsOf(s, j));
      assert.equal(l.project_id, "p");
      assert.equal(l.model_name, "llama");
      assert.equal(l.service_tier, "pt");
      assert.equal(l.instance, "gw-1");
      names.set(l.__name__, (names.get(l.__name__) ?? 0) + 1);
    }
    assert.equal(names.get("crusoe_inference_request_count"), 1);
    assert.equal(names.get("crusoe_inference_input_token_count"), 1);
    assert.equal(names.get("crusoe_inference_output_token_count"), 1);
    assert.equal(names.get("crusoe_inference_histogram_first_token_latency_bucket"), TTFT_BUCKETS.length + 1);
    assert.equal(names.get("crusoe_inference_histogram_first_token_latency_sum"), 1);
    assert.equal(names.get("crusoe_inference_histogram_first_token_latency_count"), 1);
    assert.equal(
      names.get("crusoe_inference_histogram_output_token_latency_bucket"),
      TPOT_BUCKETS.length + 1,
    );
    assert.equal(names.get("crusoe_inference_request_error_count"), 7);
  });

  it("keeps cumulative buckets with inclusive upper bounds", () => {
    const m = new Meter();
    const s = m.slot("p", "m", "on_demand");
    m.observeTtft(s, 0.1); // exactly on a bound: counts in le="0.1"
    m.observeTtft(s, 0.11);
    m.observeTtft(s, 100); // past the last bound: only +Inf
    m.observeTpot(s, 0.0005);
    const r = m.read("p", "m", "on_demand");
    assert.ok(r);
    const at = (b: number) => r.ttft.cumulative[r.ttft.bounds.indexOf(b)];
    assert.equal(at(0.075), 0);
    assert.equal(at(0.1), 1);
    assert.equal(at(0.15), 2);
    assert.equal(at(60), 2);
    assert.equal(at(Number.POSITIVE_INFINITY), 3);
    assert.equal(r.ttft.count, 3);
    assert.ok(Math.abs(r.ttft.sum - 100.21) < 1e-9);
    assert.equal(r.tpot.cumulative[0], 1);
    // The le labels match the bounds, in order, ending with +Inf.
    const les: string[] = [];
    for (let j = 0; j < SERIES_PER_SLOT; j++) {
      const l = labelsToObject(m.labelsOf(s, j));
      if (l.__name__ === "crusoe_inference_histogram_first_token_latency_bucket") les.push(l.le);
    }
    assert.deepEqual(les, [...TTFT_BUCKETS.map(String), "+Inf"]);
  });

  it("creates an error series on its first increment", () => {
    let t = 5;
    const m = new Meter({ now: () => t });
    const s = m.slot("p", "m", "on_demand");
    const vals = new Float64Array(SERIES_PER_SLOT);
    m.fill(s, vals);
    const errIdx = SERIES_PER_SLOT - 7;
    for (let r = 0; r < 7; r++) assert.ok(Number.isNaN(vals[errIdx + r]));
    t = 9;
    m.recordError(s, "timeout");
    m.recordError(s, "timeout");
    m.fill(s, vals);
    assert.equal(vals[errIdx + 3], 2);
    assert.equal(m.createdAt(s, errIdx + 3), 9);
    assert.ok(Number.isNaN(m.createdAt(s, errIdx)));
    assert.equal(m.createdAt(s, 0), 5);
    assert.equal(m.read("p", "m", "on_demand")?.errors.timeout, 2);
  });

  it("grows past its initial capacity without losing values", () => {
    const m = new Meter();
    for (let i = 0; i < 100; i++) m.recordRequest(m.slot(`p${i}`, "m", "on_demand"), i, 2 * i);
    for (let i = 0; i < 100; i++) {
      const r = m.read(`p${i}`, "m", "on_demand");
      assert.equal(r?.requests, 1);
      assert.equal(r?.inputTokens, i);
      assert.equal(r?.outputTokens, 2 * i);
    }
  });
});
