import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { formatDurationMs, parseDurationMs } from "../../src/config/duration.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";

describe("durations", () => {
  it("parses Prometheus-style durations and bare seconds", () => {
    assert.equal(parseDurationMs("15d"), 15 * 86_400_000);
    assert.equal(parseDurationMs("1h30m"), 5_400_000);
    assert.equal(parseDurationMs("1y2w3d4h5m6s7ms"), 365 * 86_400_000 + 17 * 86_400_000 + 14_706_007);
    assert.equal(parseDurationMs("500ms"), 500);
    assert.equal(parseDurationMs("0"), 0);
    assert.equal(parseDurationMs("0s"), 0);
    assert.equal(parseDurationMs("90"), 90_000);
    assert.equal(parseDurationMs("1.5"), 1500);
    assert.equal(parseDurationMs(" 2h "), 7_200_000);
    assert.equal(formatDurationMs(15 * 86_400_000), "15d");
    assert.equal(parseDurationMs(formatDurationMs(15 * 86_400_000 + 1)), 15 * 86_400_000 + 1);
  });

  it("refuses misordered and repeated units rather than summing them", () => {
    for (const bad of ["30m1h", "1h1h", "1s1m", "500ms1s", "1d1w"]) {
      assert.throws(
        () => parseDurationMs(bad),
        (err: Error) =>
          err.message ===
          `invalid duration ${JSON.stringify(bad)}: use a number of seconds, or units y w d h m s ms largest first and each at most once (e.g. 15d, 2h, 1h30m, 500ms)`,
        bad,
      );
    }
  });

  it("refuses other malformed and out-of-range durations", () => {
    for (const bad of ["", "1x", "h", "1h 2m", "-1h", "-5", "1.5h", "1e3", "0x10"]) {
      assert.throws(() => parseDurationMs(bad), /invalid duration .*: use a number of seconds/, bad);
    }
    assert.equal(parseDurationMs("292y"), 292 * 365 * 86_400_000);
    for (const bad of ["293y", "9223372037"]) {
      assert.throws(() => parseDurationMs(bad), /invalid duration .*: out of range/, bad);
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

  it("refuses misordered units in a flag or MIM_* variable, naming the option and the form", () => {
    const flag = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/mim.ts", "inspect", "--retention", "30m1h"],
      { encoding: "utf8" },
    );
    assert.notEqual(flag.status, 0);
    assert.match(
      flag.stderr,
      /option '--retention <duration>' argument '30m1h' is invalid\. invalid duration "30m1h": use a number of seconds, or units y w d h m s ms largest first/,
    );
    const env = spawnSync(process.execPath, ["--import", "tsx", "src/cli/mim.ts", "inspect"], {
      encoding: "utf8",
      env: { ...process.env, MIM_RETENTION: "1h1h" },
    });
    assert.notEqual(env.status, 0);
    assert.match(env.stderr, /invalid duration "1h1h"/);
  });

  it("refuses a query timeout no timer can wait for (Node would fire it after 1 ms)", () => {
    const out = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/mim.ts",
        "serve",
        "--query-timeout",
        "30d",
        "--data-dir",
        "/nonexistent/never-opened",
      ],
      { encoding: "utf8" },
    );
    assert.notEqual(out.status, 0);
    assert.match(
      out.stderr,
      /option '--query-timeout <duration>' argument '30d' is invalid\. "30d" is longer than the most a timer can wait \(24d\)/,
    );
  });
});
