import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Engine, newEngine } from "../../src/promql/engine.js";
import { ParseError, ExecutionError as QueryEvalError } from "../../src/promql/errors.js";
import { atModifierCases, atModifierCasesTextual } from "../../src/promql/promqltest/at-modifier.js";
import {
  almostEqual,
  checkAnnotations,
  checkExpectedFailure,
  compareResult,
  formatMetric,
} from "../../src/promql/promqltest/compare.js";
import { parseDurationMs } from "../../src/promql/promqltest/duration.js";
import { parseGoNumber } from "../../src/promql/promqltest/literals.js";
import {
  LoadedSeriesIndex,
  nativeHistogramSkipReason,
  nhcbBaseLabels,
} from "../../src/promql/promqltest/native-histograms.js";
import { runScript, TEST_ENGINE_OPTIONS } from "../../src/promql/promqltest/runner.js";
import {
  type EvalCommand,
  isFail,
  isOrdered,
  type LoadCommand,
  parseScript,
  type Script,
} from "../../src/promql/promqltest/script.js";
import { extractSelectors } from "../../src/promql/promqltest/selectors.js";
import { parseSequence, parseSeriesDesc, type SequenceValue } from "../../src/promql/promqltest/series.js";
import type { MatrixSeries, QueryResult, QueryValue, VectorSample } from "../../src/promql/value.js";
import {
  isStaleNaN,
  Matcher,
  METRIC_NAME,
  type Queryable,
  StaleNaN,
  type Storage,
} from "../../src/storage/index.js";
import { openScratchTsdb } from "../../src/tsdb/scratch.js";

const L = (obj: Record<string, string>) =>
  Object.entries(obj)
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Expanded values as plain data: numbers, "_" for omitted, "stale", "H" for histograms. */
function flat(values: readonly SequenceValue[]): (number | string)[] {
  return values.map((v) =>
    v.kind === "float" ? v.value : v.kind === "omitted" ? "_" : v.kind === "stale" ? "stale" : "H",
  );
}

function evals(script: Script): EvalCommand[] {
  return script.commands.filter((c): c is EvalCommand => c.type === "eval");
}

function onlyEval(text: string): EvalCommand {
  const s = parseScript(text);
  assert.deepEqual(s.errors, []);
  const e = evals(s);
  assert.equal(e.length, 1);
  return e[0];
}

describe("durations", () => {
  it("reads Prometheus durations as upstream's promqltest does: model.ParseDuration only", () => {
    assert.equal(parseDurationMs("0"), 0);
    assert.equal(parseDurationMs("5m"), 300_000);
    assert.equal(parseDurationMs("1h30m"), 5_400_000);
    assert.equal(parseDurationMs("10s53ms"), 10_053);
    assert.equal(parseDurationMs("1d"), 86_400_000);
    assert.equal(parseDurationMs("0h"), 0);
    assert.throws(() => parseDurationMs("30m1h"), /^Error: not a valid duration string: "30m1h"$/);
    assert.throws(() => parseDurationMs("1h1h"), /^Error: not a valid duration string: "1h1h"$/);
    assert.throws(() => parseDurationMs("1800"), /^Error: not a valid duration string: "1800"$/);
    assert.throws(() => parseDurationMs("1.5"), /^Error: unknown unit "." in duration "1.5"$/);
    assert.throws(() => parseDurationMs(""), /^Error: empty duration string$/);
    assert.throws(() => parseDurationMs("5 m"), /^Error: unknown unit " m" in duration "5 m"$/);
  });

  it("reports a bad step or time with the line", () => {
    const s = parseScript("load 5m1h\n  foo 1\n\neval instant at 1h1h foo\n  foo 1\n");
    assert.deepEqual(
      s.errors.map((e) => [e.line, e.message]),
      [
        [1, 'invalid step definition "5m1h": not a valid duration string: "5m1h"'],
        [4, 'invalid timestamp definition "1h1h": not a valid duration string: "1h1h"'],
      ],
    );
  });
});

