import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TTFT_BUCKETS } from "../../src/catalog/metrics.js";
import { newEngine } from "../../src/promql/engine.js";
import { builtinRuleGroups } from "../../src/rules/builtin.js";
import { localRules, RuleManager } from "../../src/rules/manager.js";
import { parseRuleFile, RuleFileError } from "../../src/rules/rule-file.js";
import { isStaleNaN, labelsFromObject, Matcher } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { bits, readAll, tempDir } from "../tsdb/helpers.js";

const MIN = 60_000;
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MIN);

describe("rule files", () => {
  it("parses Prometheus's format", () => {
    const groups = parseRuleFile(
      `groups:
  - name: ttft
    interval: 30s
    labels: { team: ml }
    rules:
      - record: project:requests:rate5m
        expr: sum by (project_id) (rate(crusoe_inference_request_count[5m]))
      - record: answer
        expr: 42
        labels: { kind: constant }
`,
      "r.yml",
      60_000,
    );
    assert.equal(groups.length, 1);
    assert.equal(groups[0].intervalMs, 30_000);
    assert.deepEqual(groups[0].rules[1], {
      record: "answer",
      expr: "42",
      labels: { team: "ml", kind: "constant" },
    });
  });

  it("names the file, group and rule in every error", () => {
    const cases: Array<[string, RegExp]> = [
      ["groups: [", /r\.yml: not valid YAML/],
      [
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(",
        /r\.yml: group "g" rule 1: expr: 1:5: parse error/,
      ],
      [
        "groups:\n  - name: g\n    rules:\n      - alert: Hot\n        expr: up > 1",
        /alerting rules are not supported/,
      ],
      [
        "groups:\n  - name: g\n    rules:\n      - record: 1bad\n        expr: up",
        /invalid recording rule name "1bad"/,
      ],
      ["groups:\n  - name: g\n    interval: soon\n    rules: []", /group "g": interval: invalid duration/],
      [
        "groups:\n  - name: g\n    interval: 30m1h\n    rules: []",
        /r\.yml: group "g": interval: invalid duration "30m1h": use a number of seconds, or units y w d h m s ms largest first and each at most once/,
      ],
      [
        "groups:\n  - name: g\n    interval: 1h1h\n    rules: []",
        /group "g": interval: invalid duration "1h1h"/,
      ],
      ["groups:\n  - name: g\n    interval: 0s\n    rules: []", /group "g": interval must be positive/],
      ["groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []", /group name used twice/],
      [
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: up[5m]",
        /must be an instant vector or a scalar/,
      ],
      ["groups:\n  - name: g\n    rulez: []", /r\.yml: groups\.0/],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseRuleFile(text, "r.yml", 60_000),
        (err: unknown) => err instanceof RuleFileError && re.test((err as Error).message),
        text,
      );
    }
  });

  it("reads intervals as flags do: Prometheus durations or a quoted number of seconds", () => {
    const interval = (v: string) =>
      parseRuleFile(`groups:\n  - name: g\n    interval: ${v}\n    rules: []`, "r.yml", 60_000)[0].intervalMs;
    assert.equal(interval("1m30s"), 90_000);
    assert.equal(interval('"90"'), 90_000);
    assert.equal(interval('"2.5"'), 2500);
  });
});

