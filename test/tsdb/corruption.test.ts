/**
 * A damaged durable file: truncated, overwritten in the middle, single rows altered behind the
 * checksums' back, a garbage header. For every case the store must open (or refuse with a clear
 * StorageError), say what it lost, serve only samples that were written (bit for bit, in time
 * order), answer queries, and take new commits that survive both a clean restart and a crash.
 *
 * The data comes from crash-child.ts's deterministic generator, so the written samples are known.
 * A watchdog thread kills the process if an open or a check does not return (a salvage that never
 * ends would otherwise hang the whole run).
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import {
  getLabel,
  type Labels,
  labelsEqual,
  labelsFromObject,
  Matcher,
  StorageError,
} from "../../src/storage/index.js";
import type { TsdbOptions } from "../../src/tsdb/options.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { type Batch, commitBatch, generateBatch, METRIC, rng, seriesLabels, T0 } from "./crash-child.js";

const SEED = 0x0c0ffee;
/** Maintenance off so every file this test damages has a reproducible layout. */
const OPTIONS = { maintenanceIntervalMs: 0, blockDurationMs: 300_000, memoryWindowMs: 60_000 } as const;
const CLEAN_BATCHES = 30; // batches 0..29, cleanly closed
const CRASH_CLEAN = 20; // crash image: 0..19 cleanly closed, 20..24 checkpointed, 25..34 in the log only
const CRASH_CHECKPOINTED = 25;
const CRASH_BATCHES = 35;
/** Batches committed after the damage (their timestamps lie after every written one). */
const NEW_BATCHES = Array.from({ length: 14 }, (_, i) => 40 + i);
const CANARY = -1;
const WATCHDOG_MS = 60_000;

// ---- data -------------------------------------------------------------------------------------

