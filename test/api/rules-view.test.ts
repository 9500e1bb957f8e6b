/**
 * /api/v1/rules is served to every tenant, while a recording rule reads all projects' series. So:
 * an evaluation's error text (a duplicate label set, an engine's message) can name another
 * project's series and stays in the operator's log; and the operator's rule files (expressions
 * naming projects and models, their labels, record names, the file path) are not shown to tenants
 * at all. Only the built-in groups, which are generic, are listed, with a neutral `file`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RulesView, rulesData } from "../../src/api/metadata-routes.js";
import { builtinRuleGroups } from "../../src/rules/builtin.js";
import { RuleManager } from "../../src/rules/manager.js";
import { parseRuleFile } from "../../src/rules/rule-file.js";
import { startInjectService } from "./inject-harness.js";

interface ShownRules {
  groups: Array<{
    name: string;
    file: string;
    interval: number;
    rules: Array<{
      name: string;
      query: string;
      labels: Record<string, string>;
      health: string;
      lastError?: string;
    }>;
  }>;
}

const OPERATOR_FILE = `
groups:
  - name: per-customer
    labels:
      team: secret-team-label
    rules:
      - record: proj_bravo:requests:rate5m
        expr: sum by (model_name) (rate(crusoe_inference_requests_total{project_id="proj-bravo", model_name="secret-model-b"}[5m]))
      - record: generic:requests:rate5m
        expr: sum by (project_id) (rate(crusoe_inference_requests_total[5m]))
  - name: crusoe_inference_latency_quantiles
    rules:
      - record: crusoe_inference_first_token_latency
        expr: sum(rate(crusoe_inference_requests_total{project_id="proj-charlie"}[5m]))
        labels:
          quantile: "0.5"
`;
const OPERATOR_PATH = "/etc/mim/operator-secret-rules.yml";
const SECRETS = [
  "proj-bravo",
  "proj_bravo",
  "secret-model-b",
  "secret-team-label",
  "generic:requests",
  "per-customer",
  "proj-charlie",
  "operator-secret-rules",
  "/etc/mim",
];

function view(): RulesView {
  const groups = [...builtinRuleGroups(60_000), ...parseRuleFile(OPERATOR_FILE, OPERATOR_PATH, 60_000)];
  // The manager's own health entries, as the service serves them; all failed, with a telling error.
  const manager = new RuleManager({
    groups,
    query: () => ({ type: "scalar", v: 0, t: 0 }) as never,
    appendable: { appender: () => ({}) as never },
  });
  const health = manager.health().map((h) => ({
    ...h,
    health: "err" as const,
    lastError: 'vector contains metrics with the same labelset: {project_id="proj-bravo"}',
    lastEvaluation: 1_700_000_000_000,
    evaluationSeconds: 0.01,
  }));
  return { groups, health };
}

describe("the rules view", () => {
  it("shows the built-in rules only, with a neutral file name and no error text", () => {
    const body = rulesData(view(), new Map());
    for (const s of SECRETS) assert.ok(!body.includes(s), `${s} in ${body}`);
    const parsed = JSON.parse(body) as { status: string; data: ShownRules };
    assert.equal(parsed.status, "success");
    const [builtin] = builtinRuleGroups(60_000);
    assert.equal(parsed.data.groups.length, 1);
    const g = parsed.data.groups[0];
    assert.equal(g.name, builtin.name);
    assert.equal(g.file, "built-in");
    assert.equal(g.interval, 60);
    // The operator's same-named group did not slip its rule in: exactly the built-in six.
    assert.deepEqual(
      g.rules.map((r) => [r.name, r.query, r.labels]),
      builtin.rules.map((r) => [r.record, r.expr, r.labels]),
    );
    for (const r of g.rules) {
      assert.equal(r.health, "err");
      assert.match(r.lastError ?? "", /service's log/);
    }
  });

  it("keeps Prometheus's shape: no groups for type=alert, empty groups without rules", () => {
    assert.equal(
      rulesData(view(), new Map([["type", ["alert"]]])),
      '{"status":"success","data":{"groups":[]}}',
    );
    assert.equal(rulesData(undefined, new Map()), '{"status":"success","data":{"groups":[]}}');
    const onlyOperator = parseRuleFile(OPERATOR_FILE, OPERATOR_PATH, 60_000);
    assert.equal(
      rulesData({ groups: onlyOperator, health: [] }, new Map()),
      '{"status":"success","data":{"groups":[]}}',
    );
  });

  it("a rule file cannot mark its groups as built-in", () => {
    assert.throws(
      () => parseRuleFile("groups:\n  - name: g\n    builtin: true\n    rules: []\n", "f.yml", 60_000),
      /builtin/,
    );
  });

  it("over HTTP, a tenant sees nothing of the operator's files", async () => {
    const s = await startInjectService({ rules: view });
    try {
      const token = s.token("alpha");
      const res = await s.request({ url: `${s.base("alpha")}/api/v1/rules`, token });
      assert.equal(res.status, 200, res.text);
      for (const secret of SECRETS) assert.ok(!res.text.includes(secret), `${secret} in ${res.text}`);
      assert.equal((res.json.data as ShownRules).groups.length, 1);
    } finally {
      await s.close();
    }
  });
});
