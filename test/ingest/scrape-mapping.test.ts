/**
 * The vLLM → product mapping against the recorded pages: exactly which series come out, with
 * which labels and values (worked out by hand from the pages, not by the code under test).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseExposition } from "../../src/ingest/scrape/exposition.js";
import { type MappedSample, mapExposition } from "../../src/ingest/scrape/mapping.js";
import { labelsToObject } from "../../src/storage/labels.js";

const V0 = readFileSync("test/fixtures/vllm-metrics.txt", "utf8");
const V1 = readFileSync("test/fixtures/vllm-metrics-v1.txt", "utf8");

/** "name{le}" → value, failing on label sets other than the expected ones. */
function table(samples: readonly MappedSample[], base: Record<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const { __name__, le, ...rest } = labelsToObject(s.labels);
    assert.deepEqual(rest, base, `labels of ${__name__}`);
    assert.equal(s.timestampMs, undefined);
    const key = le === undefined ? __name__ : `${__name__}{${le}}`;
    assert.ok(!out.has(key), `${key} twice`);
    out.set(key, s.value);
  }
  return out;
}

function expectHistogram(
  got: Map<string, number>,
  name: string,
  bounds: readonly string[],
  cumulative: readonly number[],
  sum: number,
) {
  assert.equal(bounds.length, cumulative.length);
  for (const [i, le] of bounds.entries()) {
    assert.equal(got.get(`${name}_bucket{${le}}`), cumulative[i], `${name}_bucket{le="${le}"}`);
  }
  assert.equal(got.get(`${name}_count`), cumulative[cumulative.length - 1]);
  assert.equal(got.get(`${name}_sum`), sum);
}

const TTFT_LE = [
  "0.001",
  "0.005",
  "0.01",
  "0.02",
  "0.04",
  "0.06",
  "0.08",
  "0.1",
  "0.25",
  "0.5",
  "0.75",
  "1.0",
  "2.5",
  "5.0",
  "7.5",
  "10.0",
  "20.0",
  "40.0",
  "80.0",
  "160.0",
  "640.0",
  "2560.0",
  "+Inf",
];
const TPOT_LE = [
  "0.01",
  "0.025",
  "0.05",
  "0.075",
  "0.1",
  "0.15",
  "0.2",
  "0.3",
  "0.4",
  "0.5",
  "0.75",
  "1.0",
  "2.5",
  "5.0",
  "7.5",
  "10.0",
  "20.0",
  "40.0",
  "80.0",
  "+Inf",
];
const TTFT = "crusoe_inference_histogram_first_token_latency";
const TPOT = "crusoe_inference_histogram_output_token_latency";

describe("scrape mapping: vLLM 0.9 page (text 0.0.4, one engine)", () => {
  const exposition = parseExposition(V0);
  const result = mapExposition(exposition.samples, { project_id: "acme", service_tier: "on_demand" });
  const base = {
    project_id: "acme",
    model_name: "meta-llama/Llama-3.1-8B-Instruct",
    service_tier: "on_demand",
  };

  it("produces exactly the product's series", () => {
    const got = table(result.samples, base);
    // 3 counters + 23 TTFT buckets + 20 TPOT buckets + 2×(sum, count).
    assert.equal(got.size, 3 + 23 + 20 + 4);
    assert.equal(got.get("crusoe_inference_request_count"), 1621 + 247 + 0);
    assert.equal(got.get("crusoe_inference_input_token_count"), 1146388);
    assert.equal(got.get("crusoe_inference_output_token_count"), 402517);
    expectHistogram(
      got,
      TTFT,
      TTFT_LE,
      [0, 0, 0, 31, 219, 493, 794, 1056, 1596, 1774, 1826, 1847, 1864, ...Array(10).fill(1868)],
      301.5537261962891,
    );
    expectHistogram(
      got,
      TPOT,
      TPOT_LE,
      [
        1204,
        332791,
        394024,
        398144,
        399531,
        400243,
        400494,
        400592,
        400623,
        400637,
        400646,
        400648,
        ...Array(8).fill(400649),
      ],
      7934.372911691666,
    );
  });

  it("counts what it drops", () => {
    assert.equal(result.samples.length, 50);
    // 346 samples on the page; 3 success + 2 token counters + 25 TTFT + 22 TPOT lines were used.
    assert.equal(result.dropped, 346 - (3 + 2 + 25 + 22));
    assert.deepEqual(result.droppedByReason, { unmapped: 294 });
  });

  it("takes the model name from the target config when it sets one", () => {
    const r = mapExposition(exposition.samples, {
      project_id: "acme",
      service_tier: "pt",
      model_name: "llama-3.1-8b",
    });
    assert.equal(r.samples.length, 50);
    for (const s of r.samples) {
      const l = labelsToObject(s.labels);
      assert.equal(l.model_name, "llama-3.1-8b");
      assert.equal(l.service_tier, "pt");
    }
  });
});