describe("series notation", () => {
  it("expands a+bxn to n+1 values", () => {
    assert.deepEqual(flat(parseSequence("0+10x3")), [0, 10, 20, 30]);
    assert.deepEqual(flat(parseSequence("10-2x5")), [10, 8, 6, 4, 2, 0]);
    assert.deepEqual(flat(parseSequence("-2+4x3")), [-2, 2, 6, 10]);
    assert.deepEqual(flat(parseSequence("1x2")), [1, 1, 1]);
    assert.deepEqual(flat(parseSequence("8000-10x1")), [8000, 7990]);
    assert.deepEqual(flat(parseSequence("1e-3+1e-3x1")), [0.001, 0.002]);
  });

  it("handles blanks, stale markers and special values", () => {
    assert.deepEqual(flat(parseSequence("1 _x2 3")), [1, "_", "_", 3]);
    assert.deepEqual(flat(parseSequence("1 _ stale 2")), [1, "_", "stale", 2]);
    assert.deepEqual(flat(parseSequence("_x3")), ["_", "_", "_"]);
    const special = flat(parseSequence("Inf -Inf +Inf inf NaN nan .5 2. 1e3"));
    assert.deepEqual(special.slice(0, 4), [Infinity, -Infinity, Infinity, Infinity]);
    assert.ok(Number.isNaN(special[4]) && Number.isNaN(special[5]));
    assert.deepEqual(special.slice(6), [0.5, 2, 1000]);
  });

  it("reads 0x3 as three repeats of 0, never as hexadecimal", () => {
    assert.deepEqual(flat(parseSequence("0x3")), [0, 0, 0, 0]);
  });

  it("accumulates steps as Prometheus does", () => {
    const vals = flat(parseSequence("0+0.1x3"));
    assert.deepEqual(vals, [0, 0.1, 0.1 + 0.1, 0.1 + 0.1 + 0.1]);
  });

  it("keeps native histograms as opaque values, with their expansions", () => {
    const hist = "{{schema:1 sum:3 count:22 buckets:[5 10 7]}}";
    assert.deepEqual(flat(parseSequence(`1 ${hist} _`)), [1, "H", "_"]);
    assert.deepEqual(flat(parseSequence(`${hist}x2 5`)), ["H", "H", "H", 5]);
    assert.deepEqual(flat(parseSequence("{{sum:1 count:1}}+{{sum:2 count:2}}x1")), ["H", "H"]);
    assert.deepEqual(flat(parseSequence("{{schema:0 sum:1}}-{{sum:1}}x2")), ["H", "H", "H"]);
  });

  it("rejects malformed values", () => {
    assert.throws(() => parseSequence("1+2"), /needs "x<count>"/);
    assert.throws(() => parseSequence("abc"), /invalid series value/);
    assert.throws(() => parseSequence("{{schema:1"), /unterminated/);
  });

  it("parses metric names and labels", () => {
    const d = parseSeriesDesc(`http_requests{job="api", instance='0', path=\`/a\\b\`} 1 2`);
    assert.deepEqual(d.labels, L({ __name__: "http_requests", instance: "0", job: "api", path: "/a\\b" }));
    assert.deepEqual(flat(d.values), [1, 2]);
    assert.deepEqual(parseSeriesDesc("{} 3").labels, []);
    assert.deepEqual(parseSeriesDesc('{a="b",} 3').labels, L({ a: "b" }));
    assert.deepEqual(parseSeriesDesc("metric 3").labels, L({ __name__: "metric" }));
    assert.deepEqual(parseSeriesDesc("ns:metric:rate5m{} 3").labels, L({ __name__: "ns:metric:rate5m" }));
    assert.deepEqual(parseSeriesDesc('{__name__="x", y="z"} 3').labels, L({ __name__: "x", y: "z" }));
  });

  it("parses quoted UTF-8 names", () => {
    const d = parseSeriesDesc('{"a.b", "c.d"="x", e="\\u00e9\\n"} 1');
    assert.deepEqual(d.labels, L({ __name__: "a.b", "c.d": "x", e: "é\n" }));
  });

  it("drops empty label values and rejects duplicates", () => {
    assert.deepEqual(parseSeriesDesc('m{a="", b="1"} 1').labels, L({ __name__: "m", b: "1" }));
    assert.throws(() => parseSeriesDesc('m{a="1", a="2"} 1'), /given twice/);
    assert.throws(() => parseSeriesDesc('m{a=~"1"} 1'), /expected "="/);
    assert.throws(() => parseSeriesDesc('m{a="1" 1'), /expected "," or "}"/);
  });

  it("tells a histogram value from a label block", () => {
    const d = parseSeriesDesc("metric {{schema:0 sum:1 count:1}}");
    assert.deepEqual(d.labels, L({ __name__: "metric" }));
    assert.deepEqual(flat(d.values), ["H"]);
  });
});

describe("Go number parsing (scalar result lines)", () => {
  it("follows strconv.ParseInt(s, 0, 64) then ParseFloat", () => {
    assert.equal(parseGoNumber("12340000"), 12340000);
    assert.equal(parseGoNumber("0.00001234"), 0.00001234);
    assert.equal(parseGoNumber("-0.0000002"), -0.0000002);
    assert.equal(parseGoNumber("0x1F"), 31);
    assert.equal(parseGoNumber("017"), 15);
    assert.equal(parseGoNumber("+Inf"), Infinity);
    assert.equal(parseGoNumber("-inf"), -Infinity);
    assert.ok(Number.isNaN(parseGoNumber("NaN")));
    assert.equal(parseGoNumber("1e3"), 1000);
    assert.equal(parseGoNumber("{} 1"), undefined);
    assert.equal(parseGoNumber("metric"), undefined);
  });
});

