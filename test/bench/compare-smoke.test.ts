/**
 * `npm run bench:compare` on the tiny fleet (FLEETS=tiny: 2 projects × 2 models × 2 tiers, 1 h):
 * it runs to the end against real Prometheus and VictoriaMetrics processes and the product, and its
 * last line is the JSON the docs describe: every figure measured (finite, positive) for all three,
 * both ratios, and the product's answers to the seed queries equal to Prometheus's. No timing is
 * asserted. Without the engines' binaries it is skipped locally and fails in CI (CI=true).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ENGINES, FIGURES } from "../../bench/compare.js";
import { engineSkip } from "../support/engines.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function runBench(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--expose-gc", "bench/compare.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const skip = engineSkip("prometheus") || engineSkip("victoria-metrics");

describe("bench:compare smoke (tiny fleet)", { skip }, () => {
  it("measures every figure on all three, with ratios, equal to Prometheus", {
    timeout: 180_000,
  }, async (t) => {
    const { code, stdout, stderr } = await runBench({ FLEETS: "tiny", RUNS: "3", REFRESHES: "3" });
    assert.equal(code, 0, `exit ${code}\n${stderr}`);
    const lines = stdout.trim().split("\n");
    const out = JSON.parse(lines[lines.length - 1]);
    t.diagnostic(stderr.split("\n").slice(-3).join(" | "));
    assert.equal(out.equal_to_prometheus, true, stderr);
    const tiny = out.tiny;
    assert.ok(tiny, "a tiny fleet result");
    assert.equal(tiny.equal_to_prometheus, true);
    assert.ok(tiny.fleet.samples > 0 && tiny.fleet.restarts > 0, JSON.stringify(tiny.fleet));
    const positive = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x > 0;
    const missing: string[] = [];
    for (const group of [...ENGINES, "ratio_vm", "ratio_prom"]) {
      assert.ok(tiny[group], `${group} present`);
      for (const f of FIGURES) {
        if (!positive(tiny[group][f]))
          missing.push(`${group}.${f} = ${tiny[group][f]} ${tiny[group][`${f}_reason`] ?? ""}`);
      }
    }
    assert.deepEqual(missing, [], stderr);
    for (const f of FIGURES) assert.ok(f in tiny.targets, `target of ${f}`);
    // The table precedes the JSON line.
    assert.match(stdout, /\| figure \| Prometheus 2\.42 \| VictoriaMetrics 1\.79 \| product \|/);
  });
});
