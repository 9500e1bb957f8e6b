/**
 * The engine support (engines.ts) and the steady fleet (steady-fleet.ts): each real engine takes a
 * steady fleet by remote write, answers count() and rate() exactly, and still has the data after a
 * restart, and a kill -9, on the same directory. An engine whose binary is missing fails the test in CI (CI=true)
 * and skips it locally.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type EngineHandle,
  type EngineKind,
  engineSkip,
  instantQuery,
  remoteWrite,
  startEngineOfKind,
} from "./engines.js";
import { exactRateRange, generateSteadyFleet, type SteadyFleet } from "./steady-fleet.js";

const REL = 1e-9;

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== "__name__")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= REL * Math.abs(expected),
    `${what}: ${actual} ≠ ${expected} (relative error ${Math.abs(actual - expected) / Math.abs(expected)})`,
  );
}

/** rate(name[5m]) at `atMs` for every metric name of the fleet, checked against each series' rate. */
async function checkRates(engine: EngineHandle, fleet: SteadyFleet, atMs: number): Promise<void> {
  const byName = new Map<string, Map<string, number>>();
  for (const s of fleet.series) {
    const name = s.labels.__name__;
    if (!byName.has(name)) byName.set(name, new Map());
    byName.get(name)!.set(seriesKey(s.labels), s.ratePerSecond);
  }
  for (const [name, expected] of byName) {
    const result = await instantQuery(engine.url, `rate(${name}[5m])`, atMs);
    assert.equal(result.length, expected.size, `${name}: series count\n${engine.log()}`);
    for (const r of result) {
      assert.equal(r.value[0], atMs / 1000, `${name}: result timestamp`);
      const want = expected.get(seriesKey(r.metric));
      assert.ok(want !== undefined, `unexpected series ${JSON.stringify(r.metric)}`);
      assertClose(Number(r.value[1]), want, `rate(${name}${seriesKey(r.metric)}[5m])`);
    }
  }
}

async function checkCount(engine: EngineHandle, fleet: SteadyFleet, atMs: number): Promise<void> {
  const result = await instantQuery(engine.url, "count(crusoe_inference_request_count)", atMs);
  assert.equal(result.length, 1, `count: ${JSON.stringify(result)}\n${engine.log()}`);
  assert.equal(Number(result[0].value[1]), fleet.targets.length);
}

describe("steady fleet", () => {
  const fleet = generateSteadyFleet();

  it("is deterministic and laid out as documented", () => {
    assert.deepEqual(generateSteadyFleet(), fleet);
    assert.notDeepEqual(generateSteadyFleet({ seed: 1 }).series[0].samples, fleet.series[0].samples);
    assert.equal(fleet.projects.length, 3);
    assert.equal(fleet.targets.length, 3 * 2 * 2);
    // 3 counters + (10 + 2) + (8 + 2) histogram series per target.
    assert.equal(fleet.series.length, fleet.targets.length * 25);
    for (const p of fleet.projects)
      assert.match(p, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("has linear counters sampled every 15 s off whole seconds, inside [startMs, endMs]", () => {
    for (const s of fleet.series) {
      assert.ok(s.base >= s.ratePerSecond * 172_000, "up for days");
      let prev = Number.NEGATIVE_INFINITY;
      for (const [t, v] of s.samples) {
        assert.ok(t % 1000 !== 0 && t >= fleet.startMs && t <= fleet.endMs && Number.isInteger(t));
        if (prev !== Number.NEGATIVE_INFINITY) assert.ok(Math.abs(t - prev - 15_000) <= 700);
        prev = t;
        const expected = s.base + (s.ratePerSecond * (t - fleet.startMs)) / 1000;
        assert.ok(Math.abs(v - expected) <= 1e-12 * expected, `${JSON.stringify(s.labels)} at ${t}`);
      }
    }
  });

  it("has histograms cumulative over le, nothing above the top finite bound", () => {
    const groups = new Map<string, number[][]>();
    for (const s of fleet.series) {
      const { __name__: name, le, ...rest } = s.labels;
      if (!name.endsWith("_bucket")) continue;
      const key = name + JSON.stringify(rest);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(s.samples.map(([, v]) => v));
    }
    assert.equal(groups.size, fleet.targets.length * 2);
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        for (let j = 0; j < buckets[i].length; j++) assert.ok(buckets[i][j] >= buckets[i - 1][j], key);
      }
      assert.deepEqual(buckets[buckets.length - 1], buckets[buckets.length - 2], `${key}: +Inf = top finite`);
      assert.ok(buckets[0][0] < buckets[buckets.length - 1][0], `${key}: spread over buckets`);
    }
    const counts = fleet.series.filter((s) => s.labels.__name__.endsWith("_count") && !("le" in s.labels));
    for (const c of counts) {
      const inf = fleet.series.find(
        (s) =>
          s.labels.le === "+Inf" &&
          s.labels.__name__ === c.labels.__name__.replace(/_count$/, "_bucket") &&
          seriesKey({ ...s.labels, le: "" }) === seriesKey({ ...c.labels, le: "" }),
      );
      if (c.labels.__name__.startsWith("crusoe_inference_histogram_")) {
        assert.deepEqual(inf?.samples, c.samples, `${c.labels.__name__}: _count = +Inf bucket`);
      }
    }
  });
});

for (const kind of ["prometheus", "victoria-metrics"] as const satisfies readonly EngineKind[]) {
  describe(`engine ${kind}`, () => {
    it("takes a steady fleet by remote write, answers count and rate exactly, keeps it over a restart and a kill -9", {
      skip: engineSkip(kind),
      timeout: 20_000,
    }, async () => {
      const fleet = generateSteadyFleet({ projects: 2, durationMs: 20 * 60_000, seed: 7 });
      const engine = await startEngineOfKind(kind);
      try {
        await remoteWrite(engine.writeUrl, fleet.series);
        await engine.flush();
        const { fromMs, toMs } = exactRateRange(fleet, 5 * 60_000);
        // Whole seconds, as dashboards query; samples never are.
        const at = [
          Math.ceil(fromMs / 1000) * 1000,
          fleet.startMs + 12 * 60_000,
          Math.floor(toMs / 1000) * 1000,
        ];
        for (const t of at) {
          await checkCount(engine, fleet, t);
          await checkRates(engine, fleet, t);
        }

        await engine.stop();
        await assert.rejects(fetch(`${engine.url}/api/v1/query?query=1`), "stopped");
        await engine.start();
        await checkCount(engine, fleet, at[1]);
        await checkRates(engine, fleet, at[1]);

        // A crash (kill -9) after that restart: everything was on disk, so nothing is lost.
        assert.ok(engine.pid, "running");
        await engine.kill();
        assert.equal(engine.pid, undefined, "killed");
        await engine.start();
        await checkCount(engine, fleet, at[1]);
      } catch (e) {
        if (e instanceof Error) e.message += `\n${kind} log:\n${engine.log()}`;
        throw e;
      } finally {
        await engine.close();
      }
    });
  });
}