describe("script parser", () => {
  it("parses load, load_with_nhcb and clear", () => {
    const s = parseScript(
      [
        "# comment",
        "load 5m",
        '  http_requests{job="api"} 0+10x2',
        "\tother 1 _ stale",
        "",
        "load_with_nhcb 1m",
        '  h_bucket{le="1"} 1 2',
        "",
        "clear",
      ].join("\n"),
    );
    assert.deepEqual(s.errors, []);
    assert.equal(s.commands.length, 3);
    const [load, nhcb, clear] = s.commands as [LoadCommand, LoadCommand, { type: string; line: number }];
    assert.equal(load.type, "load");
    assert.equal(load.line, 2);
    assert.equal(load.intervalMs, 300_000);
    assert.equal(load.withNhcb, false);
    assert.equal(load.series.length, 2);
    assert.equal(load.series[0].line, 3);
    assert.deepEqual(flat(load.series[0].values), [0, 10, 20]);
    assert.deepEqual(flat(load.series[1].values), [1, "_", "stale"]);
    assert.equal(nhcb.withNhcb, true);
    assert.equal(nhcb.intervalMs, 60_000);
    assert.deepEqual(clear, { type: "clear", line: 9 });
  });

  it("parses instant and range evals with their expected results", () => {
    const s = parseScript(
      [
        "eval instant at 1h30m sum(foo)",
        '  {job="a"} 3',
        "  {} 4",
        "",
        "eval range from 0 to 10m step 5m rate(foo[5m])",
        '  foo{job="a"} 1 _ 3',
        "  bar 1+1x2",
        "",
        "eval instant at 0 1+1",
        "  2",
      ].join("\n"),
    );
    assert.deepEqual(s.errors, []);
    const [a, b, c] = evals(s);
    assert.equal(a.kind, "instant");
    assert.equal(a.expr, "sum(foo)");
    assert.equal(a.evalMs, 5_400_000);
    assert.equal(a.line, 1);
    assert.deepEqual(
      a.expected.map((e) => [e.labels, flat(e.values), e.pos, e.line]),
      [
        [L({ job: "a" }), [3], 1, 2],
        [[], [4], 2, 3],
      ],
    );
    assert.equal(b.kind, "range");
    assert.equal(b.expr, "rate(foo[5m])");
    assert.deepEqual([b.startMs, b.endMs, b.stepMs], [0, 600_000, 300_000]);
    assert.deepEqual(flat(b.expected[0].values), [1, "_", 3]);
    assert.deepEqual(flat(b.expected[1].values), [1, 2, 3]);
    assert.equal(c.expectScalar, true);
    assert.equal(c.expectedScalar, 2);
    assert.equal(c.expected.length, 0);
  });

  it("parses the eval_* variants and expect lines", () => {
    const fail = onlyEval("eval_fail instant at 0 foo(\n  expected_fail_message unexpected end of input");
    assert.equal(fail.modifier, "fail");
    assert.equal(isFail(fail), true);
    assert.equal(fail.expectedFailMessage, "unexpected end of input");

    const failRe = onlyEval(
      "eval_fail instant at 50m x\n  expected_fail_regexp vector cannot contain metrics .*|something else",
    );
    assert.equal(failRe.expectedFailRegexp?.source, "vector cannot contain metrics .*|something else");
    assert.ok(
      failRe.expectedFailRegexp?.regex.test("xx vector cannot contain metrics with the same labelset"),
    );

    const ordered = onlyEval('eval_ordered instant at 50m sort(x)\n  x{a="1"} 1\n  x{a="2"} 2');
    assert.equal(isOrdered(ordered), true);
    assert.equal(ordered.expected[1].pos, 2);

    assert.equal(onlyEval("eval_warn instant at 0 x").modifier, "warn");
    assert.equal(onlyEval("eval_info range from 0 to 1m step 1m x").modifier, "info");

    const e = onlyEval(
      [
        "eval instant at 1m quantile(NaN, data)",
        "  expect warn msg: PromQL warning: quantile value should be between 0 and 1, got NaN",
        "  expect info regex: ^PromQL info: .*",
        "  expect ordered",
        '  {a="b"} NaN',
      ].join("\n"),
    );
    assert.deepEqual(
      e.expects.map((x) => [x.type, x.message, x.regexSource]),
      [
        ["warn", "PromQL warning: quantile value should be between 0 and 1, got NaN", undefined],
        ["info", undefined, "^PromQL info: .*"],
        ["ordered", undefined, "^.*$"],
      ],
    );
    assert.equal(isOrdered(e), true);
    // expect lines do not count as result positions.
    assert.equal(e.expected[0].pos, 1);

    const f = onlyEval("eval instant at 0 x\n  expect fail msg: boom\n");
    assert.equal(isFail(f), true);
    assert.equal(f.modifier, "");
    const nw = onlyEval("eval instant at 0 x\n  expect no_warn\n  expect no_info");
    assert.deepEqual(
      nw.expects.map((x) => x.type),
      ["no_warn", "no_info"],
    );
  });

  it("parses expect range vector and expect string", () => {
    const rv = onlyEval(
      "eval instant at 1m foo[1m]\n  expect range vector from 10s to 1m step 10s\n  foo 1 2 3",
    );
    assert.equal(rv.expectRangeVector, true);
    assert.equal(rv.excludeFromRangeQuery, true);
    assert.deepEqual([rv.startMs, rv.endMs, rv.stepMs, rv.evalMs], [10_000, 60_000, 10_000, 60_000]);
    const str = onlyEval('eval instant at 0 "hello"\n  expect string "hello"');
    assert.equal(str.expectedString, "hello");
    assert.equal(str.excludeFromRangeQuery, true);
  });

  it("ends a block at a blank or comment line, and at a scalar", () => {
    const s = parseScript('eval instant at 0 x\n  # no results\n  {a="b"} 1\n');
    // The line after the comment is not part of the eval: Prometheus reports it as a bad command.
    assert.equal(evals(s)[0].expected.length, 0);
    assert.equal(s.errors.length, 1);
    assert.match(s.errors[0].message, /invalid command/);
  });

  it("lets a repeated label set replace the earlier line", () => {
    const e = onlyEval('eval instant at 0 x\n  {a="1"} 1\n  {a="1"} 2');
    assert.equal(e.expected.length, 1);
    assert.deepEqual(flat(e.expected[0].values), [2]);
    assert.equal(e.expected[0].pos, 2);
  });

  it("collects errors per command and keeps parsing", () => {
    const s = parseScript(
      [
        "bogus command",
        "",
        "eval instant at 0 x",
        "  {} 1 2",
        "",
        "eval instant at 0 y",
        "  expect warn",
        "  expect no_warn",
        "",
        "eval instant at 0 z",
        "  expect bogus",
        "",
        "eval range from 10m to 0 step 1m w",
        "",
        "load 5x",
        "  a 1",
        "",
        "eval instant at 5m fine",
        "  {} 1",
      ].join("\n"),
    );
    assert.deepEqual(
      s.errors.map((e) => [e.line, e.expr]),
      [
        [1, undefined],
        [4, "x"],
        [8, "y"],
        [11, "z"],
        [13, "w"],
        [15, undefined],
      ],
    );
    assert.match(s.errors[1].message, /multiple values in instant evaluation/);
    assert.match(s.errors[2].message, /warn and no_warn/);
    assert.match(s.errors[3].message, /invalid expect statement/);
    assert.match(s.errors[4].message, /before start/);
    assert.match(s.errors[5].message, /invalid step definition/);
    assert.equal(evals(s).length, 1);
    assert.equal(evals(s)[0].expr, "fine");
  });

  it("takes expected_fail_message only after eval_fail", () => {
    const s = parseScript("eval instant at 0 x\n  expected_fail_message boom");
    assert.equal(s.errors.length, 1);
  });
});