describe("rule evaluation", () => {
  let dir: { dir: string; cleanup: () => void };
  let db: Tsdb;
  before(() => {
    dir = tempDir("mim-rules-");
    db = Tsdb.open({ dir: dir.dir, maintenanceIntervalMs: 0 });
  });
  after(() => {
    db.close();
    dir.cleanup();
  });

  it("writes the built-in TTFT quantiles, equal to histogram_quantile over the same data", async () => {
    // Two projects' TTFT histograms, scraped every 15 s: observations spread across buckets.
    const app = db.appender();
    const bounds = [...TTFT_BUCKETS.map(String), "+Inf"];
    for (const project of ["a", "b"]) {
      for (let i = 0; i <= 40; i++) {
        const t = T0 + i * 15_000;
        let cum = 0;
        bounds.forEach((le, j) => {
          cum += i * (j % 5) * (project === "a" ? 1 : 3);
          app.append(
            0,
            labelsFromObject({
              __name__: "crusoe_inference_histogram_first_token_latency_bucket",
              project_id: project,
              model_name: "m",
              service_tier: "pt",
              le,
            }),
            t,
            cum,
          );
        });
      }
    }
    app.commit();
    const engine = newEngine();
    const rules = new RuleManager({ groups: builtinRuleGroups(), ...localRules(engine, db) });
    const at = T0 + 8 * MIN;
    await rules.evaluateAll(at);
    assert.ok(
      rules.health().every((h) => h.health === "ok"),
      JSON.stringify(rules.health()),
    );
    const q = db.querier(at, at);
    const got = readAll(q, new Matcher("=", "__name__", "crusoe_inference_first_token_latency"));
    q.close();
    assert.equal(got.length, 6, "3 quantiles × 2 projects");
    for (const quantile of ["0.5", "0.9", "0.99"]) {
      const want = engine.instantQuery(
        db,
        `histogram_quantile(${quantile}, sum by (project_id, model_name, service_tier, le) (rate(crusoe_inference_histogram_first_token_latency_bucket[5m])))`,
        at,
      );
      if (want.value.type !== "vector") throw new Error("expected a vector");
      for (const s of want.value.samples) {
        const project = s.metric.find((l) => l.name === "project_id")?.value;
        const row = got.find((g) => g.labels.project_id === project && g.labels.quantile === quantile);
        assert.ok(row, `${project} ${quantile}`);
        assert.equal(row.samples[0], `${at}:${bits(s.v)}`);
        assert.deepEqual(Object.keys(row.labels).sort(), [
          "__name__",
          "model_name",
          "project_id",
          "quantile",
          "service_tier",
        ]);
      }
    }
  });

  it("marks series stale when a rule stops producing them, and keeps going after errors", async () => {
    const app = db.appender();
    app.append(0, labelsFromObject({ __name__: "src", k: "1" }), T0, 1);
    app.append(0, labelsFromObject({ __name__: "src", k: "2" }), T0, 2);
    app.commit();
    const groups = parseRuleFile(
      `groups:
  - name: g
    rules:
      - record: copy
        expr: src * 10
      - record: broken
        expr: src + on() src
`,
      "g.yml",
      MIN,
    );
    const rules = new RuleManager({ groups, ...localRules(newEngine(), db) });
    await rules.evaluateAll(T0 + MIN);
    const h = rules.health();
    assert.equal(h[0].health, "ok");
    assert.equal(h[0].samples, 2);
    assert.equal(h[1].health, "err");
    assert.match(h[1].lastError ?? "", /many-to-many|duplicate series/);
    // Seven minutes later src has aged out of the lookback window: copy{k} vanish and get marked.
    await rules.evaluateAll(T0 + 7 * MIN);
    const q = db.querier(T0, T0 + 10 * MIN);
    const copies = readAll(q, new Matcher("=", "__name__", "copy"));
    q.close();
    assert.equal(copies.length, 2);
    for (const c of copies) {
      assert.equal(c.samples.length, 2);
      const bits = c.samples[1].split(":")[1];
      const f = new Float64Array(new BigUint64Array([BigInt(`0x${bits}`)]).buffer)[0];
      assert.ok(isStaleNaN(f));
    }
  });

  it("evaluates on the minute", async () => {
    let now = T0 + 59_990;
    const seen: number[] = [];
    const rules = new RuleManager({
      groups: [
        {
          name: "g",
          intervalMs: MIN,
          source: "t",
          rules: [{ record: "one", expr: "vector(1)", labels: {} }],
        },
      ],
      ...localRules(newEngine(), db),
      now: () => now,
    });
    const orig = rules.evaluateGroup.bind(rules);
    rules.evaluateGroup = (i: number, t: number) => {
      seen.push(t);
      return orig(i, t);
    };
    rules.start();
    await new Promise((r) => setTimeout(r, 50));
    now += 60_000;
    await rules.stop();
    assert.deepEqual(seen, [T0 + MIN]);
  });
});

describe("a slow evaluation", () => {
  it("makes the next ticks skip rather than queue, and stop() aborts it", async () => {
    const tmp = tempDir("mim-rules-slow-");
    const db = Tsdb.open({ dir: tmp.dir, log: () => {} });
    let calls = 0;
    let aborted = 0;
    const skipped: unknown[] = [];
    const rules = new RuleManager({
      groups: [
        { name: "g", intervalMs: 20, source: "t", rules: [{ record: "one", expr: "vector(1)", labels: {} }] },
      ],
      // An engine that never answers until told to stop.
      query: (_expr, _t, signal) =>
        new Promise((_, reject) => {
          calls++;
          signal.addEventListener("abort", () => {
            aborted++;
            reject(new Error("aborted"));
          });
        }),
      appendable: db,
      log: (fields, message) => {
        if (message.includes("skipped")) skipped.push(fields);
      },
    });
    rules.start();
    while (skipped.length < 3) await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, 1);
    await rules.stop();
    assert.equal(aborted, 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls, 1, "nothing evaluated after stop()");
    assert.equal(rules.health()[0].health, "unknown");
    db.close();
    tmp.cleanup();
  });
});
