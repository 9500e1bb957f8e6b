/**
 * The benchmarks' fast remote-write encoder (bench/payloads.ts) writes what the reference encoder
 * (src/ingest/remote-write/encode.ts) writes, shards series as documented and counts its samples.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uncompressSync } from "snappy";
import { PayloadBuilder } from "../../bench/payloads.js";
import { encodeWriteRequest, type TimeSeriesInput } from "../../src/ingest/remote-write/index.js";
import { labelsFromObject } from "../../src/storage/index.js";

const LABELS = [
  labelsFromObject({ __name__: "a_total", project_id: "p1", model_name: "m" }),
  labelsFromObject({ __name__: "b", project_id: "p1", le: "+Inf", long: "x".repeat(300) }),
  labelsFromObject({ __name__: "c", project_id: "p2", é: "ü ✓" }),
];

describe("bench payloads", () => {
  it("encode each request as encodeWriteRequest does, sharded by series", () => {
    const values = [
      [0, -0, Number.NaN],
      [1.5, Number.POSITIVE_INFINITY, -2e300],
      [Number.MIN_VALUE, 123456789.125, 0],
    ];
    const times = [0, 1_700_000_000_123, 2 ** 40 + 7];
    const b = new PayloadBuilder(LABELS, 2, 1);
    for (let s = 0; s < values.length; s++) {
      b.addScrape(s === 1 ? [times[1], times[1] + 5, times[1] + 9] : times[s], values[s]);
    }
    const p = b.payloads();
    assert.equal(p.samples, 9);
    assert.equal(p.series, 3);
    // Shard 0 has series 0 and 2 (a request each per scrape), shard 1 series 1.
    assert.deepEqual(
      p.shards.map((r) => r.length),
      [6, 3],
    );
    for (let s = 0; s < values.length; s++) {
      const want = (i: number): TimeSeriesInput => ({
        labels: LABELS[i],
        samples: [{ timestamp: s === 1 ? times[1] + [0, 5, 9][i] : times[s], value: values[s][i] }],
      });
      const enc = (i: number) => Buffer.from(encodeWriteRequest({ timeseries: [want(i)] }));
      assert.deepEqual(
        Buffer.from(uncompressSync(p.shards[0][2 * s]) as Buffer),
        enc(0),
        `scrape ${s} series 0`,
      );
      assert.deepEqual(
        Buffer.from(uncompressSync(p.shards[0][2 * s + 1]) as Buffer),
        enc(2),
        `scrape ${s} series 2`,
      );
      assert.deepEqual(Buffer.from(uncompressSync(p.shards[1][s]) as Buffer), enc(1), `scrape ${s} series 1`);
    }
  });

  it("cut a shard's slice of a scrape into requests of at most the given size", () => {
    const labels = Array.from({ length: 7 }, (_, i) => labelsFromObject({ __name__: "x", i: String(i) }));
    const b = new PayloadBuilder(labels, 2, 3);
    const values = labels.map((_, i) => i + 1);
    b.addScrape(1000, values);
    const p = b.payloads();
    // Shard 0: series 0, 2, 4, 6 → 3 + 1; shard 1: 1, 3, 5 → 3.
    assert.deepEqual(
      p.shards.map((r) => r.length),
      [2, 1],
    );
    const series = (i: number[]) =>
      Buffer.from(
        encodeWriteRequest({
          timeseries: i.map((k) => ({ labels: labels[k], samples: [{ timestamp: 1000, value: values[k] }] })),
        }),
      );
    assert.deepEqual(Buffer.from(uncompressSync(p.shards[0][0]) as Buffer), series([0, 2, 4]));
    assert.deepEqual(Buffer.from(uncompressSync(p.shards[0][1]) as Buffer), series([6]));
    assert.deepEqual(Buffer.from(uncompressSync(p.shards[1][0]) as Buffer), series([1, 3, 5]));
    assert.equal(p.samples, 7);
    assert.ok(b.bytes > 0);
  });
});