describe("value comparison", () => {
  it("allows 1e-6 relative error", () => {
    assert.ok(almostEqual(1, 1 + 1e-7));
    assert.ok(almostEqual(1e9, 1e9 + 1));
    assert.ok(!almostEqual(1, 1.00001));
    assert.ok(!almostEqual(0, 1e-300));
    assert.ok(almostEqual(0, 0));
    assert.ok(almostEqual(-0, 0));
    assert.ok(almostEqual(Infinity, Infinity));
    assert.ok(!almostEqual(Infinity, -Infinity));
    assert.ok(!almostEqual(Infinity, Number.MAX_VALUE));
  });

  it("treats NaN as equal to NaN and a stale marker only to a stale marker", () => {
    assert.ok(almostEqual(Number.NaN, Number.NaN));
    assert.ok(!almostEqual(Number.NaN, 1));
    assert.ok(almostEqual(StaleNaN, StaleNaN));
    assert.ok(!almostEqual(StaleNaN, Number.NaN));
    assert.ok(!almostEqual(Number.NaN, StaleNaN));
  });

  const vec = (...samples: [Record<string, string>, number][]): QueryValue => ({
    type: "vector",
    samples: samples.map(([m, v]): VectorSample => ({ metric: L(m), t: 0, v })),
  });

  it("matches vector samples by exact label set, in any order unless ordered", () => {
    const e = onlyEval('eval instant at 0 x\n  {a="1"} 1\n  {a="2"} 2');
    assert.equal(compareResult(e, vec([{ a: "2" }, 2], [{ a: "1" }, 1.0000001])), null);
    assert.match(compareResult(e, vec([{ a: "1" }, 1]))!, /expected metric \{a="2"\} with 2 not found/);
    assert.match(
      compareResult(e, vec([{ a: "1" }, 1], [{ a: "2" }, 2], [{ a: "3" }, 3]))!,
      /unexpected metric \{a="3"\} in result, has value 3/,
    );
    assert.match(
      compareResult(e, vec([{ a: "1" }, 1], [{ a: "2" }, 2.1]))!,
      /expected 2 for \{a="2"\} but got 2\.1/,
    );
    assert.match(
      compareResult(e, vec([{ a: "1", b: "x" }, 1], [{ a: "2" }, 2]))!,
      /unexpected metric \{a="1", b="x"\}/,
    );
    const ordered = onlyEval('eval_ordered instant at 0 x\n  {a="1"} 1\n  {a="2"} 2');
    assert.equal(compareResult(ordered, vec([{ a: "1" }, 1], [{ a: "2" }, 2])), null);
    assert.match(
      compareResult(ordered, vec([{ a: "2" }, 2], [{ a: "1" }, 1]))!,
      /at position 2 but it was at 1/,
    );
  });

  it("expects an empty vector when there are no result lines", () => {
    const e = onlyEval("eval instant at 0 x");
    assert.equal(compareResult(e, vec()), null);
    assert.match(compareResult(e, vec([{ a: "1" }, 1]))!, /unexpected metric/);
    assert.match(compareResult(e, { type: "scalar", t: 0, v: 1 })!, /but got scalar 1/);
  });

  it("compares scalars and strings", () => {
    const e = onlyEval("eval instant at 0 1/0\n  +Inf");
    assert.equal(compareResult(e, { type: "scalar", t: 0, v: Infinity }), null);
    assert.match(compareResult(e, { type: "scalar", t: 0, v: 1 })!, /expected scalar \+Inf but got 1/);
    assert.match(compareResult(e, vec([{}, Infinity]))!, /expected scalar \+Inf, but got vector/);
    const s = onlyEval('eval instant at 0 "a"\n  expect string "a"');
    assert.equal(compareResult(s, { type: "string", t: 0, v: "a" }), null);
    assert.match(compareResult(s, { type: "string", t: 0, v: "b" })!, /expected string "a" but got "b"/);
  });

  const matrix = (...series: [Record<string, string>, [number, number][]][]): QueryValue => ({
    type: "matrix",
    series: series.map(
      ([m, pts]): MatrixSeries => ({
        metric: L(m),
        ts: Float64Array.from(pts.map((p) => p[0])),
        vs: Float64Array.from(pts.map((p) => p[1])),
      }),
    ),
  });

  it("compares range results point by point, with _ meaning no point", () => {
    const e = onlyEval('eval range from 0 to 10m step 5m x\n  {a="1"} 1 _ 3\n  {a="2"} 0+1x2');
    const good = matrix(
      [
        { a: "1" },
        [
          [0, 1],
          [600_000, 3],
        ],
      ],
      [
        { a: "2" },
        [
          [0, 0],
          [300_000, 1],
          [600_000, 2],
        ],
      ],
    );
    assert.equal(compareResult(e, good), null);
    assert.match(
      compareResult(
        e,
        matrix(
          [
            { a: "1" },
            [
              [0, 1],
              [300_000, 2],
              [600_000, 3],
            ],
          ],
          [
            { a: "2" },
            [
              [0, 0],
              [300_000, 1],
              [600_000, 2],
            ],
          ],
        ),
      )!,
      /expected 2 float points and 0 histogram points for \{a="1"\}, but got 3/,
    );
    assert.match(
      compareResult(
        e,
        matrix(
          [
            { a: "1" },
            [
              [0, 1],
              [300_000, 3],
            ],
          ],
          [
            { a: "2" },
            [
              [0, 0],
              [300_000, 1],
              [600_000, 2],
            ],
          ],
        ),
      )!,
      /expected point 1 of \{a="1"\} at 600s, but it was at 300s/,
    );
    assert.match(
      compareResult(
        e,
        matrix(
          [
            { a: "1" },
            [
              [0, 1],
              [600_000, 4],
            ],
          ],
          [
            { a: "2" },
            [
              [0, 0],
              [300_000, 1],
              [600_000, 2],
            ],
          ],
        ),
      )!,
      /expected 3 at 600s \(index 1\) for \{a="1"\} but got 4/,
    );
    assert.match(
      compareResult(
        e,
        matrix(
          [
            { a: "2" },
            [
              [0, 0],
              [300_000, 1],
              [600_000, 2],
            ],
          ],
          [
            { a: "1" },
            [
              [0, 1],
              [600_000, 3],
            ],
          ],
        ),
      )!,
      /should always be sorted by labels/,
    );
    assert.match(
      compareResult(
        e,
        matrix([
          { a: "1" },
          [
            [0, 1],
            [600_000, 3],
          ],
        ]),
      )!,
      /expected metric \{a="2"\} not found/,
    );
    const tooMany = onlyEval("eval range from 0 to 5m step 5m x\n  {} 1 2 3");
    assert.match(compareResult(tooMany, matrix([{}, [[0, 1]]]))!, /cannot return this many points/);
  });

  it("refuses a matrix for ordered evals", () => {
    const e = onlyEval("eval_ordered instant at 0 x");
    assert.match(compareResult(e, matrix())!, /expected ordered result, but query returned a matrix/);
  });

  it("formats metrics as Prometheus does", () => {
    assert.equal(formatMetric(L({ __name__: "up", job: "a" })), 'up{job="a"}');
    assert.equal(formatMetric(L({ __name__: "up" })), "up");
    assert.equal(formatMetric([]), "{}");
    assert.equal(formatMetric(L({ __name__: "a.b", "c.d": "x" })), '{"a.b", "c.d"="x"}');
  });
});

