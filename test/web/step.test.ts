/** The page's step choice and query text (pure modules of web/src, no browser needed). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PANELS, promString, totalQuery } from "../../web/src/queries.js";
import {
  alignWindow,
  chooseStep,
  MAX_LEAD,
  MIN_STEP,
  pointsOf,
  RANGES,
  relativeWindow,
} from "../../web/src/step.js";

describe("query_range steps", () => {
  it("gives each preset range 300–1,000 points unless the 15 s floor binds", () => {
    const now = 1_767_225_600 + 7; // any instant not on a step boundary
    const got = Object.fromEntries(RANGES.map((r) => [r.key, relativeWindow(r.seconds, now)]));
    assert.deepEqual(Object.fromEntries(Object.entries(got).map(([k, w]) => [k, w.step])), {
      "15m": 15,
      "1h": 15,
      "6h": 30,
      "24h": 120,
      "7d": 900,
    });
    for (const [key, w] of Object.entries(got)) {
      assert.equal(w.start % w.step, 0, key);
      assert.equal(w.end % w.step, 0, key);
      if (w.step <= MAX_LEAD)
        assert.ok(w.end >= now && w.end < now + w.step, `${key}: the end is now, rounded up`);
      else assert.ok(w.end > now - w.step && w.end <= now + MAX_LEAD, `${key}: the end is near now`);
      const points = pointsOf(w);
      if (w.step > MIN_STEP) assert.ok(points >= 300 && points <= 1001, `${key}: ${points} points`);
    }
  });

  it("keeps custom ranges within 1,000 points at any length", () => {
    for (let range = 60; range < 400 * 86400; range = Math.ceil(range * 1.37)) {
      const step = chooseStep(range);
      assert.ok(step >= MIN_STEP);
      assert.ok(range / step <= 1000, `${range}s at ${step}s`);
      if (step > MIN_STEP) assert.ok(range / step >= 300, `${range}s at ${step}s: ${range / step} points`);
    }
    const w = alignWindow(1000, 1000);
    assert.ok(w.end > w.start);
    // The 900 s step: rounded up only while the last point stays within MAX_LEAD of now.
    const week = 7 * 86400;
    assert.equal(alignWindow(900 * 1000 + 800 - week, 900 * 1000 + 800).end, 900 * 1001);
    assert.equal(alignWindow(900 * 1000 + 100 - week, 900 * 1000 + 100).end, 900 * 1000);
  });
});

describe("panel queries", () => {
  const f = { model: null, tier: null, splitTier: false };
  it("are the product page's queries with the project's matcher", () => {
    assert.deepEqual(
      PANELS.map((p) => p.queries("demo", f)[0].query),
      [
        'sum by (model_name) ( rate( crusoe_inference_request_count{project_id="demo"}[300s] ) )',
        'sum by (model_name) ( rate( crusoe_inference_input_token_count{project_id="demo"}[300s] ) )',
        'sum by (model_name) ( rate( crusoe_inference_output_token_count{project_id="demo"}[300s] ) )',
        'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket{project_id="demo"}[300s] ) ) )',
        'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_output_token_latency_bucket{project_id="demo"}[300s] ) ) )',
      ],
    );
  });

  it("adds filters as matchers and splits by tier on demand", () => {
    const g = { model: "m/a", tier: "pt", splitTier: true };
    assert.equal(
      PANELS[3].queries("p", g)[2].query,
      'histogram_quantile( 0.99, sum by (model_name, service_tier, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket{project_id="p", model_name="m/a", service_tier="pt"}[300s] ) ) )',
    );
    assert.equal(
      totalQuery("crusoe_inference_output_token_count", "p", f, 3600),
      'sum by (model_name) ( increase( crusoe_inference_output_token_count{project_id="p"}[3600s] ) )',
    );
    assert.equal(promString('a"b\\c'), '"a\\"b\\\\c"');
  });
});
