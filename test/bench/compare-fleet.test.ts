/**
 * bench:compare's fleets (bench/compare-fleet.ts), decoded back from their remote-write requests:
 * deterministic, every series sampled every 15 s at its target's fixed offset off the whole second,
 * shard by shard in time order, counters that reset now and then (the page's first target
 * half-way) and histograms cumulative over le.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildCompareFleet, FLEET_SPECS, WARM_SCRAPES } from "../../bench/compare-fleet.js";
import { SERIES_PER_COMBINATION } from "../../bench/fleet.js";
import { decodeRemoteWrite } from "../../src/ingest/remote-write/index.js";
import type { Label } from "../../src/storage/index.js";

const GRID_END = Date.UTC(2026, 11, 1, 12);

/** Every series' samples (by its labels' JSON), decoded from the fleet's requests, shard by shard. */
function decode(fleet: ReturnType<typeof buildCompareFleet>) {
  const series = new Map<string, Array<[number, number]>>();
  for (const requests of fleet.payloads.shards) {
    for (const body of requests) {
      let current: Array<[number, number]> = [];
      decodeRemoteWrite(body, {
        series(labels: Label[]) {
          const key = JSON.stringify(labels.map((l) => [l.name, l.value]));
          current = series.get(key) ?? [];
          series.set(key, current);
        },
        samples(ts, vs, count) {
          for (let i = 0; i < count; i++) current.push([ts[i], vs[i]]);
        },
      });
    }
  }
  return series;
}

describe("bench:compare fleets", () => {
  const fleet = buildCompareFleet(FLEET_SPECS.tiny, GRID_END);

  it("are deterministic and as large as their spec", () => {
    const again = buildCompareFleet(FLEET_SPECS.tiny, GRID_END);
    assert.deepEqual(again.payloads.shards, fleet.payloads.shards);
    assert.equal(fleet.targets, 2 * 2 * 2);
    assert.equal(fleet.series, fleet.targets * SERIES_PER_COMBINATION);
    assert.equal(fleet.scrapes, 240);
    assert.equal(fleet.samples, fleet.series * fleet.scrapes);
    assert.equal(fleet.project, "proj-00000000");
    assert.ok(fleet.resets >= 1);
  });

  it("sample every series every 15 s off whole seconds, each shard in time order", () => {
    const series = decode(fleet);
    assert.equal(series.size, fleet.series);
    const offsets = new Set<number>();
    for (const [key, samples] of series) {
      assert.equal(samples.length, fleet.scrapes, key);
      const offset = samples[0][0] - (GRID_END - (fleet.scrapes - 1) * 15_000);
      offsets.add(offset);
      assert.ok(offset > 0 && offset < 15_000 && offset % 1000 !== 0, `${key}: offset ${offset}`);
      samples.forEach(([t], k) => {
        assert.equal(t, samples[0][0] + k * 15_000, key);
      });
      assert.ok(samples[0][0] >= fleet.firstMs && samples[samples.length - 1][0] <= fleet.lastMs);
    }
    assert.ok(offsets.size > 1, "targets at different offsets");
    assert.ok(fleet.lastMs < GRID_END + 15_000);
  });

  it("have counters that start warm, reset now and then, and cumulative histograms", () => {
    const series = decode(fleet);
    let resets = 0;
    const buckets = new Map<string, Array<{ le: number; values: number[] }>>();
    for (const [key, samples] of series) {
      const labels = Object.fromEntries(JSON.parse(key) as Array<[string, string]>);
      const values = samples.map(([, v]) => v);
      if (labels.__name__ === "crusoe_inference_request_count") {
        for (let k = 1; k < values.length; k++) if (values[k] < values[k - 1]) resets++;
        if (labels.project_id === fleet.project && values.some((v) => v > 0)) {
          assert.ok(values[0] > 0, `${key}: ${WARM_SCRAPES} scrapes of history before the first`);
        }
      }
      if (labels.__name__.endsWith("_bucket")) {
        const { le, ...rest } = labels;
        const group = JSON.stringify(rest);
        buckets.set(group, [
          ...(buckets.get(group) ?? []),
          { le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), values },
        ]);
      }
    }
    assert.ok(resets >= 1, "a reset of the page's first target at least");
    for (const [group, list] of buckets) {
      list.sort((a, b) => a.le - b.le);
      for (let b = 1; b < list.length; b++) {
        list[b].values.forEach((v, k) => {
          assert.ok(v >= list[b - 1].values[k], `${group} le=${list[b].le} at ${k}`);
        });
      }
    }
  });
});