describe("annotation and failure expectations", () => {
  const warn = "PromQL warning: quantile value should be between 0 and 1, got NaN";
  const info =
    'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "foo"';

  it("lets a plain eval ignore annotations", () => {
    const e = onlyEval("eval instant at 0 x");
    assert.equal(checkAnnotations(e, [warn], [info]), null);
  });

  it("requires at least one warning for eval_warn and one info for eval_info", () => {
    assert.match(checkAnnotations(onlyEval("eval_warn instant at 0 x"), [], [info])!, /expected warnings/);
    assert.equal(checkAnnotations(onlyEval("eval_warn instant at 0 x"), [warn], [info]), null);
    assert.match(checkAnnotations(onlyEval("eval_info instant at 0 x"), [warn], [])!, /expected info/);
    assert.equal(checkAnnotations(onlyEval("eval_info instant at 0 x"), [], [info]), null);
  });

  it("matches expect warn/info lines both ways", () => {
    const e = onlyEval(`eval instant at 0 x\n  expect warn msg: ${warn}`);
    assert.equal(checkAnnotations(e, [warn], [info]), null);
    assert.match(checkAnnotations(e, [], [])!, /expected warn annotations but none were found/);
    assert.match(
      checkAnnotations(e, ["PromQL warning: other"], [])!,
      /expected warn annotation matching message/,
    );
    assert.match(
      checkAnnotations(e, [warn, "PromQL warning: other"], [])!,
      /unexpected warn annotation "PromQL warning: other"/,
    );
    const any = onlyEval("eval instant at 0 x\n  expect info");
    assert.equal(checkAnnotations(any, [], [info, "PromQL info: x"]), null);
    const re = onlyEval("eval instant at 0 x\n  expect info regex: might not be a counter");
    assert.equal(checkAnnotations(re, [], [info]), null);
  });

  it("forbids annotations only with no_warn / no_info", () => {
    const e = onlyEval("eval instant at 0 x\n  expect no_info");
    assert.equal(checkAnnotations(e, [warn], []), null);
    assert.match(checkAnnotations(e, [], [info])!, /unexpected info annotations/);
    const w = onlyEval("eval instant at 0 x\n  expect no_warn");
    assert.match(checkAnnotations(w, [warn], [])!, /unexpected warning annotations/);
  });

  it("checks the error text of expected failures", () => {
    const any = onlyEval("eval_fail instant at 0 x");
    assert.equal(checkExpectedFailure(any, "anything"), null);
    const msg = onlyEval("eval_fail instant at 0 x\n  expected_fail_message boom");
    assert.equal(checkExpectedFailure(msg, "boom"), null);
    assert.match(checkExpectedFailure(msg, "boom!")!, /expected error "boom", but got: boom!/);
    const re = onlyEval("eval_fail instant at 0 x\n  expected_fail_regexp bo+m");
    assert.equal(checkExpectedFailure(re, "a boooom here"), null);
    assert.match(checkExpectedFailure(re, "bam")!, /matching pattern/);
    const exp = onlyEval("eval instant at 0 x\n  expect fail regex: ^bo+m$");
    assert.equal(checkExpectedFailure(exp, "boom"), null);
    assert.match(checkExpectedFailure(exp, "boom!")!, /expected error matching pattern/);
    const expMsg = onlyEval("eval instant at 0 x\n  expect fail msg: boom");
    assert.match(checkExpectedFailure(expMsg, "boom!")!, /expected error matching message "boom"/);
  });
});

