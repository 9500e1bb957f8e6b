/**
 * The receiver's cache of accepted series (src/ingest/series-cache.ts): a series seen before is
 * appended by its ref without being checked again, but only under the same write scope and
 * limits, and only for the same label bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ActiveSeries } from "../../src/ingest/active-series.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/ingest/limits.js";
import { decodeWriteRequest, type LabelSpan } from "../../src/ingest/remote-write/decode.js";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { receiveRemoteWrite } from "../../src/ingest/remote-write-receiver.js";
import { seriesCacheFor } from "../../src/ingest/series-cache.js";
import type { Appendable, Appender, Labels } from "../../src/storage/index.js";

interface Call {
  ref: number;
  labels: string;
  hash: number | undefined;
}

/** Records every append; hands out one ref per distinct label set, as a store does. */
function recording(): Appendable & { calls: Call[] } {
  const calls: Call[] = [];
  const refs = new Map<string, number>();
  return {
    calls,
    appender(): Appender {
      return {
        append(ref: number, labels: Labels, _t: number, _v: number, hash?: number) {
          const key = [...labels]
            .sort((a, b) => (a.name < b.name ? -1 : 1))
            .map((l) => `${l.name}=${l.value}`)
            .join(",");
          calls.push({ ref, labels: labels.map((l) => `${l.name}=${l.value}`).join(","), hash });
          let r = refs.get(key);
          if (r === undefined) {
            r = refs.size + 1;
            refs.set(key, r);
          }
          return r;
        },
        commit: () => ({ samples: calls.length, outOfOrder: 0 }),
        rollback() {},
      };
    },
  };
}

const series = (project: string, model = "m1") => ({
  // Not sorted by name on purpose: the store gets them as sent on a hit.
  labels: [
    { name: "project_id", value: project },
    { name: "__name__", value: "crusoe_inference_request_count" },
    { name: "model_name", value: model },
    { name: "service_tier", value: "on_demand" },
  ],
});
const body = (project: string, t: number, model = "m1") =>
  encodeRemoteWriteBody({
    timeseries: [{ ...series(project, model), samples: [{ timestamp: t, value: t }] }],
  });

describe("the receiver's series cache", () => {
  it("appends a series seen before by its ref, with the labels as sent and no hash", () => {
    const store = recording();
    receiveRemoteWrite(body("p1", 1000), store, "p1", {}, undefined);
    receiveRemoteWrite(body("p1", 2000), store, "p1", {}, undefined);
    assert.equal(store.calls.length, 2);
    assert.equal(store.calls[0].ref, 0, "first sight: looked up by labels");
    assert.equal(typeof store.calls[0].hash, "number", "first sight: normalised and hashed");
    assert.match(store.calls[0].labels, /^__name__=/, "first sight: normalised (sorted)");
    assert.equal(store.calls[1].ref, 1, "second sight: the ref the store gave");
    assert.equal(store.calls[1].hash, undefined, "so a ref that went stale is looked up afresh");
    assert.match(store.calls[1].labels, /^project_id=/, "the labels as sent");
    assert.equal(seriesCacheFor(store, "p1", null).size, 1);
  });

  it("never lets one scope's acceptance stand for another's", () => {
    const store = recording();
    assert.equal(receiveRemoteWrite(body("p1", 1000), store, "p1").rejected, 0);
    // The same bytes under another project's token: still refused.
    const other = receiveRemoteWrite(body("p1", 2000), store, "p2");
    assert.equal(other.rejected, 1);
    assert.match(other.firstError ?? "", /belongs to project "p1"/);
    assert.equal(seriesCacheFor(store, "p2", null).size, 0, "a refused series is not cached");
  });

  it("checks again under other limits", () => {
    const store = recording();
    const loose = { ...DEFAULT_INGEST_LIMITS };
    const activeSeries = { admit: () => true } as unknown as ActiveSeries;
    const ok = receiveRemoteWrite(body("p1", 1000), store, "p1", {}, { limits: loose, activeSeries, now: 0 });
    assert.equal(ok.rejected, 0);
    const strict = { ...DEFAULT_INGEST_LIMITS, maxLabelValueLength: 3 };
    const refused = receiveRemoteWrite(
      body("p1", 2000),
      store,
      "p1",
      {},
      { limits: strict, activeSeries, now: 0 },
    );
    assert.equal(refused.rejected, 1);
    assert.deepEqual(refused.refused, { label_value_too_long: 1 });
  });

  it("keys by the exact bytes: another value is another series", () => {
    const store = recording();
    receiveRemoteWrite(body("p1", 1000, "m1"), store, "p1");
    receiveRemoteWrite(body("p1", 1000, "m2"), store, "p1");
    assert.deepEqual(
      store.calls.map((c) => c.ref),
      [0, 0],
    );
    assert.equal(seriesCacheFor(store, "p1", null).size, 2);
  });

  it("gives no span when a series' labels are not contiguous", () => {
    // TimeSeries { Label, Sample, Label } written by hand: legal protobuf, rare in practice.
    const label = (n: string, v: string) => {
      const nb = Buffer.from(n);
      const vb = Buffer.from(v);
      const inner = Buffer.concat([Buffer.from([0x0a, nb.length]), nb, Buffer.from([0x12, vb.length]), vb]);
      return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
    };
    const sample = Buffer.concat([Buffer.from([0x12, 11, 0x09]), Buffer.alloc(8), Buffer.from([0x10, 0x01])]);
    const ts = Buffer.concat([label("__name__", "x"), sample, label("project_id", "p")]);
    const req = Buffer.concat([Buffer.from([0x0a, ts.length]), ts]);
    const spans: (LabelSpan | undefined)[] = [];
    decodeWriteRequest(req, {
      series: (_labels: unknown, span?: LabelSpan) => {
        spans.push(span ? { ...span } : undefined);
      },
      samples: () => {},
    });
    assert.equal(spans.length, 1);
    assert.equal(spans[0], undefined);
    const contiguous = Buffer.concat([label("__name__", "x"), label("project_id", "p"), sample]);
    const req2 = Buffer.concat([Buffer.from([0x0a, contiguous.length]), contiguous]);
    decodeWriteRequest(req2, {
      series: (_labels: unknown, span?: LabelSpan) => {
        spans.push(span ? { ...span } : undefined);
      },
      samples: () => {},
    });
    assert.equal(spans[1]?.start, 2);
    assert.equal(spans[1]?.end, 2 + label("__name__", "x").length + label("project_id", "p").length);
  });
});
