/**
 * Defect 4 of the isolation issue: one project's expensive queries used to run past their
 * `timeout` (p50 15.5 s with timeout=3) and hold everyone else up (another project's vector(1) and
 * /-/healthy waited up to 17 s). Queries now run in worker threads behind fair admission: a flood
 * answers within its timeout, past the project's queue bound it is refused, and the neighbour,
 * the health check and ingest answer as if it were not there. Real sockets: concurrency through
 * the HTTP server is the point. Bounds are 10× or more above what a loaded 2-core machine needs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_LIMITS } from "../../src/api/context.js";
import { TIMESERIES_PREFIX } from "../../src/api/server.js";
import { type RunningService, startService } from "../../src/cli/service.js";
import { testServiceConfig } from "../support/service-config.js";

const ADMIN_KEY = "mim_adm_query-isolation-test-0123456789";
/** About 2.5 s of evaluation on one core; no stored data needed. */
const EXPENSIVE = "sum_over_time(sum_over_time(vector(1)[1d:1s])[1d:1m])";

describe("one project's flood of expensive queries", () => {
  let dir: string;
  let service: RunningService;
  const tokens: Record<string, string> = {};

  const base = (project: string) => service.url + TIMESERIES_PREFIX.replace(":projectId", project);
  async function query(project: string, q: string, timeout: string) {
    const t0 = performance.now();
    const res = await fetch(`${base(project)}/api/v1/query?${new URLSearchParams({ query: q, timeout })}`, {
      headers: { authorization: `Bearer ${tokens[project]}` },
    });
    const body = (await res.json()) as { status: string; errorType?: string; error?: string };
    return {
      status: res.status,
      body,
      ms: performance.now() - t0,
      retryAfter: res.headers.get("retry-after"),
    };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mim-query-isolation-"));
    service = await startService(
      testServiceConfig(dir, ADMIN_KEY, {
        builtinRules: false,
        queryWorkers: 2,
        limits: {
          ...testServiceConfig(dir, ADMIN_KEY).limits,
          queryQueuePerProject: 4,
          queryConcurrencyPerProject: 1,
        },
      }),
    );
    for (const project of ["flood", "neighbour"]) {
      const res = await fetch(`${service.url}/v1alpha5/projects/${project}/monitoring/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "t" }),
      });
      tokens[project] = ((await res.json()) as { token: string }).token;
    }
    // Warm both workers, so the first answers below do not include loading the engine.
    await Promise.all([query("neighbour", "vector(1)", "30s"), query("flood", "vector(1)", "30s")]);
  });
  after(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers within its timeout, refuses past the queue bound, and delays no one else", async () => {
    assert.ok(DEFAULT_LIMITS.queryQueuePerProject > 4);
    const flood = Array.from({ length: 10 }, () => query("flood", EXPENSIVE, "1s"));
    await new Promise((r) => setTimeout(r, 100));
    // While the flood runs and queues: the neighbour, health and ingest answer promptly.
    const neighbour: number[] = [];
    const health: number[] = [];
    for (let i = 0; i < 5; i++) {
      const n = await query("neighbour", "vector(1)", "30s");
      assert.equal(n.status, 200, JSON.stringify(n.body));
      neighbour.push(n.ms);
      const t0 = performance.now();
      assert.equal((await fetch(`${service.url}/-/healthy`)).status, 200);
      health.push(performance.now() - t0);
    }
    const answers = await Promise.all(flood);
    // Before: 200 after 15–56 s. Now: a timeout error, within the timeout and the kill's grace.
    for (const a of answers) {
      assert.ok(a.ms < 1_000 + 5_000, `a flood answer took ${Math.round(a.ms)} ms with timeout=1s`);
    }
    const timedOut = answers.filter((a) => a.status === 503 && a.body.errorType === "timeout");
    const refused = answers.filter((a) => a.status === 429 && a.body.errorType === "too_many_requests");
    assert.equal(
      timedOut.length + refused.length,
      answers.length,
      JSON.stringify(answers.map((a) => a.body)),
    );
    // One runs, four wait, the other five are refused at once, with a Retry-After.
    assert.ok(refused.length >= 4, `refused: ${refused.length}`);
    for (const r of refused) assert.ok(r.retryAfter);
    assert.ok(Math.max(...neighbour) < 3_000, `neighbour's vector(1): ${neighbour.map(Math.round)} ms`);
    assert.ok(Math.max(...health) < 3_000, `/-/healthy: ${health.map(Math.round)} ms`);
  });

  it("stops at a short deadline, and the pool keeps its workers for the next query", async () => {
    const pool = service.queryPool;
    assert.ok(pool);
    const a = await query("flood", EXPENSIVE, "200ms");
    assert.equal(a.status, 503);
    assert.equal(a.body.errorType, "timeout");
    assert.ok(a.ms < 200 + 5_000, `took ${Math.round(a.ms)} ms`);
    const n = await query("neighbour", "vector(1)", "30s");
    assert.equal(n.status, 200);
    assert.equal(pool.workers, 2);
  });
});