describe("native-histogram skip detection", () => {
  function setup(text: string): { index: LoadedSeriesIndex; evals: EvalCommand[] } {
    const s = parseScript(text);
    assert.deepEqual(s.errors, []);
    const index = new LoadedSeriesIndex();
    for (const c of s.commands) {
      if (c.type === "load") index.addLoad(c);
      if (c.type === "clear") index.clear();
    }
    return { index, evals: evals(s) };
  }

  it("skips evals whose expected output has a native histogram", () => {
    const {
      index,
      evals: [e],
    } = setup("eval instant at 0 foo\n  {} {{schema:0 sum:1 count:1}}");
    assert.match(
      nativeHistogramSkipReason(e, index)!,
      /expected result at line 2 has a native-histogram value/,
    );
  });

  it("skips evals that select series loaded with native-histogram values", () => {
    const { index, evals: es } = setup(
      [
        "load 1m",
        '  http_requests{job="api"} 1 2 3',
        '  http_requests_histogram{job="api"} {{schema:0 sum:1 count:1}}x2',
        '  mixed{job="b"} 1 {{schema:0 sum:1 count:1}}',
        "",
        "eval instant at 1m http_requests",
        "",
        "eval instant at 1m sum(http_requests_histogram)",
        "",
        'eval instant at 1m {job="api"}',
        "",
        'eval instant at 1m rate({__name__=~"http_requests(_histogram)?"}[5m])',
        "",
        'eval instant at 1m {__name__=~"http_.*", job="other"}',
        "",
        "eval range from 0 to 1m step 1m mixed + 1",
        "",
        'eval instant at 1m label_replace(http_requests, "dst", "$1", "src", "http_requests_histogram")',
      ].join("\n"),
    );
    const reasons = es.map((e) => nativeHistogramSkipReason(e, index));
    assert.equal(reasons[0], null);
    assert.match(
      reasons[1]!,
      /http_requests_histogram selects http_requests_histogram\{job="api"\} \(loaded with native-histogram values at line 3\)/,
    );
    assert.match(reasons[2]!, /\{job="api"\} selects http_requests_histogram/);
    assert.match(reasons[3]!, /selects http_requests_histogram/);
    assert.equal(reasons[4], null);
    assert.match(reasons[5]!, /mixed selects mixed\{job="b"\}/);
    // String arguments are not selectors.
    assert.equal(reasons[6], null);
  });

  it("forgets native histograms at clear", () => {
    const {
      index,
      evals: [e],
    } = setup("load 1m\n  h {{schema:0 sum:1 count:1}}\n\nclear\n\neval instant at 0 h");
    assert.equal(nativeHistogramSkipReason(e, index), null);
  });

  it("skips what load_with_nhcb converts but runs the classic series", () => {
    const { index, evals: es } = setup(
      [
        "load_with_nhcb 5m",
        '  testhistogram_bucket{le="0.1", start="positive"} 0+5x10',
        '  testhistogram_bucket{le="+Inf", start="positive"} 0+12x10',
        '  testhistogram_sum{start="positive"} 0+3x10',
        "",
        "eval instant at 50m histogram_quantile(0.5, testhistogram_bucket)",
        "",
        "eval instant at 50m histogram_count(testhistogram)",
        "",
        "eval instant at 50m testhistogram_sum",
      ].join("\n"),
    );
    assert.equal(nativeHistogramSkipReason(es[0], index), null);
    assert.match(
      nativeHistogramSkipReason(es[1], index)!,
      /testhistogram selects testhistogram\{start="positive"\} \(converted by load_with_nhcb at line 1\)/,
    );
    assert.equal(nativeHistogramSkipReason(es[2], index), null);
  });

  it("derives load_with_nhcb's series names like Prometheus", () => {
    assert.deepEqual(
      nhcbBaseLabels(L({ __name__: "a_bucket", le: "0.5", x: "1" })),
      L({ __name__: "a", x: "1" }),
    );
    assert.deepEqual(nhcbBaseLabels(L({ __name__: "a_count", x: "1" })), L({ __name__: "a", x: "1" }));
    assert.deepEqual(nhcbBaseLabels(L({ __name__: "a_sum" })), L({ __name__: "a" }));
    assert.equal(nhcbBaseLabels(L({ __name__: "a_bucket", le: "NaN" })), null);
    assert.equal(nhcbBaseLabels(L({ __name__: "a_bucket" })), null);
    assert.equal(nhcbBaseLabels(L({ __name__: "a_total" })), null);
  });

  it("extracts selectors with their matchers", () => {
    const sels = extractSelectors(
      'sum by (x) (rate(foo{a="1", "b.c"!~"d|e"}[5m] offset 1m)) / on(x) {"f.g"}',
    );
    assert.deepEqual(
      sels.map((s) => [s.text, s.matchers?.map(String)]),
      [
        ['foo{a="1", "b.c"!~"d|e"}', ['__name__="foo"', 'a="1"', 'b.c!~"d|e"']],
        ['{"f.g"}', ['__name__="f.g"']],
      ],
    );
    assert.equal(extractSelectors("1 + 2").length, 0);
  });
});

