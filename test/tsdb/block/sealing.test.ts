import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { OutOfBoundsSampleError } from "../../../src/storage/index.js";
import { Tsdb } from "../../../src/tsdb/tsdb.js";
import {
  LEGACY_SAMPLES,
  LEGACY_SERIES,
  LEGACY_STEP_MS,
  LEGACY_T0,
  legacyLabels,
  legacyValue,
} from "../fixtures/legacy-data.js";
import { bits, type ReadSeries, readAll, tempDir } from "../helpers.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const FIXTURE = join(import.meta.dirname, "..", "fixtures", "legacy-v1");

function expectedLegacy(): ReadSeries[] {
  const out: ReadSeries[] = [];
  for (let i = 0; i < LEGACY_SERIES; i++) {
    const samples: string[] = [];
    for (let k = 0; k < LEGACY_SAMPLES; k++)
      samples.push(`${LEGACY_T0 + k * LEGACY_STEP_MS}:${bits(legacyValue(i, k))}`);
    const labels: Record<string, string> = {};
    for (const l of legacyLabels(i)) labels[l.name] = l.value;
    out.push({ labels, samples });
  }
  return out.sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

function sorted(rows: ReadSeries[]): ReadSeries[] {
  return [...rows].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

describe("block files under the TSDB", () => {
  const tmp = tempDir("mim-seal-");
  after(() => tmp.cleanup());

  it("converts a data dir of the previous release (1-day tables) into block files, losing nothing", async () => {
    const dir = join(tmp.dir, "legacy");
    cpSync(FIXTURE, dir, { recursive: true });
    const now = () => LEGACY_T0 + 3 * DAY;
    const want = expectedLegacy();
    let db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now });
    // Reads are whole while the seal runs on its worker thread, and after.
    assert.deepEqual(sorted(readAll(db.querier(0, Number.MAX_SAFE_INTEGER))), want);
    await db.blockJobsSettled();
    // Opening seals what can no longer change: days 0 and 1 (the newest sample is late on day 2).
    let st = db.stats();
    assert.deepEqual(
      st.blockFiles.map((b) => [b.minT, b.maxT]),
      [
        [LEGACY_T0, LEGACY_T0 + DAY],
        [LEGACY_T0 + DAY, LEGACY_T0 + 2 * DAY],
      ],
    );
    assert.equal(st.sealedBefore, LEGACY_T0 + 2 * DAY);
    assert.deepEqual(
      st.blocks,
      [0, 1, 2].map((d) => (LEGACY_T0 + d * DAY) / DAY),
    );
    assert.deepEqual(sorted(readAll(db.querier(0, Number.MAX_SAFE_INTEGER))), want);
    // A sample inside a sealed block is refused, saying why.
    const app = db.appender();
    assert.throws(
      () => app.append(0, legacyLabels(0), LEGACY_T0 + DAY, 1),
      (err: Error) => err instanceof OutOfBoundsSampleError && /newest block file/.test(err.message),
    );
    app.rollback();
    db.close();
    db = Tsdb.open({ dir, maintenanceIntervalMs: 0, now });
    st = db.stats();
    assert.equal(db.recovery.blocks, 2);
    assert.equal(st.blockFiles.length, 2);
    assert.deepEqual(sorted(readAll(db.querier(0, Number.MAX_SAFE_INTEGER))), want);
    db.close();
  });

  it("seals, compacts and deletes blocks by retention in a new data dir", async () => {
    const dir = join(tmp.dir, "fresh");
    const logs: string[] = [];
    const T0 = 40 * DAY;
    let clock = T0 + 6 * HOUR;
    const opts = {
      dir,
      maintenanceIntervalMs: 0,
      blockDurationMs: HOUR / 2,
      retentionMs: 10 * HOUR,
      memoryWindowMs: 10 * 60_000,
      now: () => clock,
      log: (m: string) => logs.push(m),
    };
    let db = Tsdb.open(opts);
    const labels = (i: number) => [
      { name: "__name__", value: "x" },
      { name: "i", value: String(i) },
    ];
    const want: ReadSeries[] = [];
    for (let i = 0; i < 5; i++) want.push({ labels: { __name__: "x", i: String(i) }, samples: [] });
    const refs: number[] = [];
    for (let t = T0; t < T0 + 6 * HOUR; t += 15_000) {
      const app = db.appender();
      for (let i = 0; i < 5; i++) {
        const v = (t - T0) / 1000 + i;
        refs[i] = app.append(refs[i] ?? 0, labels(i), t + i, v);
        want[i].samples.push(`${t + i}:${bits(v)}`);
      }
      app.commit();
      if ((t - T0) % (20 * 60_000) === 0) {
        db.maintain();
        await db.blockJobsSettled();
      }
    }
    db.maintain();
    await db.blockJobsSettled();
    const st = db.stats();
    // Sealed through 5.5 h (half a block behind the newest sample); merged by the hour.
    assert.equal(st.sealedBefore, T0 + 5.5 * HOUR);
    assert.ok(
      st.blockFiles.some((b) => b.level === 2 && b.maxT - b.minT === HOUR),
      JSON.stringify(st.blockFiles),
    );
    assert.ok(
      st.blockFiles.every((b, k) => k === 0 || b.minT >= st.blockFiles[k - 1].maxT),
      "blocks do not overlap",
    );
    assert.equal(
      st.blockFiles.reduce((n, b) => n + b.samples, 0),
      5 * ((5.5 * HOUR) / 15_000),
      "every sample before the seal is in a block file",
    );
    assert.deepEqual(readAll(db.querier(0, Number.MAX_SAFE_INTEGER)), want);
    // A range inside the blocks reads the same as the full read, cut.
    const mid = readAll(db.querier(T0 + 1.2 * HOUR, T0 + 2.7 * HOUR));
    assert.deepEqual(
      mid.map((s) => s.samples),
      want.map((s) =>
        s.samples.filter((x) => {
          const t = Number(x.split(":")[0]);
          return t >= T0 + 1.2 * HOUR && t <= T0 + 2.7 * HOUR;
        }),
      ),
    );
    db.close();
    db = Tsdb.open(opts);
    assert.deepEqual(readAll(db.querier(0, Number.MAX_SAFE_INTEGER)), want);
    // Ten hours on: everything before 6 h + 3 h − 10 h … retention deletes whole block files.
    clock = T0 + 16 * HOUR;
    const app = db.appender();
    for (let i = 0; i < 5; i++) app.append(0, labels(i), T0 + 13 * HOUR + i, 1);
    app.commit();
    db.maintain();
    await db.blockJobsSettled();
    const after = db.stats();
    assert.ok(
      after.blockFiles.every((b) => b.maxT > T0 + 3 * HOUR),
      JSON.stringify(after.blockFiles),
    );
    assert.ok(after.blockFiles.length < st.blockFiles.length);
    const left = readdirSync(join(dir, "blocks"));
    assert.equal(left.length, after.blockFiles.length, "deleted blocks are gone from disk");
    assert.ok(logs.some((m) => /retention/.test(m)));
    assert.ok(existsSync(join(dir, "tsdb.sqlite")));
    db.close();
  });
});

