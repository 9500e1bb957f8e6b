import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { formatDurationMs, parseDurationMs } from "../../src/config/duration.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";

describe("durations", () => {
  it("parses Prometheus-style durations", () => {
    assert.equal(parseDurationMs("15d"), 15 * 86_400_000);
    assert.equal(parseDurationMs("1h30m"), 5_400_000);
    assert.equal(parseDurationMs("500ms"), 500);
    assert.equal(parseDurationMs("90"), 90_000);
    assert.equal(formatDurationMs(15 * 86_400_000), "2w1d");
    for (const bad of ["", "1x", "h", "1h 2m", "-1h", "1.5h"]) {
      assert.throws(() => parseDurationMs(bad), /invalid duration/, bad);
    }
  });
});

describe("mim inspect", () => {
  it("reports the contents of a data directory", () => {
    const { dir, cleanup } = tempDir("mim-cli-");
    try {
      const db = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
      const app = db.appender();
      app.append(
        0,
        labelsFromObject({ __name__: "crusoe_inference_request_count", project_id: "p" }),
        1000,
        1,
      );
      app.commit();
      db.close();
      const out = spawnSync(
        process.execPath,
        ["--import", "tsx", "src/cli/mim.ts", "inspect", "--data-dir", dir],
        {
          encoding: "utf8",
        },
      );
      assert.equal(out.status, 0, out.stderr);
      const report = JSON.parse(out.stdout) as { stats: { series: number }; metrics: number };
      assert.equal(report.stats.series, 1);
      assert.equal(report.metrics, 1);
    } finally {
      cleanup();
    }
  });

  it("rejects a bad flag value with a clear message", () => {
    const out = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/mim.ts", "inspect", "--retention", "3x"],
      {
        encoding: "utf8",
      },
    );
    assert.notEqual(out.status, 0);
    assert.match(out.stderr, /invalid duration "3x"/);
  });
});