describe("@ modifier checks", () => {
  it("pins every selector and outermost subquery to the eval time", () => {
    const q = "sum(rate(foo[5m] offset 1m)) + bar + max_over_time(baz[10m:1m])";
    const want =
      "sum(rate(foo[5m] @ 600.000 offset 1m)) + bar @ 600.000 + max_over_time(baz[10m:1m] @ 600.000)";
    for (const plan of [atModifierCases(q, 600_000), atModifierCasesTextual(q, 600_000)]) {
      assert.equal(plan.kind, "cases");
      if (plan.kind !== "cases") return;
      assert.deepEqual(
        plan.cases.map((c) => c.evalMs),
        [-6_000_000, 0, 120_000, 600_000, 6_000_000],
      );
      assert.ok(plan.cases.every((c) => c.expr === want));
    }
  });

  it("uses -1s, 0, 1s at time 0", () => {
    const plan = atModifierCases("foo", 0);
    assert.ok(plan.kind === "cases");
    if (plan.kind === "cases")
      assert.deepEqual(
        plan.cases.map((c) => [c.expr, c.evalMs]),
        [
          ["foo @ 0.000", -1000],
          ["foo @ 0.000", 0],
          ["foo @ 0.000", 1000],
        ],
      );
  });

  it("keeps fixed @ times, replaces @ start()/end(), leaves subquery insides alone", () => {
    const plan = atModifierCases(
      "foo @ 100 + bar + max_over_time(baz[5m:1m] @ start()) + qux @ end()",
      60_000,
    );
    assert.ok(plan.kind === "cases");
    if (plan.kind === "cases") {
      assert.equal(
        plan.cases[0].expr,
        "foo @ 100.000 + bar @ 60.000 + max_over_time(baz[5m:1m] @ 60.000) + qux @ 60.000",
      );
    }
    // The textual fallback gives up on queries that already have an @.
    assert.equal(atModifierCasesTextual("foo @ 100", 1000).kind, "none");
  });

  it("skips queries with time-dependent functions outside subqueries", () => {
    for (const f of [atModifierCases, atModifierCasesTextual]) {
      assert.equal(f("time() - foo", 1000).kind, "none");
      assert.equal(f("timestamp(foo)", 1000).kind, "none");
      assert.equal(f("max_over_time(time()[5m:1m])", 1000).kind, "cases");
    }
  });
});

/**
 * A stand-in engine that understands `name`, `name @ <seconds>` and number literals, enough to
 * exercise loading, the three instant checks and failure handling without the real engine.
 */
function fakeEngine(): Engine & { queries: string[] } {
  const queries: string[] = [];
  const LOOKBACK = 300_000;
  const select = (q: Queryable, name: string, t: number): VectorSample[] => {
    const querier = q.querier(t - LOOKBACK + 1, t);
    const set = querier.select(true, undefined, Matcher.eq(METRIC_NAME, name));
    const out: VectorSample[] = [];
    while (set.next()) {
      const s = set.at();
      const it = s.iterator();
      let last: number | undefined;
      while (it.next()) {
        if (it.atT() > t) break;
        if (it.atT() > t - LOOKBACK) last = it.atV();
      }
      if (last !== undefined && !isStaleNaN(last)) out.push({ metric: s.labels, t, v: last });
    }
    querier.close();
    return out;
  };
  const instant = (q: Queryable, query: string, t: number): QueryValue => {
    queries.push(`${query} @${t}`);
    if (query === "boom") throw new TypeError("cannot read properties of undefined");
    if (query === "bad(") throw new ParseError("unexpected end of input", { start: 4, end: 4 }, query);
    if (/^-?\d+(\.\d+)?$/.test(query)) return { type: "scalar", t, v: Number(query) };
    const m = /^([a-z_]+)(?: @ (-?[\d.]+))?$/.exec(query);
    if (!m) throw new QueryEvalError(`unsupported query ${query}`);
    const at = m[2] === undefined ? t : Math.round(Number(m[2]) * 1000);
    return { type: "vector", samples: select(q, m[1], at).map((s) => ({ ...s, t })) };
  };
  return {
    queries,
    instantQuery(q, query, t): QueryResult {
      return { value: instant(q, query, t), warnings: [], infos: [], samplesRead: 0 };
    },
    rangeQuery(q, query, start, end, step): QueryResult {
      const bySeries = new Map<string, { metric: VectorSample["metric"]; ts: number[]; vs: number[] }>();
      for (let t = start; t <= end; t += step) {
        const v = instant(q, query, t);
        const samples =
          v.type === "scalar" ? [{ metric: [], t, v: v.v }] : v.type === "vector" ? v.samples : [];
        for (const s of samples) {
          const key = JSON.stringify(s.metric);
          let e = bySeries.get(key);
          if (!e) {
            e = { metric: s.metric, ts: [], vs: [] };
            bySeries.set(key, e);
          }
          e.ts.push(t);
          e.vs.push(s.v);
        }
      }
      const series = [...bySeries.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([, e]) => ({ metric: e.metric, ts: Float64Array.from(e.ts), vs: Float64Array.from(e.vs) }));
      return { value: { type: "matrix", series }, warnings: [], infos: [], samplesRead: 0 };
    },
  };
}

