/**
 * The active-series guard in front of a store that has no TSDB refs (as the remote-write queue in
 * remote mode): the guard keys series by the labels' hash, never by what the store returns.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ActiveSeries } from "../../src/ingest/active-series.js";
import { DEFAULT_INGEST_LIMITS } from "../../src/ingest/limits.js";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { receiveRemoteWrite } from "../../src/ingest/remote-write-receiver.js";
import type { Appendable, Appender, Labels } from "../../src/storage/index.js";

/** Records appends and hands out no refs. */
function refless(): Appendable & { appended: string[] } {
  const appended: string[] = [];
  return {
    appended,
    appender(): Appender {
      return {
        append(_ref: number, labels: Labels, t: number) {
          appended.push(`${labels.map((l) => l.value).join(",")}@${t}`);
          return 0;
        },
        commit: () => ({ samples: 0, outOfOrder: 0 }),
        rollback() {},
      };
    },
  };
}

const body = (ids: string[], t: number) =>
  encodeRemoteWriteBody({
    timeseries: ids.map((id) => ({
      labels: [
        { name: "__name__", value: "m" },
        { name: "id", value: id },
        { name: "project_id", value: "p" },
      ],
      samples: [{ timestamp: t, value: 1 }],
    })),
  });

describe("active-series guard without store refs", () => {
  it("refuses a new series past the cap and keeps admitting the active ones", () => {
    const store = refless();
    let now = 1_000_000;
    const guard = () => ({
      limits: { ...DEFAULT_INGEST_LIMITS, maxSeriesPerProject: 2 },
      activeSeries,
      now,
    });
    const activeSeries = new ActiveSeries(2, () => now);
    const first = receiveRemoteWrite(body(["a", "b"], now), store, "*", {}, guard());
    assert.equal(first.rejected, 0);
    now += 1000;
    const second = receiveRemoteWrite(body(["c", "a", "b"], now), store, "*", {}, guard());
    assert.equal(second.rejected, 1);
    assert.deepEqual(second.refused, { series_limit: 1 });
    assert.match(
      second.firstError ?? "",
      /series .*"c".* would exceed project "p"'s limit of 2 active series \(--ingest-max-series-per-project\); series written in the last 20m count/,
    );
    assert.deepEqual(store.appended, ["m,a,p@1000000", "m,b,p@1000000", "m,a,p@1001000", "m,b,p@1001000"]);
  });
});

describe("ActiveSeries", () => {
  const MIN = 60_000;

  it("frees a series 20 minutes after its last write, not before", () => {
    const a = new ActiveSeries(2, () => 0);
    assert.equal(a.admit("p", 11, 0), true);
    assert.equal(a.admit("p", 22, 0), true);
    assert.equal(a.admit("p", 33, 0), false);
    assert.equal(a.admit("q", 33, 0), true, "each project has its own count");
    assert.equal(a.admit("p", 11, 10 * MIN), true);
    assert.equal(a.admit("p", 33, 19 * MIN), false, "22 was written 19 minutes ago");
    assert.equal(a.admit("p", 33, 21 * MIN), true, "22 went idle; 11 was written 11 minutes ago");
    assert.equal(a.admit("p", 44, 21 * MIN), false);
    assert.equal(a.admit("p", 11, 21 * MIN), true);
  });

  it("holds many 52-bit hashes, the cap exactly, through growth and sweeps", () => {
    const a = new ActiveSeries(5000, () => 0);
    // Distinct, spread over the whole 52 bits (5001 × 900000000007 < 2^52).
    const hashes = Array.from({ length: 5001 }, (_, i) => (i + 1) * 900_000_000_007);
    hashes.push(0, 2 ** 52 - 1);
    for (let i = 0; i < 5000; i++) assert.equal(a.admit("p", hashes[i], 0), true);
    assert.equal(a.admit("p", hashes[5000], 0), false);
    assert.equal(a.admit("p", 0, 0), false);
    for (let i = 0; i < 5000; i += 2) assert.equal(a.admit("p", hashes[i], 15 * MIN), true);
    // At 25 minutes the odd ones (last written at 0) go idle.
    assert.equal(a.admit("p", 0, 25 * MIN), true);
    assert.equal(a.admit("p", 2 ** 52 - 1, 25 * MIN), true);
    for (let i = 0; i < 5000; i += 2) assert.equal(a.admit("p", hashes[i], 25 * MIN), true);
    let admitted = 0;
    for (let i = 1; i < 5000; i += 2) if (a.admit("p", hashes[i], 25 * MIN)) admitted++;
    assert.equal(admitted, 5000 - 2500 - 2);
  });
});