describe("scrape mapping: vLLM 0.11 page (OpenMetrics, two data-parallel engines)", () => {
  const exposition = parseExposition(V1, "openmetrics");
  const result = mapExposition(exposition.samples, { project_id: "acme", service_tier: "pt" });
  const base = { project_id: "acme", model_name: "meta-llama/Llama-3.3-70B-Instruct", service_tier: "pt" };

  it("sums engines and finish reasons, and uses inter_token_latency for TPOT", () => {
    const got = table(result.samples, base);
    assert.equal(got.size, 50);
    assert.equal(got.get("crusoe_inference_request_count"), 812 + 93 + 4 + 798 + 101 + 2);
    assert.equal(got.get("crusoe_inference_input_token_count"), 2210456 + 2187003);
    assert.equal(got.get("crusoe_inference_output_token_count"), 301877 + 299120);
    expectHistogram(
      got,
      TTFT,
      TTFT_LE,
      [0, 0, 0, 0, 0, 0, 0, 21, 618, 1398, 1637, 1736, 1796, 1805, ...Array(9).fill(1807)],
      363.2841796875 + 358.9912109375,
    );
    expectHistogram(
      got,
      TPOT,
      TPOT_LE,
      [
        0,
        2009,
        552442,
        590249,
        596436,
        598337,
        598857,
        599066,
        599137,
        599169,
        599184,
        599189,
        ...Array(8).fill(599190),
      ],
      11947.583984375 + 11802.1943359375,
    );
  });

  it("drops the deprecated time_per_output_token_seconds when both names are exposed", () => {
    // 2 engines × (20 buckets + sum + count) of the older name.
    assert.equal(result.droppedByReason.superseded, 44);
    assert.equal(result.dropped, 710 - (6 + 4 + 2 * 25 + 2 * 22));
  });
});

describe("scrape mapping: rules", () => {
  const sample = (name: string, labels: Record<string, string>, value: number, timestampMs?: number) => ({
    name,
    labels: Object.entries(labels).map(([n, v]) => ({ name: n, value: v })),
    value,
    timestampMs,
    line: 1,
  });
  const target = { project_id: "acme", service_tier: "on_demand" as const };

  it("passes the product's own names through after checking project and tier", () => {
    const r = mapExposition(
      [
        sample("crusoe_inference_request_count", { model_name: "m", project_id: "acme", code: "200" }, 5),
        sample("crusoe_inference_request_count", { model_name: "m", project_id: "acme", code: "500" }, 1),
        sample("crusoe_inference_input_token_count_total", { model_name: "m" }, 7),
        sample("crusoe_inference_output_token_count", { model_name: "m", project_id: "other" }, 9),
        sample("crusoe_inference_output_token_count", { model_name: "m", service_tier: "pt" }, 9),
        sample(`${TTFT}_bucket`, { model_name: "m", le: "0.5", service_tier: "on_demand" }, 3),
        sample("crusoe_inference_first_token_latency", { model_name: "m", quantile: "0.5" }, 0.2),
      ],
      target,
    );
    assert.deepEqual(
      r.samples.map((s) => [labelsToObject(s.labels), s.value]),
      [
        [
          {
            __name__: "crusoe_inference_request_count",
            model_name: "m",
            project_id: "acme",
            service_tier: "on_demand",
          },
          6,
        ],
        [
          {
            __name__: "crusoe_inference_input_token_count",
            model_name: "m",
            project_id: "acme",
            service_tier: "on_demand",
          },
          7,
        ],
        [
          {
            __name__: `${TTFT}_bucket`,
            le: "0.5",
            model_name: "m",
            project_id: "acme",
            service_tier: "on_demand",
          },
          3,
        ],
      ],
    );
    assert.deepEqual(r.droppedByReason, { foreign_project: 1, tier_mismatch: 1, computed_by_rules: 1 });
  });

  it("drops series without a model name or le, and duplicates", () => {
    const r = mapExposition(
      [
        sample("vllm:prompt_tokens_total", {}, 5),
        sample("vllm:time_to_first_token_seconds_bucket", { model_name: "m" }, 1),
        sample("vllm:generation_tokens_total", { model_name: "m", engine: "0" }, 2),
        sample("vllm:generation_tokens_total", { engine: "0", model_name: "m" }, 2),
        sample("vllm:num_requests_running", { model_name: "m" }, 3),
      ],
      target,
    );
    assert.equal(r.samples.length, 1);
    assert.equal(r.samples[0].value, 2);
    assert.deepEqual(r.droppedByReason, { no_model_name: 1, no_le: 1, duplicate: 1, unmapped: 1 });
    assert.equal(r.dropped, 4);
  });

  it("keeps exposed timestamps only when every summed input has one", () => {
    const r = mapExposition(
      [
        sample("vllm:request_success_total", { model_name: "a", finished_reason: "stop" }, 1, 1000),
        sample("vllm:request_success_total", { model_name: "a", finished_reason: "length" }, 1, 2000),
        sample("vllm:request_success_total", { model_name: "b", finished_reason: "stop" }, 1, 1000),
        sample("vllm:request_success_total", { model_name: "b", finished_reason: "length" }, 1),
      ],
      target,
    );
    assert.deepEqual(
      r.samples.map((s) => s.timestampMs),
      [2000, undefined],
    );
  });
});
