/**
 * Prometheus's own PromQL test scripts (vendored in testdata/prometheus) against this engine: every case
 * that does not need native histograms must pass, except the known gaps listed here with their
 * reasons. A new failure, or a known gap that starts passing, fails this test (so the list stays true).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { newEngine } from "../../src/promql/engine.js";
import { type CaseOutcome, runScript, TEST_ENGINE_OPTIONS } from "../../src/promql/promqltest/runner.js";
import { openScratchTsdb } from "../../src/tsdb/scratch.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TESTDATA = process.env.PROMQL_TESTDATA ?? resolve(ROOT, "test/promql/testdata/prometheus");

/** file:line → why it fails today. */
const KNOWN_GAPS: Record<string, string> = {
  "functions.test:477":
    'label_replace with destination "\\xff": a JavaScript string cannot hold the invalid UTF-8 byte the test uses',
};

describe("Prometheus PromQL test scripts", () => {
  const files = readdirSync(TESTDATA)
    .filter((f) => f.endsWith(".test"))
    .sort();
  const outcomes: CaseOutcome[] = [];

  for (const file of files) {
    it(file, () => {
      const result = runScript(readFileSync(join(TESTDATA, file), "utf8"), {
        openStorage: () => openScratchTsdb(),
        engine: newEngine(TEST_ENGINE_OPTIONS),
        file,
      });
      outcomes.push(...result.cases);
      const unexpected = result.cases
        .filter((c) => c.status === "failed" && !KNOWN_GAPS[`${file}:${c.line}`])
        .map((c) => `${file}:${c.line} ${c.query}: ${c.reason}`);
      assert.deepEqual(unexpected, []);
      for (const c of result.cases) {
        if (c.status === "skipped")
          assert.match(c.reason ?? "", /native histogram/, `${file}:${c.line} skipped`);
      }
    });
  }

  it("covers every case, and the known gaps are still gaps", () => {
    assert.equal(outcomes.length, 1479, "one outcome per eval command in the 17 files");
    for (const key of Object.keys(KNOWN_GAPS)) {
      const [file, line] = key.split(":");
      const c = outcomes.find((o) => o.file === file && o.line === Number(line));
      assert.equal(c?.status, "failed", `${key} now ${c?.status}: remove it from KNOWN_GAPS`);
    }
    const passed = outcomes.filter((c) => c.status === "passed").length;
    const failed = outcomes.filter((c) => c.status === "failed").length;
    assert.ok(passed / (passed + failed) >= 0.97, `${passed} passed, ${failed} failed`);
  });
});
