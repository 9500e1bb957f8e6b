import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  DuplicateSampleError,
  InvalidSampleLabelsError,
  InvalidTimestampError,
  isStaleNaN,
  type Label,
  labelsFromObject,
  labelsHash,
  Matcher,
  OutOfBoundsSampleError,
  OutOfOrderSampleError,
  StaleNaN,
  StorageError,
} from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { bits, readAll, tempDir } from "./helpers.js";

const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups) c();
});

function fresh(options: Partial<Parameters<typeof Tsdb.open>[0]> = {}): { db: Tsdb; dir: string } {
  const { dir, cleanup } = tempDir("mim-tsdb-");
  cleanups.push(cleanup);
  return { db: Tsdb.open({ dir, maintenanceIntervalMs: 0, ...options }), dir };
}

const up = labelsFromObject({ __name__: "up", job: "api" });
const ALL = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] as const;

describe("appending and reading", () => {
  it("returns committed samples bit-exactly across chunk cuts and a restart", () => {
    const { db, dir } = fresh();
    const app = db.appender();
    const want: string[] = [];
    let ref = 0;
    for (let i = 0; i < 1000; i++) {
      const t = 1_700_000_000_000 + i * 15_000;
      const v = i % 97 === 0 ? StaleNaN : i % 89 === 0 ? -0 : Math.sqrt(i);
      ref = app.append(ref, up, t, v);
      want.push(`${t}:${bits(v)}`);
    }
    app.commit();
    assert.deepEqual(readAll(db.querier(...ALL))[0].samples, want);
    db.close();
    const again = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
    assert.deepEqual(readAll(again.querier(...ALL))[0].samples, want);
    again.close();
  });

  it("keeps the stale marker distinct from an ordinary NaN", () => {
    const { db } = fresh();
    const app = db.appender();
    app.append(0, up, 1000, Number.NaN);
    app.append(0, up, 2000, StaleNaN);
    app.commit();
    const it = db.querier(...ALL).select(false, undefined, Matcher.eq("job", "api"));
    assert.ok(it.next());
    const s = it.at().iterator();
    assert.ok(s.next());
    assert.equal(isStaleNaN(s.atV()), false);
    assert.ok(s.next());
    assert.equal(isStaleNaN(s.atV()), true);
    db.close();
  });

  it("clips to the querier's range and seeks", () => {
    const { db } = fresh();
    const app = db.appender();
    for (let t = 0; t <= 100_000; t += 1000) app.append(0, up, t, t / 1000);
    app.commit();
    const set = db.querier(10_000, 20_000).select(false, undefined, Matcher.eq("__name__", "up"));
    assert.ok(set.next());
    const it = set.at().iterator();
    assert.ok(it.seek(15_500));
    assert.equal(it.atT(), 16_000);
    assert.ok(it.seek(12_000), "seek backwards stays put");
    assert.equal(it.atT(), 16_000);
    let last = 0;
    while (it.next()) last = it.atT();
    assert.equal(last, 20_000);
    assert.equal(it.seek(25_000), false);
    db.close();
  });

  it("reads old chunks back from disk once they leave memory", () => {
    const { db, dir } = fresh({ memoryWindowMs: 60_000, blockDurationMs: 3_600_000 });
    const want: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const app = db.appender();
      for (let i = 0; i < 100; i++) {
        const t = (batch * 100 + i) * 10_000;
        app.append(0, up, t, batch * 1000 + i);
        want.push(`${t}:${bits(batch * 1000 + i)}`);
      }
      app.commit();
      db.maintain();
    }
    db.checkpoint();
    db.maintain();
    const st = db.stats();
    assert.ok(st.memoryClosedChunks < 16, `chunks evicted from memory (${st.memoryClosedChunks} left)`);
    assert.ok(st.blocks.length >= 5, "data spans several block tables");
    assert.deepEqual(readAll(db.querier(...ALL))[0].samples, want);
    const mid = readAll(db.querier(500_000, 9_000_000))[0].samples;
    assert.deepEqual(
      mid,
      want.filter((s) => {
        const t = Number(s.split(":")[0]);
        return t >= 500_000 && t <= 9_000_000;
      }),
    );
    db.close();
    const again = Tsdb.open({
      dir,
      maintenanceIntervalMs: 0,
      memoryWindowMs: 60_000,
      blockDurationMs: 3_600_000,
    });
    assert.deepEqual(readAll(again.querier(...ALL))[0].samples, want);
    again.close();
  });

  it("accepts UTF-8 label names as Prometheus 3 does", () => {
    const { db } = fresh();
    const app = db.appender();
    app.append(0, labelsFromObject({ __name__: "http.requests", "ünïcode label": "ok" }), 1, 1);
    app.commit();
    assert.deepEqual(db.querier(...ALL).labelNames(), ["__name__", "ünïcode label"]);
    db.close();
  });
});