describe("when the TSDB seals", () => {
  const tmp = tempDir("mim-seal-when-");
  after(() => tmp.cleanup());
  const HALF = HOUR / 2;
  const labels = (i: number) => [
    { name: "__name__", value: "y" },
    { name: "i", value: String(i) },
  ];

  it("leaves a store with nothing old enough unsealed, so backfill is taken", async () => {
    const T0 = 50 * DAY;
    const db = Tsdb.open({
      dir: join(tmp.dir, "backfill"),
      maintenanceIntervalMs: 0,
      blockDurationMs: HALF,
      now: () => T0 + 10 * HOUR,
    });
    let app = db.appender();
    app.append(0, labels(0), T0 + 10 * HOUR, 1);
    app.commit();
    await new Promise((r) => setImmediate(r));
    db.maintain();
    assert.equal(db.stats().sealedBefore, Number.NEGATIVE_INFINITY, "one sample seals nothing");
    // A backfill hours older is accepted, and the next commit seals everything before 9.5 h.
    app = db.appender();
    for (let t = T0; t < T0 + 2 * HOUR; t += 60_000) app.append(0, labels(1), t, t);
    app.commit();
    await new Promise((r) => setImmediate(r));
    await db.blockJobsSettled();
    const st = db.stats();
    assert.equal(st.sealedBefore, T0 + 9.5 * HOUR);
    assert.ok(st.blockFiles.length >= 1, "sealed without a maintenance pass");
    assert.equal(
      st.blockFiles.reduce((n, b) => n + b.samples, 0),
      120,
    );
    app = db.appender();
    assert.throws(() => app.append(0, labels(1), T0 + 3 * HOUR, 1), OutOfBoundsSampleError);
    app.rollback();
    db.close();
  });
});

describe("series rows lost from tsdb.sqlite", () => {
  const tmp = tempDir("mim-seal-restore-");
  after(() => tmp.cleanup());

  it("come back from the block files' labels", async () => {
    const dir = join(tmp.dir, "restore");
    const T0 = 60 * DAY;
    const opts = { dir, maintenanceIntervalMs: 0, blockDurationMs: HOUR / 2, now: () => T0 + 3 * HOUR };
    let db = Tsdb.open(opts);
    for (let t = T0; t < T0 + 3 * HOUR; t += 60_000) {
      const app = db.appender();
      for (let i = 0; i < 3; i++) {
        app.append(
          0,
          [
            { name: "__name__", value: "z" },
            { name: "i", value: String(i) },
          ],
          t,
          i,
        );
      }
      app.commit();
    }
    await new Promise((r) => setImmediate(r));
    await db.blockJobsSettled();
    const before = readAll(db.querier(0, T0 + 2 * HOUR));
    assert.ok(db.stats().blockFiles.length > 0);
    db.close();
    const sql = new Database(join(dir, "tsdb.sqlite"));
    sql.prepare("UPDATE series SET crc = crc + 1 WHERE id = (SELECT min(id) FROM series)").run();
    sql.close();
    db = Tsdb.open(opts);
    assert.equal(db.recovery.lostSeries, 0, "the damaged row's series was restored");
    assert.equal(db.recovery.series, 3);
    assert.deepEqual(readAll(db.querier(0, T0 + 2 * HOUR)), before);
    db.close();
  });
});
