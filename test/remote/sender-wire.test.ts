/**
 * The sender's request assembly against our encoder, and the retry arithmetic.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compressSync } from "snappy";
import {
  decodeRemoteWrite,
  encodeWriteRequest,
  type TimeSeriesInput,
} from "../../src/ingest/remote-write/index.js";
import { backoffDelay, parseRetryAfter } from "../../src/remote/sender/backoff.js";
import { buildWriteRequest, encodeLabelFields } from "../../src/remote/sender/wire.js";
import { isStaleNaN, type Labels, normalizeLabels, StaleNaN } from "../../src/storage/index.js";

const label = fc.record({
  name: fc.string({ minLength: 1, maxLength: 12 }),
  value: fc.string({ minLength: 1, maxLength: 40 }),
});
const labelSet = fc
  .uniqueArray(label, { minLength: 1, maxLength: 6, selector: (l) => l.name })
  .map((ls) => normalizeLabels(ls));
const sample = fc.record({
  series: fc.nat({ max: 5 }),
  t: fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 51), max: 2 ** 51 })),
  v: fc.oneof(fc.constant(0), fc.constant(-0), fc.double({ noNaN: true })),
});

describe("remote-write request assembly", () => {
  it("is byte-identical to encodeWriteRequest for the same series and samples", () => {
    fc.assert(
      fc.property(
        fc.array(labelSet, { minLength: 6, maxLength: 6 }),
        fc.array(sample, { maxLength: 60 }),
        (sets, samples) => {
          const n = samples.length;
          const ids = new Float64Array(n);
          const ts = new Float64Array(n);
          const vs = new Float64Array(n);
          samples.forEach((s, i) => {
            ids[i] = s.series + 1;
            ts[i] = s.t;
            vs[i] = s.v;
          });
          const fields = sets.map((l) => encodeLabelFields(l));
          const built = buildWriteRequest({ ids, ts, vs, count: n }, (id) => fields[id - 1]);
          // The same request through the encoder: series in order of first appearance.
          const groups = new Map<
            number,
            { labels: Labels; samples: { timestamp: number; value: number }[] }
          >();
          for (const s of samples) {
            let g = groups.get(s.series);
            if (!g) {
              g = { labels: sets[s.series], samples: [] };
              groups.set(s.series, g);
            }
            g.samples.push({ timestamp: s.t, value: s.v });
          }
          const expected = encodeWriteRequest({ timeseries: [...groups.values()] as TimeSeriesInput[] });
          assert.deepEqual(Buffer.from(built.body), Buffer.from(expected));
          assert.equal(built.series, groups.size);
          assert.equal(built.samples, n);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps NaN payloads (the stale marker) bit-exact and leaves out series without labels", () => {
    // Set element-wise: an array literal may quieten the signalling NaN.
    const vs = new Float64Array(3);
    vs[0] = StaleNaN;
    vs[1] = 1;
    vs[2] = 2;
    const built = buildWriteRequest(
      { ids: new Float64Array([1, 2, 1]), ts: new Float64Array([10, 20, 30]), vs, count: 3 },
      (id) => (id === 1 ? encodeLabelFields(normalizeLabels([{ name: "a", value: "b" }])) : undefined),
    );
    assert.equal(built.missing, 1);
    const got: number[] = [];
    const stale: boolean[] = [];
    decodeWriteRequestRaw(built.body, (t, v) => {
      got.push(t);
      stale.push(isStaleNaN(v));
    });
    assert.deepEqual(got, [10, 30]);
    assert.deepEqual(stale, [true, false]);
  });
});

/** Decodes an uncompressed body by compressing it first: the decoder takes snappy blocks. */
function decodeWriteRequestRaw(body: Uint8Array, onSample: (t: number, v: number) => void): void {
  decodeRemoteWrite(compressSync(body), {
    series() {},
    samples(t, v, count) {
      for (let i = 0; i < count; i++) onSample(t[i], v[i]);
    },
  });
}

describe("retry timing", () => {
  it("backs off exponentially with jitter, capped", () => {
    assert.equal(
      backoffDelay(0, 100, 30_000, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(0, 100, 30_000, () => 1),
      100,
    );
    assert.equal(
      backoffDelay(3, 100, 30_000, () => 1),
      800,
    );
    assert.equal(
      backoffDelay(20, 100, 30_000, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelay(5000, 100, 30_000, () => 0.5),
      22_500,
    );
  });

  it("reads Retry-After as seconds or an HTTP date, clamped", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("7", now, 300_000), 7_000);
    assert.equal(parseRetryAfter(" 0 ", now, 300_000), 0);
    assert.equal(parseRetryAfter("100000", now, 300_000), 300_000);
    assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:12 GMT", now, 300_000), 12_000);
    assert.equal(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now, 300_000), 0);
    assert.equal(parseRetryAfter("soon", now, 300_000), null);
    assert.equal(parseRetryAfter(null, now, 300_000), null);
  });
});