interface Column {
  ts: number[];
  hi: number[];
  lo: number[];
}
/** Samples by series index (CANARY for the canary series), each column in time order. */
type Data = Map<number, Column>;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function hex(hi: number, lo: number): string {
  return `0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
}

function column(d: Data, s: number): Column {
  let c = d.get(s);
  if (c === undefined) {
    c = { ts: [], hi: [], lo: [] };
    d.set(s, c);
  }
  return c;
}

function addBatch(d: Data, batch: Batch): void {
  const bits = new Uint32Array(batch.vs.buffer);
  for (let i = 0; i < batch.count; i++) {
    const c = column(d, batch.series[i]);
    c.ts.push(batch.ts[i]);
    c.lo.push(bits[2 * i]);
    c.hi.push(bits[2 * i + 1]);
  }
}

function batchesData(batches: Iterable<number>): Data {
  const d: Data = new Map();
  for (const b of batches) addBatch(d, generateBatch(SEED, b));
  return d;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function merge(...parts: Data[]): Data {
  const d: Data = new Map();
  for (const p of parts) {
    for (const [s, c] of p) {
      const out = column(d, s);
      for (let i = 0; i < c.ts.length; i++) {
        out.ts.push(c.ts[i]);
        out.hi.push(c.hi[i]);
        out.lo.push(c.lo[i]);
      }
    }
  }
  for (const c of d.values()) {
    const order = c.ts.map((_, i) => i).sort((a, b) => c.ts[a] - c.ts[b]);
    c.ts = order.map((i) => c.ts[i]);
    c.hi = order.map((i) => c.hi[i]);
    c.lo = order.map((i) => c.lo[i]);
  }
  return d;
}

function filter(d: Data, keep: (s: number, t: number) => boolean): Data {
  const out: Data = new Map();
  for (const [s, c] of d) {
    for (let i = 0; i < c.ts.length; i++) {
      if (!keep(s, c.ts[i])) continue;
      const o = column(out, s);
      o.ts.push(c.ts[i]);
      o.hi.push(c.hi[i]);
      o.lo.push(c.lo[i]);
    }
  }
  return out;
}

function count(d: Data): number {
  let n = 0;
  for (const c of d.values()) n += c.ts.length;
  return n;
}

function indexOf(ts: readonly number[], t: number): number {
  let lo = 0;
  let hi = ts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] === t) return mid;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const label = (s: number) => (s === CANARY ? "canary" : `series ${s}`);

/** Samples of `got` that are not in `written` with the same bits (at most a few, described). */
function notWritten(got: Data, written: Data): string[] {
  const out: string[] = [];
  for (const [s, c] of got) {
    const w = written.get(s);
    for (let i = 0; i < c.ts.length && out.length < 10; i++) {
      const k = w ? indexOf(w.ts, c.ts[i]) : -1;
      if (k < 0) out.push(`${label(s)}: sample at t=${c.ts[i]} (${hex(c.hi[i], c.lo[i])}) was never written`);
      else if (w!.hi[k] !== c.hi[i] || w!.lo[k] !== c.lo[i]) {
        out.push(
          `${label(s)} t=${c.ts[i]}: read ${hex(c.hi[i], c.lo[i])}, written ${hex(w!.hi[k], w!.lo[k])}`,
        );
      }
    }
  }
  return out;
}

/** Differences between two data sets (at most a few, described). */
function differences(got: Data, want: Data): string[] {
  const out = notWritten(got, want).map((m) => `extra: ${m}`);
  for (const [s, c] of want) {
    const g = got.get(s);
    for (let i = 0; i < c.ts.length && out.length < 10; i++) {
      if (!g || indexOf(g.ts, c.ts[i]) < 0) out.push(`missing: ${label(s)} t=${c.ts[i]}`);
    }
  }
  return out;
}

// ---- reading ----------------------------------------------------------------------------------

const canaryLabels: Labels = labelsFromObject({ __name__: "canary", job: "corruption-test" });

interface ReadResult {
  data: Data;
  warnings: string[];
  iteratorErrors: string[];
  /** Broken invariants: unknown label sets, time going backwards, a series twice. */
  problems: string[];
}

function readAll(db: Tsdb): ReadResult {
  const res: ReadResult = { data: new Map(), warnings: [], iteratorErrors: [], problems: [] };
  const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const set = q.select(true, undefined, new Matcher("=~", "__name__", ".+"));
  while (set.next()) {
    const s = set.at();
    let idx: number;
    if (labelsEqual(s.labels, canaryLabels)) idx = CANARY;
    else {
      idx = Number(getLabel(s.labels, "idx"));
      if (!Number.isInteger(idx) || !labelsEqual(s.labels, seriesLabels(idx))) {
        res.problems.push(`unknown series ${JSON.stringify(s.labels)}`);
        continue;
      }
    }
    if (res.data.has(idx)) res.problems.push(`${label(idx)} returned twice`);
    const c = column(res.data, idx);
    const it = s.iterator();
    while (it.next()) {
      const t = it.atT();
      f64[0] = it.atV();
      if (c.ts.length && t <= c.ts[c.ts.length - 1] && res.problems.length < 10) {
        res.problems.push(`${label(idx)}: time goes from ${c.ts[c.ts.length - 1]} to ${t}`);
      }
      c.ts.push(t);
      c.lo.push(u32[0]);
      c.hi.push(u32[1]);
    }
    if (it.err()) res.iteratorErrors.push(`${label(idx)}: ${it.err()!.message}`);
    if (c.ts.length === 0) res.data.delete(idx);
  }
  if (set.err()) res.iteratorErrors.push(`select: ${set.err()!.message}`);
  res.warnings.push(...set.warnings());
  q.close();
  return res;
}

/** Metadata queries, a narrow range and seeks: none may throw, and they must agree with the full read. */
function exerciseQueries(db: Tsdb, full: Data): void {
  const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const names = q.labelNames();
  if (full.size) assert.ok(names.includes("__name__"), `label names ${JSON.stringify(names)}`);
  q.labelValues("idx", Matcher.eq("__name__", METRIC));
  q.labelValues("job");
  q.close();
  let k = 0;
  for (const [s, c] of full) {
    if (s === CANARY || k++ % 37 !== 0 || c.ts.length < 3) continue;
    const a = c.ts[Math.floor(c.ts.length / 3)];
    const z = c.ts[Math.floor((2 * c.ts.length) / 3)];
    const sub = db.querier(a, z);
    const set = sub.select(false, undefined, Matcher.eq("__name__", METRIC), Matcher.eq("idx", String(s)));
    const got: number[] = [];
    while (set.next()) {
      const it = set.at().iterator();
      while (it.next()) got.push(it.atT());
      const it2 = set.at().iterator();
      if (it2.seek(z)) assert.equal(it2.atT(), z, `seek(${z}) on ${label(s)}`);
    }
    assert.deepEqual(
      got,
      c.ts.filter((t) => t >= a && t <= z),
      `range [${a}, ${z}] of ${label(s)}`,
    );
    sub.close();
  }
}

// ---- files ------------------------------------------------------------------------------------

const STORE_FILES = ["tsdb.sqlite", "tsdb.sqlite-wal", "blocks"];

/** Copies a store's files (a copy taken while it is open is a crash image; -shm is rebuilt). */
function copyStore(from: string, to: string): void {
  for (const name of STORE_FILES) {
    if (existsSync(join(from, name))) cpSync(join(from, name), join(to, name), { recursive: true });
  }
}

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tsdb-corrupt-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

function open(dir: string, logs: string[] = []): Tsdb {
  return Tsdb.open({ ...OPTIONS, dir, log: (m) => logs.push(m) } satisfies TsdbOptions);
}

/** Runs fn on the raw SQLite file (SQLite itself stays consistent; the store's checksums do not). */
function withSql<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dir, "tsdb.sqlite"), { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function flipped(blob: Buffer, at: number): Buffer {
  const out = Buffer.from(blob);
  out[at] ^= 0x5a;
  out[Math.min(out.length - 1, at + 1)] ^= 0xa5;
  return out;
}

/** Series index of a series id, from the series table. */
function idxOfSeriesId(sql: Database.Database, id: number): number {
  const row = sql.prepare("SELECT labels FROM series WHERE id = ?").get(id) as { labels: string };
  const flat = JSON.parse(row.labels) as string[];
  return Number(flat[flat.indexOf("idx") + 1]);
}

// ---- the watchdog -------------------------------------------------------------------------------

/**
 * A thread that kills the process when the main thread does not disarm it in time: a synchronous
 * endless loop in Tsdb.open cannot be interrupted by the test runner's own timeout.
 */
class Watchdog {
  private readonly worker = new Worker(
    `const { parentPort } = require("node:worker_threads");
     const { writeSync } = require("node:fs");
     let timer = null;
     parentPort.on("message", (m) => {
       clearTimeout(timer);
       if (m.what) timer = setTimeout(() => {
         writeSync(2, "\\nWATCHDOG: " + m.what + " did not return within " + m.ms + " ms; killing the test process\\n");
         process.kill(process.pid, "SIGKILL");
       }, m.ms);
     });`,
    { eval: true },
  );

  constructor() {
    this.worker.unref();
  }

  guard<T>(what: string, fn: () => T): T {
    this.worker.postMessage({ what, ms: WATCHDOG_MS });
    try {
      return fn();
    } finally {
      this.worker.postMessage({});
    }
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

// ---- the cases ----------------------------------------------------------------------------------

interface Base {
  dir: string;
  written: Data;
}

interface Expectation {
  /** Exactly what the damaged store must serve. */
  exact?: Data;
  /**
   * Written samples that may be served on top of `exact`, with their exact values: data the damage
   * hit in one place (e.g. a log record) that also sits intact elsewhere (a chunk written later).
   */
  mayAlsoHave?: Data;
  /** Loss that cannot be detected (SQLite dropping the tail of its own -wal): batches of `prefixOf` form a prefix. */
  prefixOf?: { batches: number[]; atLeast: number };
  /** The least share of the written samples that must survive (default: none). */
  minKept?: number;
  /** Further checks on the first open. */
  check?: (db: Tsdb, read: ReadResult, logs: string[]) => void;
}

let watchdog: Watchdog;
let clean: Base;
let crash: Base;
let newData: Data;
const canaryTs = [0, 1, 2, 3, 4].map((i) => T0 + 39 * 10_000 + i * 1000);
const canaryData: Data = new Map([
  [CANARY, { ts: canaryTs, hi: [0x7ff00000, 0, 0x80000000, 0x3ff00000, 0xfff80000], lo: [2, 1, 0, 0, 7] }],
]);

function lossReported(db: Tsdb, read: ReadResult): boolean {
  const r = db.recovery;
  return (
    r.salvage !== null ||
    r.lostSeries + r.lostHeads + r.lostWalRecords + r.orphanSamples + r.lostChunks > 0 ||
    read.warnings.length > 0 ||
    read.iteratorErrors.length > 0
  );
}

function recoverySummary(db: Tsdb): string {
  const skip = new Set(["durationMs", "phasesMs", "movedTo"]);
  return JSON.stringify(db.recovery, (k, v) => (skip.has(k) ? undefined : v));
}

function appendCanary(db: Tsdb): void {
  const app = db.appender();
  const c = canaryData.get(CANARY)!;
  for (let i = 0; i < c.ts.length; i++) {
    u32[0] = c.lo[i];
    u32[1] = c.hi[i];
    app.append(0, canaryLabels, c.ts[i], f64[0]);
  }
  app.commit();
}

async function runCase(
  t: TestContext,
  name: string,
  base: Base,
  damage: (dir: string) => Expectation | undefined,
): Promise<void> {
  const dir = tempDir("case");
  copyStore(base.dir, dir);
  const expect = damage(dir) ?? {};
  const total = count(base.written);

  // 1. Open the damaged store.
  const logs: string[] = [];
  let db: Tsdb;
  try {
    db = watchdog.guard(`${name}: Tsdb.open`, () => open(dir, logs));
  } catch (err) {
    // Allowed only as a clear StorageError; everything below needs an open store.
    assert.ok(err instanceof StorageError, `${name}: Tsdb.open threw ${(err as Error).stack}`);
    assert.match((err as Error).message, /tsdb\.sqlite/, `${name}: the error should name the file`);
    t.diagnostic(`${name}: Tsdb.open refused with: ${(err as Error).message}`);
    return;
  }
  let read1: ReadResult;
  try {
    read1 = watchdog.guard(`${name}: first read`, () => readAll(db));
    assert.deepEqual(read1.problems, [], `${name}: broken invariants after recovery`);
    assert.deepEqual(
      notWritten(read1.data, base.written),
      [],
      `${name}: served samples that were never written`,
    );
    watchdog.guard(`${name}: queries`, () => exerciseQueries(db, read1.data));
    const kept = count(read1.data);
    t.diagnostic(
      `${name}: kept ${kept} of ${total} samples; recovery ${recoverySummary(db)}; ${read1.warnings.length} read warnings`,
    );
    if (expect.prefixOf) {
      // SQLite cannot tell a cut -wal from an earlier crash: the loss is whole commits at the end.
      const present = expect.prefixOf.batches.map((b) => {
        const want = batchesData([b]);
        const found = count(filter(read1.data, (s, t) => indexOf(want.get(s)?.ts ?? [], t) >= 0));
        assert.ok(
          found === 0 || found === count(want),
          `${name}: batch ${b} is partly present (${found} samples)`,
        );
        return found > 0;
      });
      const k = present.indexOf(false);
      const pattern = present.map(Number).join("");
      assert.ok(
        k < 0 || present.slice(k).every((p) => !p),
        `${name}: batches present ${pattern} are not a prefix`,
      );
      assert.ok(
        (k < 0 ? present.length : k) >= expect.prefixOf.atLeast,
        `${name}: lost batches of the main file`,
      );
    } else if (kept < total) {
      assert.ok(
        lossReported(db, read1),
        `${name}: ${total - kept} samples are gone but neither db.recovery nor the read warnings say so; logs:\n${logs.join("\n")}`,
      );
    }
    if (expect.minKept !== undefined) {
      assert.ok(
        kept >= expect.minKept * total,
        `${name}: kept only ${kept} of ${total} samples (expected at least ${expect.minKept * 100}%)`,
      );
    }
    if (expect.exact) {
      const extra = expect.mayAlsoHave;
      const inExtra = (s: number, t: number) =>
        extra !== undefined && indexOf(extra.get(s)?.ts ?? [], t) >= 0;
      assert.deepEqual(
        differences(
          filter(read1.data, (s, t) => !inExtra(s, t)),
          expect.exact,
        ),
        [],
        `${name}: not exactly the undamaged samples`,
      );
      if (extra) {
        const served = filter(read1.data, inExtra);
        assert.deepEqual(
          differences(
            served,
            filter(extra, (s, t) => indexOf(served.get(s)?.ts ?? [], t) >= 0),
          ),
          [],
          `${name}: recovered samples differ from what was written`,
        );
      }
    }
    expect.check?.(db, read1, logs);

    // 2. New commits: a brand-new series first (it gets the next free series id), then more batches.
    watchdog.guard(`${name}: new commits`, () => {
      appendCanary(db);
      const refs = new Map<number, number>();
      for (const b of NEW_BATCHES) commitBatch(db, generateBatch(SEED, b), refs);
    });
  } catch (err) {
    db.close();
    throw err;
  }
  const crashDir = tempDir("crash-image");
  copyStore(dir, crashDir); // the files as a crash right now would leave them
  db.close();

  // 3. Both a clean restart and a restart from the crash image serve the new commits and,
  //    for the old range, exactly what the first open served.
  const writtenNow = merge(base.written, newData, canaryData);
  const newAndCanary = merge(newData, canaryData);
  const oldRange = (d: Data) => filter(d, (s, t) => s !== CANARY && t < T0 + 39 * 10_000);
  for (const [what, where] of [
    ["clean restart", dir],
    ["restart after a crash", crashDir],
  ] as const) {
    const logs2: string[] = [];
    const db2 = watchdog.guard(`${name}: ${what}: Tsdb.open`, () => open(where, logs2));
    try {
      const read2 = watchdog.guard(`${name}: ${what}: read`, () => readAll(db2));
      assert.deepEqual(read2.problems, [], `${name}, ${what}: broken invariants`);
      assert.deepEqual(
        notWritten(read2.data, writtenNow),
        [],
        `${name}, ${what}: served samples never written`,
      );
      const newPart = filter(read2.data, (s, t) => s === CANARY || t >= T0 + 39 * 10_000);
      assert.deepEqual(
        differences(newPart, newAndCanary),
        [],
        `${name}, ${what}: the commits made after recovery are not all there (recovery ${recoverySummary(db2)})`,
      );
      assert.deepEqual(
        differences(oldRange(read2.data), oldRange(read1.data)),
        [],
        `${name}, ${what}: the old data changed since the first open`,
      );
    } finally {
      db2.close();
    }
  }
}

describe("a damaged tsdb.sqlite", () => {
  before(() => {
    watchdog = new Watchdog();
    newData = batchesData(NEW_BATCHES);
    // Cleanly closed: everything lives in the main file (heads and chunks; the log is empty).
    const cleanDir = tempDir("base-clean");
    let db = open(cleanDir);
    const refs = new Map<number, number>();
    for (let b = 0; b < CLEAN_BATCHES; b++) {
      commitBatch(db, generateBatch(SEED, b), refs);
      if (b % 7 === 6) db.checkpoint();
    }
    db.close();
    clean = { dir: cleanDir, written: batchesData(range(0, CLEAN_BATCHES)) };

    // A crash image: batches 0..19 in the main file, 20..24 checkpointed in the -wal file, 25..34
    // only as log records (also in the -wal file).
    const crashBuild = tempDir("base-crash-build");
    db = open(crashBuild);
    refs.clear();
    for (let b = 0; b < CRASH_CLEAN; b++) commitBatch(db, generateBatch(SEED, b), refs);
    db.close();
    db = open(crashBuild);
    refs.clear();
    for (let b = CRASH_CLEAN; b < CRASH_BATCHES; b++) {
      commitBatch(db, generateBatch(SEED, b), refs);
      if (b === CRASH_CHECKPOINTED - 1) db.checkpoint();
    }
    const crashDir = tempDir("base-crash");
    copyStore(crashBuild, crashDir);
    db.close();
    crash = { dir: crashDir, written: batchesData(range(0, CRASH_BATCHES)) };
    assert.ok(statSync(join(crashDir, "tsdb.sqlite-wal")).size > 0, "the crash image has a -wal file");
    // Looked at on a copy: closing the last SQLite connection would fold the -wal file into the main file.
    const look = tempDir("base-crash-look");
    copyStore(crashDir, look);
    withSql(look, (sql) => {
      const n = (sql.prepare("SELECT count(*) AS n FROM wal").get() as { n: number }).n;
      assert.equal(n, CRASH_BATCHES - CRASH_CHECKPOINTED, "log records in the crash image");
    });
  });

  after(async () => {
    await watchdog.stop();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });

  // (a) truncation
  for (const fraction of [0.1, 0.5, 0.9]) {
    test(`main file cut to ${fraction * 100}% after a clean close`, async (t) => {
      await runCase(t, `cut to ${fraction}`, clean, (dir) => {
        const p = join(dir, "tsdb.sqlite");
        truncateSync(p, Math.floor(statSync(p).size * fraction));
        return undefined;
      });
    });
  }
  test("main file loses its last page after a clean close", async (t) => {
    await runCase(t, "last page", clean, (dir) => {
      const p = join(dir, "tsdb.sqlite");
      truncateSync(p, statSync(p).size - 4096);
      // Salvage reads "in small windows so one bad page costs only the rows on it": losing one
      // page of a few hundred must not cost everything.
      return { minKept: 0.5 };
    });
  });
  test("main file cut inside its last page after a clean close", async (t) => {
    await runCase(t, "inside last page", clean, (dir) => {
      const p = join(dir, "tsdb.sqlite");
      truncateSync(p, statSync(p).size - 1000);
      return undefined;
    });
  });
  test("main file of a crash image cut in half, -wal intact", async (t) => {
    await runCase(t, "crash image, main cut", crash, (dir) => {
      const p = join(dir, "tsdb.sqlite");
      truncateSync(p, Math.floor(statSync(p).size / 2));
      return undefined;
    });
  });
  for (const fraction of [0, 0.3, 0.6, 0.95]) {
    test(`-wal file of a crash image cut to ${fraction * 100}%`, async (t) => {
      await runCase(t, `-wal cut to ${fraction}`, crash, (dir) => {
        const p = join(dir, "tsdb.sqlite-wal");
        truncateSync(p, Math.floor(statSync(p).size * fraction));
        return { prefixOf: { batches: range(0, CRASH_BATCHES), atLeast: CRASH_CLEAN } };
      });
    });
  }

  // (b) byte ranges overwritten in the middle
  const overwrites: { name: string; seed: number; ranges: number; len: number }[] = [
    { name: "8 bytes", seed: 1, ranges: 1, len: 8 },
    { name: "100 bytes", seed: 2, ranges: 1, len: 100 },
    { name: "one page's worth", seed: 3, ranges: 1, len: 4096 },
    { name: "4 × 300 bytes", seed: 4, ranges: 4, len: 300 },
    { name: "32 × 4 bytes", seed: 5, ranges: 32, len: 4 },
    { name: "3 × 2000 bytes", seed: 6, ranges: 3, len: 2000 },
  ];
  for (const o of overwrites) {
    test(`random bytes over ${o.name} in the middle of the main file`, async (t) => {
      await runCase(t, `overwrite ${o.name}`, clean, (dir) => {
        const p = join(dir, "tsdb.sqlite");
        const buf = readFileSync(p);
        const r = rng(o.seed);
        for (let k = 0; k < o.ranges; k++) {
          const at = Math.floor(buf.length * 0.1) + (r() % Math.floor(buf.length * 0.8));
          for (let i = at; i < Math.min(buf.length, at + o.len); i++) buf[i] = r() & 0xff;
        }
        writeFileSync(p, buf);
        return undefined;
      });
    });
  }
  test("random bytes in the middle of a crash image's -wal file", async (t) => {
    await runCase(t, "-wal overwrite", crash, (dir) => {
      const p = join(dir, "tsdb.sqlite-wal");
      const buf = readFileSync(p);
      const r = rng(7);
      const at = Math.floor(buf.length / 2);
      for (let i = at; i < at + 64; i++) buf[i] = r() & 0xff;
      writeFileSync(p, buf);
      return { prefixOf: { batches: range(0, CRASH_BATCHES), atLeast: CRASH_CLEAN } };
    });
  });

  // (c) one row altered through SQL: SQLite is fine, the store's checksum is not
  test("one chunk blob altered", async (t) => {
    await runCase(t, "chunk blob", clean, (dir) => {
      const hit = withSql(dir, (sql) => {
        const tables = (
          sql
            .prepare(
              "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chunks_%' ORDER BY name",
            )
            .all() as {
            name: string;
          }[]
        ).map((r) => r.name);
        assert.ok(tables.length >= 2, `block tables ${tables}`);
        const table = tables[1];
        const rows = sql
          .prepare(`SELECT series_id, max_t, min_t, data FROM ${table} ORDER BY series_id, max_t`)
          .all() as {
          series_id: number;
          max_t: number;
          min_t: number;
          data: Buffer;
        }[];
        const row = rows[Math.floor(rows.length / 2)];
        sql
          .prepare(`UPDATE ${table} SET data = ? WHERE series_id = ? AND max_t = ?`)
          .run(flipped(row.data, Math.floor(row.data.length / 2)), row.series_id, row.max_t);
        return { idx: idxOfSeriesId(sql, row.series_id), minT: row.min_t, maxT: row.max_t };
      });
      return {
        exact: filter(clean.written, (s, t) => !(s === hit.idx && t >= hit.minT && t <= hit.maxT)),
        check: (_db, read) =>
          assert.ok(read.warnings.length > 0, "the skipped chunk shows up as a read warning"),
      };
    });
  });

  test("one chunk row's time range altered through SQL", async (t) => {
    await runCase(t, "chunk max_t", clean, (dir) => {
      withSql(dir, (sql) => {
        const tables = sql
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chunks_%' ORDER BY name",
          )
          .all() as { name: string }[];
        for (const { name: table } of tables) {
          // A series with two chunks in this block: its newer chunk now claims to end before the older one starts.
          const rows = sql
            .prepare(
              `SELECT series_id, max_t, min_t FROM ${table} WHERE series_id = (SELECT series_id FROM ${table} GROUP BY series_id HAVING count(*) >= 2 ORDER BY series_id LIMIT 1) ORDER BY max_t`,
            )
            .all() as { series_id: number; max_t: number; min_t: number }[];
          if (rows.length < 2) continue;
          const newest = rows[rows.length - 1];
          sql
            .prepare(`UPDATE ${table} SET max_t = ? WHERE series_id = ? AND max_t = ?`)
            .run(rows[0].min_t - 1, newest.series_id, newest.max_t);
          return;
        }
        assert.fail("no series has two chunks in one block");
      });
      return undefined;
    });
  });

  test("one head checkpoint row altered", async (t) => {
    await runCase(t, "head row", clean, (dir) => {
      const idx = withSql(dir, (sql) => {
        const rows = sql
          .prepare("SELECT series_id, data FROM head WHERE length(data) > 60 ORDER BY series_id")
          .all() as { series_id: number; data: Buffer }[];
        const row = rows[Math.floor(rows.length / 2)];
        sql.prepare("UPDATE head SET data = ? WHERE series_id = ?").run(flipped(row.data, 30), row.series_id);
        return idxOfSeriesId(sql, row.series_id);
      });
      return {
        check: (db, read) => {
          assert.equal(db.recovery.lostHeads, 1, "lostHeads");
          // That series keeps a strict prefix of its samples (its persisted chunks); all others are whole.
          const w = clean.written.get(idx)!;
          const g = read.data.get(idx) ?? { ts: [], hi: [], lo: [] };
          assert.ok(g.ts.length < w.ts.length, "the damaged head's samples are not served");
          assert.deepEqual(g.ts, w.ts.slice(0, g.ts.length), "a prefix of the damaged series");
          assert.deepEqual(
            differences(
              filter(read.data, (s) => s !== idx),
              filter(clean.written, (s) => s !== idx),
            ),
            [],
            "other series are whole",
          );
        },
      };
    });
  });

  test("one log record altered (crash image)", async (t) => {
    await runCase(t, "log record", crash, (dir) => {
      const damagedBatch = withSql(dir, (sql) => {
        const rows = sql.prepare("SELECT seq, record FROM wal ORDER BY seq").all() as {
          seq: number;
          record: Buffer;
        }[];
        const k = Math.floor(rows.length / 2);
        sql.prepare("UPDATE wal SET record = ? WHERE seq = ?").run(flipped(rows[k].record, 100), rows[k].seq);
        return CRASH_CHECKPOINTED + k;
      });
      const lost = batchesData([damagedBatch]);
      return {
        exact: filter(crash.written, (s, t) => !(lost.get(s) && indexOf(lost.get(s)!.ts, t) >= 0)),
        // Samples of the damaged record that were also cut into a chunk before the crash come back.
        mayAlsoHave: filter(crash.written, (s, t) => !!lost.get(s) && indexOf(lost.get(s)!.ts, t) >= 0),
        check: (db) => assert.equal(db.recovery.lostWalRecords, 1, "lostWalRecords"),
      };
    });
  });

  test("one series row altered (the newest series)", async (t) => {
    await runCase(t, "series row", clean, (dir) => {
      const idx = withSql(dir, (sql) => {
        const row = sql.prepare("SELECT id, labels FROM series ORDER BY id DESC LIMIT 1").get() as {
          id: number;
          labels: string;
        };
        const idx = idxOfSeriesId(sql, row.id);
        sql
          .prepare("UPDATE series SET labels = ? WHERE id = ?")
          .run(row.labels.replace("job-", "jab-"), row.id);
        return idx;
      });
      return {
        exact: filter(clean.written, (s) => s !== idx),
        check: (db) => assert.equal(db.recovery.lostSeries, 1, "lostSeries"),
      };
    });
  });

  // (d) not a database at all
  test("garbage header", async (t) => {
    await runCase(t, "garbage header", clean, (dir) => {
      const p = join(dir, "tsdb.sqlite");
      const buf = readFileSync(p);
      const r = rng(8);
      for (let i = 0; i < 100; i++) buf[i] = r() & 0xff;
      writeFileSync(p, buf);
      return undefined;
    });
  });
  test("text file instead of a database", async (t) => {
    await runCase(t, "text file", clean, (dir) => {
      writeFileSync(join(dir, "tsdb.sqlite"), "this is not a database\n".repeat(1000));
      return undefined;
    });
  });

  test("the damaged file is kept aside, not deleted", () => {
    // Every salvage above moved the damaged file next to the new one.
    const kept = tempDirs.flatMap((d) => readdirSync(d).filter((f) => f.includes(".corrupt-")));
    assert.ok(kept.length > 0, "no damaged file was kept");
  });
});