describe("per-sample errors", () => {
  it("rejects out-of-order and conflicting duplicates, ignores exact duplicates", () => {
    const { db } = fresh();
    let app = db.appender();
    app.append(0, up, 2000, 1);
    app.commit();
    app = db.appender();
    assert.throws(() => app.append(0, up, 1000, 1), OutOfOrderSampleError);
    assert.throws(
      () => app.append(0, up, 2000, 5),
      (e: Error) => e instanceof DuplicateSampleError && /job/.test(e.message),
    );
    app.append(0, up, 2000, 1);
    app.append(0, up, 3000, 3);
    assert.throws(
      () => app.append(0, up, 2500, 1),
      OutOfOrderSampleError,
      "checked against the open batch too",
    );
    app.commit();
    assert.deepEqual(readAll(db.querier(...ALL))[0].samples, [`2000:${bits(1)}`, `3000:${bits(3)}`]);
    db.close();
  });

  it("treats a duplicate NaN by its bits", () => {
    const { db } = fresh();
    const app = db.appender();
    app.append(0, up, 1000, StaleNaN);
    app.append(0, up, 1000, StaleNaN);
    assert.throws(() => app.append(0, up, 1000, Number.NaN), DuplicateSampleError);
    app.commit();
    db.close();
  });

  it("rejects bad timestamps naming the series", () => {
    const { db } = fresh();
    const app = db.appender();
    for (const t of [Number.NaN, Number.POSITIVE_INFINITY, 1.5, 2 ** 52]) {
      assert.throws(
        () => app.append(0, up, t, 1),
        (e: Error) => e instanceof InvalidTimestampError && /up/.test(e.message),
      );
    }
    app.rollback();
    db.close();
  });

  it("rejects invalid label sets with a clear reason", () => {
    const { db } = fresh();
    const app = db.appender();
    const cases: Array<[Label[], RegExp]> = [
      [[], /empty label set/],
      [[{ name: "job", value: "" }], /empty label set/],
      [[{ name: "", value: "x" }], /empty label name/],
      [
        [
          { name: "a", value: "1" },
          { name: "a", value: "2" },
        ],
        /duplicate label name "a"/,
      ],
      [[{ name: "bad\ud800", value: "x" }], /not valid UTF-8/],
      [[{ name: "ok", value: "bad\udc00" }], /not valid UTF-8/],
    ];
    for (const [labels, msg] of cases) {
      assert.throws(
        () => app.append(0, labels, 1000, 1),
        (e: Error) => e instanceof InvalidSampleLabelsError && msg.test(e.message),
      );
    }
    app.append(0, up, 1000, 1);
    app.commit();
    assert.equal(readAll(db.querier(...ALL)).length, 1, "good sample of the same batch is kept");
    db.close();
  });

  it("finds the same series by the caller's hash of normalised labels as by the labels alone", () => {
    const { db } = fresh();
    const app = db.appender();
    const a = app.append(0, up, 1000, 1);
    const b = app.append(0, up, 2000, 2, labelsHash(up));
    const other = labelsFromObject({ __name__: "other" });
    const c = app.append(0, other, 2000, 2, labelsHash(other));
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.equal(app.append(0, other, 3000, 3), c);
    app.commit();
    assert.equal(readAll(db.querier(...ALL)).length, 2);
    db.close();
  });

  it("treats an empty label value as no label", () => {
    const { db } = fresh();
    const app = db.appender();
    const a = app.append(0, [...up, { name: "zone", value: "" }], 1000, 1);
    const b = app.append(0, up, 2000, 2);
    assert.equal(a, b);
    app.commit();
    db.close();
  });

  it("rejects samples older than retention", () => {
    const { db } = fresh({ retentionMs: 60_000, now: () => 10_000_000 });
    const app = db.appender();
    app.append(0, up, 10_000_000, 1);
    app.commit();
    const late = db.appender();
    assert.throws(
      () => late.append(0, labelsFromObject({ __name__: "other" }), 1_000, 1),
      OutOfBoundsSampleError,
    );
    late.rollback();
    db.close();
  });

  it("measures retention from the clock when the newest sample is ahead of it, reading it per sample", () => {
    let now = 10_000_000;
    const { db } = fresh({ retentionMs: 60_000, now: () => now });
    const app = db.appender();
    app.append(0, up, 20_000_000, 1); // ten thousand seconds ahead of the clock
    app.commit();
    const late = db.appender();
    const other = labelsFromObject({ __name__: "other" });
    late.append(0, other, now - 60_000, 1); // exactly at the edge: inside
    now += 5_000; // the clock moves on while the batch is open
    assert.throws(() => late.append(0, other, now - 60_001, 2), OutOfBoundsSampleError);
    late.append(0, other, now - 60_000, 2);
    late.commit();
    db.close();
  });
});