describe("runner (with a stand-in engine)", () => {
  const script = [
    "load 1m",
    '  metric{a="1"} 0 1 stale 3',
    '  metric{a="2"} 10+10x3',
    "  hist {{schema:0 sum:1 count:1}}",
    "",
    "eval instant at 1m metric",
    '  metric{a="1"} 1',
    '  metric{a="2"} 20',
    "",
    "eval instant at 2m metric",
    '  metric{a="2"} 30',
    "",
    "eval instant at 1m metric",
    '  metric{a="1"} 2',
    '  metric{a="2"} 20',
    "",
    "eval range from 0 to 3m step 1m metric",
    '  metric{a="1"} 0 1 _ 3',
    '  metric{a="2"} 10+10x3',
    "",
    "eval instant at 0 hist",
    "",
    "eval_fail instant at 0 bad(",
    "  expected_fail_message 1:5: parse error: unexpected end of input",
    "",
    "eval instant at 0 boom",
    "",
    "eval_fail instant at 0 nope()",
    "",
    "eval instant at 0 nope()",
    "",
    "eval instant at 0 42",
    "  42",
    "",
    "clear",
    "",
    "eval instant at 1m metric",
    "",
    "bogus",
  ].join("\n");

  it("loads at Unix time 0, runs every eval as a case and never crashes", () => {
    const engine = fakeEngine();
    const out = runScript(script, { openStorage: () => openScratchTsdb(), engine, file: "x.test" });
    assert.deepEqual(out.loadIssues, []);
    const summary = out.cases.map((c) => [c.line, c.status]);
    assert.deepEqual(summary, [
      [6, "passed"],
      [10, "passed"],
      [13, "failed"],
      [17, "passed"],
      [21, "skipped"],
      [23, "passed"],
      [26, "failed"],
      [28, "passed"],
      [30, "failed"],
      [32, "passed"],
      [37, "passed"],
      [39, "failed"],
    ]);
    const byLine = new Map(out.cases.map((c) => [c.line, c]));
    assert.match(byLine.get(13)!.reason!, /expected 2 for metric\{a="1"\} but got 1/);
    assert.match(byLine.get(21)!.reason!, /native histograms: hist selects hist/);
    assert.match(byLine.get(26)!.reason!, /engine threw TypeError \(not a ParseError\/ExecutionError\)/);
    assert.match(byLine.get(30)!.reason!, /error evaluating query: unsupported query nope\(\)/);
    assert.match(byLine.get(39)!.reason!, /script error: invalid command "bogus"/);
    // The @ and range-mode checks ran for the instant eval at 1m.
    assert.ok(engine.queries.includes("metric @ 60.000 @-600000"));
    assert.ok(engine.queries.includes("metric @ 60.000 @12000"));
    assert.ok(engine.queries.includes("metric @0"));
    assert.ok(engine.queries.includes("metric @120000"));
  });

  it("reports failures of the extra checks with their label", () => {
    // An engine that ignores @ gives different answers at other times: the @ check must catch it.
    const engine = fakeEngine();
    const broken: Engine = {
      instantQuery: (q, query, t) => engine.instantQuery(q, query.replace(/ @ .*$/, ""), t),
      rangeQuery: (q, query, s, e, st) => engine.rangeQuery(q, query, s, e, st),
    };
    const out = runScript("load 1m\n  m 1 2 3\n\neval instant at 1m m\n  m 2", {
      openStorage: () => openScratchTsdb(),
      engine: broken,
      file: "y.test",
    });
    assert.equal(out.cases[0].status, "failed");
    assert.match(
      out.cases[0].reason!,
      /^\[@ check: m @ 60\.000 at -600s\] expected metric m with 2 not found/,
    );
  });

  it("runs a single line with details", () => {
    const out = runScript(script, {
      openStorage: () => openScratchTsdb(),
      engine: fakeEngine(),
      file: "x.test",
      line: 10,
      details: true,
    });
    assert.equal(out.cases.length, 1);
    assert.equal(out.cases[0].line, 10);
    assert.match(out.cases[0].details![0], /instant query at 120s: vector of 1: metric\{a="2"\} 30/);
  });

  it("runs on any storage: a fresh one from the factory per script and per clear, each closed", () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const openStorage = (): Storage => {
      const name = `s${opened.length}`;
      opened.push(name);
      const inner = openScratchTsdb();
      return {
        appender: () => inner.appender(),
        querier: (mint, maxt) => inner.querier(mint, maxt),
        close: () => {
          closed.push(name);
          inner.close();
        },
      };
    };
    const text = "load 1m\n  m 1 2\n\neval instant at 1m m\n  m 2\n\nclear\n\neval instant at 1m m\n";
    const out = runScript(text, { openStorage, engine: newEngine(TEST_ENGINE_OPTIONS), file: "c.test" });
    assert.deepEqual(
      out.cases.map((c) => c.status),
      ["passed", "passed"],
      "the second eval sees the empty storage after clear",
    );
    assert.deepEqual(opened, ["s0", "s1"]);
    assert.deepEqual(closed, ["s0", "s1"]);
  });

  it("reports rejected samples as load issues", () => {
    const out = runScript("load 1m\n  {} 1 2\n\neval instant at 0 x", {
      openStorage: () => openScratchTsdb(),
      engine: fakeEngine(),
      file: "z.test",
    });
    assert.equal(out.loadIssues.length, 1);
    assert.equal(out.loadIssues[0].line, 2);
  });
});
