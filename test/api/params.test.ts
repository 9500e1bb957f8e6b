import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatTimestamp, formatValue } from "../../src/api/encode.js";
import { unescapeLabelName } from "../../src/api/metadata-routes.js";
import { MAX_TIME_MS, MIN_TIME_MS, parseDuration, parseTime } from "../../src/api/params.js";

describe("times", () => {
  it("parses unix seconds with the fraction rounded to ms, as Prometheus does", () => {
    assert.equal(parseTime("1435781451.781"), 1435781451781);
    assert.equal(parseTime("1435781451.7815"), 1435781451782);
    assert.equal(parseTime("1435781451.0004"), 1435781451000);
    assert.equal(parseTime("4"), 4000);
    assert.equal(parseTime("-1.5"), -1500);
    assert.equal(parseTime("1e3"), 1_000_000);
    assert.equal(parseTime(".5"), 500);
  });
  it("parses RFC 3339 with and without fractions and offsets", () => {
    assert.equal(parseTime("2015-07-01T20:10:51.781Z"), Date.UTC(2015, 6, 1, 20, 10, 51, 781));
    assert.equal(parseTime("2015-07-01T20:10:51Z"), Date.UTC(2015, 6, 1, 20, 10, 51));
    assert.equal(parseTime("2015-07-01T22:10:51.29+02:00"), Date.UTC(2015, 6, 1, 20, 10, 51, 290));
    assert.equal(parseTime("2015-07-01T20:10:51.123456789Z"), Date.UTC(2015, 6, 1, 20, 10, 51, 123));
  });
  it("accepts Prometheus's MinTime/MaxTime strings and clamps huge numbers", () => {
    assert.equal(parseTime("-292273086-05-16T16:47:06Z"), MIN_TIME_MS);
    assert.equal(parseTime("292277025-08-18T07:12:54.999999999Z"), MAX_TIME_MS);
    assert.equal(parseTime("1e30"), MAX_TIME_MS);
    // Grafana's exemplar probe sends milliseconds where seconds are expected.
    assert.equal(parseTime("1724272132123"), 1724272132123000);
  });
  it("rejects what Prometheus rejects, with its message", () => {
    for (const bad of [
      "",
      "abc",
      "NaN",
      "Inf",
      "2015-07-01",
      "2015-13-01T00:00:00Z",
      "1_000",
      "0x10",
      " 1",
    ]) {
      assert.throws(
        () => parseTime(bad),
        { message: `cannot parse ${JSON.stringify(bad)} to a valid timestamp` },
        bad,
      );
    }
  });
});

describe("durations", () => {
  it("parses float seconds and Prometheus durations", () => {
    assert.equal(parseDuration("15"), 15_000);
    assert.equal(parseDuration("0.5"), 500);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("54s321ms"), 54_321);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration("2w"), 14 * 86_400_000);
    assert.equal(parseDuration("-5"), -5000);
  });
  it("rejects fractions with units, wrong order, repeats and garbage with Prometheus's text", () => {
    for (const bad of ["", "1.5m", "30m1h", "1h1h", "1x", "m", "1e400", "5 m", "300y", "1constructor"]) {
      assert.throws(
        () => parseDuration(bad),
        (err: Error) => err.message === `cannot parse ${JSON.stringify(bad)} to a valid duration`,
        bad,
      );
    }
    assert.throws(
      () => parseDuration("1e10"),
      (err: Error) => err.message === 'cannot parse "1e10" to a valid duration. It overflows int64',
    );
  });
  it("takes float seconds in every form ParseFloat reads here", () => {
    assert.equal(parseDuration("1e3"), 1_000_000);
    assert.equal(parseDuration(".5"), 500);
    assert.equal(parseDuration("+2"), 2000);
    assert.equal(parseDuration("0"), 0);
  });
});

describe("value encoding", () => {
  it("writes floats as Go's strconv does in Prometheus's JSON", () => {
    const cases: Array<[number, string]> = [
      [0, "0"],
      [-0, "-0"],
      [1, "1"],
      [-2.5, "-2.5"],
      [0.1 + 0.2, "0.30000000000000004"],
      [1e-6, "0.000001"],
      [1e-7, "1e-07"],
      [1.5e-10, "1.5e-10"],
      [1e20, "100000000000000000000"],
      [1e21, "1e+21"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [5e-324, "5e-324"],
      [Number.NaN, "NaN"],
      [Number.POSITIVE_INFINITY, "+Inf"],
      [Number.NEGATIVE_INFINITY, "-Inf"],
    ];
    for (const [v, s] of cases) assert.equal(formatValue(v), s, String(v));
  });
  it("writes timestamps as seconds with a three-digit fraction when needed", () => {
    assert.equal(formatTimestamp(4000), "4");
    assert.equal(formatTimestamp(1435781451781), "1435781451.781");
    assert.equal(formatTimestamp(1435781451050), "1435781451.050");
    assert.equal(formatTimestamp(1435781451005), "1435781451.005");
    assert.equal(formatTimestamp(-1500), "-1.500");
    assert.equal(formatTimestamp(0), "0");
  });
});

describe("label name escaping in paths", () => {
  it("decodes U__ names and leaves others alone", () => {
    assert.equal(unescapeLabelName("model_name"), "model_name");
    assert.equal(unescapeLabelName("U__model__name"), "model_name");
    assert.equal(unescapeLabelName("U__a_2e_b"), "a.b");
    assert.equal(unescapeLabelName("U___1f600_"), "😀");
  });
});