describe("batches", () => {
  it("rollback discards the batch and frees the series for new samples", () => {
    const { db } = fresh();
    const app = db.appender();
    app.append(0, up, 1000, 1);
    app.rollback();
    assert.deepEqual(readAll(db.querier(...ALL)), []);
    const again = db.appender();
    again.append(0, up, 1000, 2);
    again.commit();
    assert.deepEqual(readAll(db.querier(...ALL))[0].samples, [`1000:${bits(2)}`]);
    db.close();
  });

  it("a commit that hits a full disk fails whole, keeps stored data, and can be retried", () => {
    const { db, dir } = fresh({ maxDiskBytes: 400 * 1024 });
    const small = db.appender();
    small.append(0, up, 1000, 1);
    small.commit();
    const big = db.appender();
    const refs: number[] = [];
    for (let s = 0; s < 20_000; s++) {
      refs.push(big.append(0, labelsFromObject({ __name__: "big", n: String(s) }), 2000, Math.random()));
    }
    assert.throws(
      () => big.commit(),
      (e: Error) => e instanceof StorageError && /full/i.test(e.message),
    );
    assert.deepEqual(readAll(db.querier(...ALL), Matcher.eq("__name__", "up"))[0].samples, [
      `1000:${bits(1)}`,
    ]);
    assert.deepEqual(
      readAll(db.querier(...ALL), Matcher.eq("__name__", "big")),
      [],
      "nothing of the failed batch",
    );
    const retry = db.appender();
    retry.append(0, up, 2000, 2);
    retry.commit();
    db.close();
    const reopened = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
    assert.deepEqual(readAll(reopened.querier(...ALL), Matcher.eq("__name__", "up"))[0].samples, [
      `1000:${bits(1)}`,
      `2000:${bits(2)}`,
    ]);
    reopened.close();
  });

  it("interleaved appenders on one series keep the series ordered", () => {
    const { db, dir } = fresh();
    const a = db.appender();
    const b = db.appender();
    a.append(0, up, 1000, 1);
    assert.throws(() => b.append(0, up, 500, 1), OutOfOrderSampleError);
    b.append(0, up, 2000, 2);
    a.append(0, up, 3000, 3);
    assert.deepEqual(b.commit(), { samples: 1, outOfOrder: 0 });
    // b committed 2000 first, so a's 1000 is now out of order: it is left out and counted.
    assert.deepEqual(a.commit(), { samples: 1, outOfOrder: 1 });
    const want = [`2000:${bits(2)}`, `3000:${bits(3)}`];
    assert.deepEqual(readAll(db.querier(...ALL))[0].samples, want);
    db.close();
    const again = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
    assert.deepEqual(readAll(again.querier(...ALL))[0].samples, want);
    again.close();
  });
});

describe("retention", () => {
  it("drops whole blocks and series that fell out of retention", () => {
    const HOUR = 3_600_000;
    let now = 0;
    const opts = { retentionMs: 2 * HOUR, blockDurationMs: HOUR / 2, now: () => now };
    const { db, dir } = fresh(opts);
    const old = labelsFromObject({ __name__: "gone", job: "batch" });
    for (let t = 0; t <= 6 * HOUR; t += 60_000) {
      now = t;
      const app = db.appender();
      app.append(0, up, t, t);
      if (t < HOUR) app.append(0, old, t, 1);
      app.commit();
      if (t % (HOUR / 2) === 0) db.maintain();
    }
    db.maintain();
    const q = db.querier(...ALL);
    const samples = readAll(q, Matcher.eq("__name__", "up"))[0].samples;
    const oldest = Number(samples[0].split(":")[0]);
    assert.ok(oldest >= 6 * HOUR - 2 * HOUR - HOUR / 2, `oldest kept sample ${oldest}`);
    assert.ok(oldest <= 6 * HOUR - 2 * HOUR, "keeps at least the retention window");
    assert.deepEqual(q.labelValues("job"), ["api"], "the expired series is gone from the index");
    assert.ok(db.stats().blocks.every((b) => (b + 1) * (HOUR / 2) > 4 * HOUR));
    db.close();
    const again = Tsdb.open({ dir, maintenanceIntervalMs: 0, ...opts });
    assert.deepEqual(again.querier(...ALL).labelValues("__name__"), ["up"]);
    again.close();
  });
});

describe("label queries", () => {
  it("honour matchers and the time range", () => {
    const { db } = fresh();
    const app = db.appender();
    app.append(0, labelsFromObject({ __name__: "a", model_name: "llama", tier: "pt" }), 1000, 1);
    app.append(0, labelsFromObject({ __name__: "a", model_name: "qwen", tier: "on_demand" }), 50_000, 1);
    app.append(0, labelsFromObject({ __name__: "b", model_name: "mistral" }), 50_000, 1);
    app.commit();
    const all = db.querier(0, 100_000);
    assert.deepEqual(all.labelValues("model_name"), ["llama", "mistral", "qwen"]);
    assert.deepEqual(all.labelValues("model_name", Matcher.eq("__name__", "a")), ["llama", "qwen"]);
    assert.deepEqual(all.labelValues("model_name", new Matcher("!~", "tier", "pt|")), ["qwen"]);
    assert.deepEqual(all.labelNames(Matcher.eq("__name__", "b")), ["__name__", "model_name"]);
    const late = db.querier(10_000, 100_000);
    assert.deepEqual(late.labelValues("model_name"), ["mistral", "qwen"]);
    assert.deepEqual(late.labelNames(Matcher.eq("model_name", "llama")), []);
    db.close();
  });
});
