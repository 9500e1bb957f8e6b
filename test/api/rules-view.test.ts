/**
 * /api/v1/rules is served to every project, while a recording rule reads all projects' series: an
 * evaluation's error text (a duplicate label set, an engine's message) can name another project's
 * series, so it stays in the operator's log and the API shows that the rule failed, not why.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rulesData } from "../../src/api/metadata-routes.js";

describe("the rules view", () => {
  it("says a rule failed without showing the error text", () => {
    const secret = '{project_id="proj-bravo", model_name="secret-model-b"}';
    const body = rulesData(
      {
        groups: [{ name: "g", intervalMs: 60_000, source: "rules.yml" }],
        health: [
          {
            group: "g",
            record: "r",
            expr: "sum by (project_id) (x)",
            labels: {},
            health: "err",
            lastError: `vector contains metrics with the same labelset after applying rule labels: ${secret}`,
            lastEvaluation: 1_700_000_000_000,
            evaluationSeconds: 0.01,
          },
        ],
      },
      new Map(),
    );
    assert.ok(!body.includes("proj-bravo"), body);
    const parsed = JSON.parse(body) as {
      data: { groups: Array<{ rules: Array<{ health: string; lastError: string }> }> };
    };
    assert.equal(parsed.data.groups[0].rules[0].health, "err");
    assert.match(parsed.data.groups[0].rules[0].lastError, /service's log/);
  });
});
