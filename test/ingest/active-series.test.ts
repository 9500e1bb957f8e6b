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
