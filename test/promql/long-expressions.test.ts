/**
 * Long and deep expressions: within MAX_EXPRESSION_DEPTH they parse, check, print and evaluate
 * (no stack overflow, no "unexpected …" from lezer's left-associativity guard); beyond it they
 * are refused with a ParseError from one pass over the tokens, quickly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newEngine } from "../../src/promql/engine.js";
import { ParseError } from "../../src/promql/errors.js";
import { MAX_EXPRESSION_DEPTH, PAREN_DEPTH_WEIGHT, parseExpr } from "../../src/promql/parser/index.js";
import { formatExpr } from "../../src/promql/printer.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { startInjectService } from "../api/inject-harness.js";
import { tempDir } from "../tsdb/helpers.js";

const chain = (term: string, op: string, operators: number) =>
  Array(operators + 1)
    .fill(term)
    .join(` ${op} `);
const nest = (open: string, inner: string, close: string, levels: number) =>
  open.repeat(levels) + inner + close.repeat(levels);
const LONG = 'inference_requests_with_a_rather_long_metric_name_total{model_name="llama-3.1-70b"}';

describe("long expressions", () => {
  let db: Tsdb;
  let cleanup: () => void;
  const engine = newEngine();
  const T = 100_000;

  before(() => {
    const t = tempDir("mim-long-expr-");
    cleanup = t.cleanup;
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0 });
    const app = db.appender();
    app.append(0, labelsFromObject({ __name__: "up", job: "a" }), T, 1);
    app.append(
      0,
      labelsFromObject({ __name__: LONG.slice(0, LONG.indexOf("{")), model_name: "llama-3.1-70b" }),
      T,
      2,
    );
    app.commit();
  });
  after(() => {
    db.close();
    cleanup();
  });

  /** The query's scalar or single-sample value, or the error it ended with. */
  function run(q: string): number | Error {
    try {
      const r = engine.instantQuery(db, q, T);
      const v = r.value as { type: string; v?: number; samples?: Array<{ v: number }> };
      if (v.type === "scalar") return v.v!;
      assert.equal(v.samples?.length, 1, q.slice(0, 60));
      return v.samples![0]!.v;
    } catch (err) {
      return err as Error;
    }
  }

  function refused(q: string): void {
    const t0 = performance.now();
    assert.throws(() => parseExpr(q), ParseError);
    const err = run(q);
    const ms = performance.now() - t0;
    assert.ok(err instanceof ParseError, `${q.length} chars: ${err}`);
    assert.match(
      err.message,
      new RegExp(`expression too large: more than ${MAX_EXPRESSION_DEPTH} operators`),
    );
    assert.ok(ms < 5000, `refused in ${ms.toFixed(0)} ms`);
  }

  it("refuses 10,000 and 100,000-term chains, quickly", () => {
    for (const n of [10_000, 100_000]) {
      refused(chain("2", "^", n - 1));
      refused(chain("1", "+", n - 1));
      refused(chain("up", "or", n - 1));
    }
    refused(nest("(", "1", ")", 100_000));
    refused(nest("abs(", "up", ")", 10_000));
    // Counted with nothing else done first: 100,000 operators of a query lezer could not even parse.
    const t0 = performance.now();
    assert.throws(() => parseExpr(`${chain("1", "+", 99_999)} +`), /expression too large/);
    assert.ok(performance.now() - t0 < 1000);
  });

  it("parses and evaluates chains up to the limit (no lezer guard, no stack overflow)", () => {
    assert.equal(run(chain("1", "+", 800)), 801);
    assert.equal(run(chain("1", "+", MAX_EXPRESSION_DEPTH)), MAX_EXPRESSION_DEPTH + 1);
    assert.equal(run(chain("1", "-", MAX_EXPRESSION_DEPTH)), 1 - MAX_EXPRESSION_DEPTH);
    assert.equal(run(chain("1", "^", MAX_EXPRESSION_DEPTH)), 1);
    assert.equal(run(`2 ^ ${chain("1", "^", 799)}`), 2, "right-associative");
    assert.equal(run(chain(LONG, "+", 800)), 2 * 801, "long operands: lezer's guard would stop at ~300");
    assert.equal(run(chain("up", "and", MAX_EXPRESSION_DEPTH)), 1);
    assert.equal(run(chain("up", "== bool on(job)", MAX_EXPRESSION_DEPTH - PAREN_DEPTH_WEIGHT)), 1);
    refused(chain("1", "+", MAX_EXPRESSION_DEPTH + 1));
  });

  it("parses and evaluates nesting up to the limit", () => {
    const levels = MAX_EXPRESSION_DEPTH / PAREN_DEPTH_WEIGHT;
    assert.equal(run(nest("(", "1", ")", levels)), 1);
    assert.equal(run(nest("abs(", "up", ")", levels)), 1);
    assert.equal(run(nest("sum by (job) (", "up", ")", levels - 1)), 1);
    const negations = Math.floor(MAX_EXPRESSION_DEPTH / (PAREN_DEPTH_WEIGHT + 1));
    assert.equal(run(nest("-(", "1", ")", negations)), negations % 2 ? -1 : 1);
    assert.equal(
      run(nest("(1 + ", "1", ")", Math.floor(MAX_EXPRESSION_DEPTH / (PAREN_DEPTH_WEIGHT + 1)))),
      334,
    );
    assert.equal(run(nest("max_over_time((", "up", ")[1s:1s])", 150)), 1);
    refused(nest("(", "1", ")", levels + 1));
  });

  it("prints what it parsed, at the limit", () => {
    for (const q of [
      chain("1", "+", MAX_EXPRESSION_DEPTH),
      nest("abs(", "up", ")", MAX_EXPRESSION_DEPTH / 2),
    ]) {
      const printed = formatExpr(parseExpr(q));
      assert.equal(formatExpr(parseExpr(printed)), printed);
    }
  });

  it("never counts label matchers, strings or durations as operators", () => {
    const matchers = Array.from({ length: 2000 }, (_, i) => `l${i}!="a+b"`).join(",");
    assert.equal(run(`count(up{${matchers}})`), 1);
    const relabel = 'label_replace(vector(1), "x", "+^*/(((", "", "")';
    assert.equal(run(`count_over_time(up[5m]) + on() ${relabel}`), 2);
  });

  it("answers 400 bad_data over HTTP", async () => {
    const s = await startInjectService();
    try {
      const token = s.token("alpha");
      for (const q of [chain("1", "+", 10_000), chain("2", "^", 10_000), nest("(", "1", ")", 10_000)]) {
        const res = await s.request({
          url: `${s.base("alpha")}/api/v1/query?query=${encodeURIComponent(q)}`,
          token,
        });
        assert.equal(res.status, 400, res.text.slice(0, 200));
        assert.equal(res.json.errorType, "bad_data");
        assert.match(String(res.json.error), /expression too large/);
      }
      const ok = await s.request({
        url: `${s.base("alpha")}/api/v1/query?query=${encodeURIComponent(chain("1", "+", 800))}`,
        token,
      });
      assert.equal(ok.status, 200, ok.text.slice(0, 200));
    } finally {
      await s.close();
    }
  });
});
