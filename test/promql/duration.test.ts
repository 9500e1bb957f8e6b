/**
 * The one duration grammar (src/promql/duration.ts): prometheus/common's model.ParseDuration and
 * model.Duration.String(), with Go's error texts, which PromQL's parse errors repeat verbatim.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDuration, parseDuration } from "../../src/promql/duration.js";
import { ParseError } from "../../src/promql/errors.js";
import { parseExpr } from "../../src/promql/parser/index.js";

describe("model.ParseDuration", () => {
  it("reads units y w d h m s ms, largest first, and a bare 0", () => {
    const cases: Array<[string, number]> = [
      ["0", 0],
      ["0s", 0],
      ["500ms", 500],
      ["1h30m", 5_400_000],
      ["10s53ms", 10_053],
      ["2w", 14 * 86_400_000],
      ["1y2w3d4h5m6s7ms", 382 * 86_400_000 + 14_706_007],
      ["007s", 7000],
    ];
    for (const [s, ms] of cases) assert.deepEqual(parseDuration(s), { ms }, s);
  });

  it("refuses misordered and repeated units with Go's texts", () => {
    const cases: Array<[string, string]> = [
      ["30m1h", 'not a valid duration string: "30m1h"'],
      ["1h1h", 'not a valid duration string: "1h1h"'],
      ["1ms1s", 'not a valid duration string: "1ms1s"'],
      ["", "empty duration string"],
      ["90", 'not a valid duration string: "90"'],
      ["h", 'not a valid duration string: "h"'],
      ["-1h", 'not a valid duration string: "-1h"'],
      ["1.5h", 'unknown unit "." in duration "1.5h"'],
      ["1x", 'unknown unit "x" in duration "1x"'],
      ["1constructor", 'unknown unit "constructor" in duration "1constructor"'],
      ["1h\n", 'unknown unit "h\\n" in duration "1h\\n"'],
      ["293y", "duration out of range"],
      ["292y52w", "duration out of range"],
    ];
    for (const [s, error] of cases) assert.deepEqual(parseDuration(s), { ms: 0, error }, s);
    assert.deepEqual(parseDuration("292y"), { ms: 292 * 365 * 86_400_000 });
  });

  it("is what PromQL literals report, at the literal's position", () => {
    for (const [q, message] of [
      ["foo[30m1h]", 'not a valid duration string: "30m1h"'],
      ["foo offset 1h1h", 'not a valid duration string: "1h1h"'],
    ]) {
      assert.throws(
        () => parseExpr(q),
        (err: unknown) => err instanceof ParseError && err.message.includes(message),
        q,
      );
    }
    assert.doesNotThrow(() => parseExpr("foo[1h30m] offset 1d"));
  });

  it("prints as model.Duration.String()", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(5_400_000), "1h30m");
    assert.equal(formatDuration(7 * 86_400_000), "1w");
    assert.equal(formatDuration(8 * 86_400_000), "8d");
    assert.equal(formatDuration(15 * 86_400_000), "15d");
    assert.equal(formatDuration(365 * 86_400_000 + 1), "365d1ms");
  });
});
