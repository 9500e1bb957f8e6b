/**
 * The embedded TSDB: an in-memory head (index + Gorilla chunks) over a SQLite file that holds the
 * durable log, checkpoints of the head and the chunks of blocks not sealed yet, and immutable
 * block files (block/, docs/block-format.md) for sealed time ranges.
 *
 * Write path: append() checks each sample → commit() writes new series rows, the batch's log
 * record and any chunks cut earlier in ONE SQLite transaction → only then are the samples applied
 * to the head. A failed transaction leaves memory as it was.
 *
 * Recovery: series rows → head checkpoints → replay of log records newer than the checkpoint.
 * Replay runs the same apply code as commit, so chunks come out bit-identical.
 *
 * Sealing: once the head is half a block past a block's end, that block's table becomes a block
 * file (sealCompleteBlocks); appends before it are refused from then on.
 *
 * Why one file of ~1,100 lines: commit, recovery, checkpoints, sealing, retention and eviction
 * share the head's private state and its one invariant (memory changes only after the transaction
 * that makes it durable), and splitting them would expose that state to several files. The
 * segment log that replaces the SQLite log is where it splits next.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type Appender,
  type CommitResult,
  formatLabels,
  isDiskFullError,
  type Label,
  type Labels,
  labelsEqual,
  labelsHash,
  type Matcher,
  normalizeLabels,
  type Querier,
  type SeriesRef,
  type Storage,
  StorageError,
} from "../storage/index.js";
import { type AppendTarget, type BatchBuffers, TsdbAppender } from "./appender.js";
import { BlockSet, type UnreadableBlock } from "./block/block-set.js";
import { type BlockJob, type BlockJobResult, runBlockJobInWorker } from "./block/jobs.js";
import { ENCODER_STATE_BYTES, MAX_SAMPLES_PER_CHUNK, withPadding, XorEncoder } from "./chunk/xor.js";
import { LabelIndex } from "./label-index.js";
import { MemSeries, SeriesTimes } from "./mem-series.js";
import { DAY_MS, HOUR_MS, type ResolvedOptions, resolveOptions, type TsdbOptions } from "./options.js";
import { type PersistedChunk, type QueryTarget, TsdbQuerier } from "./querier.js";
import { type SalvageReport, salvage } from "./salvage.js";
import {
  blockTableName,
  chunkSeed,
  isCorruption,
  labelsCrc,
  SqliteStore,
  seal,
  sealInPlace,
  unseal,
} from "./sqlite-store.js";
import { decodeWalRecord, encodeWalRecord } from "./wal-record.js";

export interface RecoveryReport {
  durationMs: number;
  /** Where the time went: structural check, series rows, head checkpoints, log replay. */
  phasesMs: { verify: number; series: number; heads: number; wal: number };
  series: number;
  /** Samples restored into open head chunks from checkpoints. */
  checkpointSamples: number;
  walRecords: number;
  walSamples: number;
  /** Damaged rows found while loading (each skipped, never served). */
  lostSeries: number;
  lostHeads: number;
  lostWalRecords: number;
  /** Log samples whose series row was lost. */
  orphanSamples: number;
  /** Set when the file was damaged beyond SQLite's own recovery and rebuilt. */
  salvage: SalvageReport | null;
  /** Chunks sealing left out of block files since the store opened (damaged, or of a lost series). */
  lostChunks: number;
  /** Block files opened, and those left on disk unread because they are damaged. */
  blocks: number;
  unreadableBlocks: UnreadableBlock[];
}

export interface TsdbStats {
  series: number;
  headChunks: number;
  memoryClosedChunks: number;
  pendingChunks: number;
  /** Block numbers (of blockDurationMs) holding persisted chunks, in tables or block files. */
  blocks: number[];
  /** The block files, oldest first. */
  blockFiles: {
    name: string;
    minT: number;
    maxT: number;
    series: number;
    samples: number;
    bytes: number;
    level: number;
  }[];
  /** Samples before this time are in block files: appends there are refused. */
  sealedBefore: number;
  /** Damaged chunks (or chunks of lost series) that sealing left out of block files. */
  chunksLostInSeal: number;
  minValidTime: number;
  headMaxT: number;
  lastSeq: number;
  checkpointSeq: number;
  walBytesSinceCheckpoint: number;
  droppedOnApply: number;
}

/** Head row: newest time and value (16 bytes), then, if a chunk is open, its encoder state and bytes. */
const HEAD_STATE_BYTES = 16;
/** Series and how many of their closed chunks a transaction wrote. */
type Written = Array<[MemSeries, number]>;
// Copies a value's bits without going through a JS number store that might normalise a NaN.
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

export class Tsdb implements Storage, AppendTarget, QueryTarget {
  readonly options: ResolvedOptions;
  readonly recovery: RecoveryReport;
  private store: SqliteStore;
  private readonly blockSet: BlockSet;
  /**
   * Time span of one block table, and of a block sealed from it: the data dir's own (recorded in
   * its meta table), else the option. A dir written before that record used 1 day.
   */
  private blockMs: number;
  /** Blocks of one aligned window this long are merged into one. */
  private compactRangeMs: number;
  /** Everything before this is in block files (or was, if retention dropped it). */
  private sealedBefore = Number.NEGATIVE_INFINITY;
  /** The oldest sample applied or loaded: no seal boundary below it seals anything. */
  private oldestT = Number.POSITIVE_INFINITY;
  private sealScheduled = false;
  /** The block job running on a worker thread (one at a time). */
  private blockJob: { cancel: () => void; done: Promise<void> } | null = null;
  private readonly index = new LabelIndex();
  /** Series by label hash; a hash shared by several label sets maps to an array of them. */
  private readonly byHash = new Map<number, MemSeries | MemSeries[]>();
  private byId: (MemSeries | undefined)[] = [];
  private readonly times = new SeriesTimes();
  private appendVs = new Float64Array(1024);
  private lastVs = new Float64Array(1024);
  private nextId = 1;
  private headMaxT = Number.NEGATIVE_INFINITY;
  private lastSeq = 0;
  private checkpointSeq = 0;
  private walBytesSinceCheckpoint = 0;
  private lastCheckpointAt = 0;
  /** Series with closed chunks not yet written to their block tables. */
  private pending: MemSeries[] = [];
  private dirtyHeads: MemSeries[] = [];
  private droppedOnApply = 0;
  /** Replayed samples whose series row was lost. */
  private orphanSamples = 0;
  private readonly bufferPool: BatchBuffers[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /**
   * Set when opening could not raise the log's sequence above the checkpoint (full disk): the
   * next write transaction does it first, so no new record is mistaken for a checkpointed one.
   */
  private walSequenceFloor: number | null = null;

  private constructor(
    options: ResolvedOptions,
    store: SqliteStore,
    blockSet: BlockSet,
    report: RecoveryReport,
  ) {
    this.options = options;
    this.store = store;
    this.blockSet = blockSet;
    this.recovery = report;
    this.blockMs = options.blockDurationMs;
    this.compactRangeMs = options.blockDurationMs;
  }

  static open(options: TsdbOptions): Tsdb {
    const o = resolveOptions(options);
    mkdirSync(o.dir, { recursive: true });
    const path = join(o.dir, "tsdb.sqlite");
    const started = performance.now();
    const report: RecoveryReport = {
      durationMs: 0,
      phasesMs: { verify: 0, series: 0, heads: 0, wal: 0 },
      series: 0,
      checkpointSamples: 0,
      walRecords: 0,
      walSamples: 0,
      lostSeries: 0,
      lostHeads: 0,
      lostWalRecords: 0,
      orphanSamples: 0,
      salvage: null,
      lostChunks: 0,
      blocks: 0,
      unreadableBlocks: [],
    };
    const { set: blockSet, report: blockReport } = BlockSet.open(o.dir);
    report.blocks = blockReport.opened;
    report.unreadableBlocks = blockReport.unreadable;
    for (const u of blockReport.unreadable) {
      o.log(`tsdb: block ${u.name} cannot be read and is skipped (left on disk): ${u.reason}`, "warn");
    }
    const rebuild = (why: string): SqliteStore => {
      o.log(`tsdb: ${path} is damaged (${why}); rebuilding it from the rows that can still be read`, "warn");
      const { store, report: s } = salvage(path, o.sync, o.maxDiskBytes);
      report.salvage = s;
      o.log(
        `tsdb: salvage kept ${s.seriesKept} series, ${s.chunksKept} chunks, ${s.walRecordsKept} log records; ` +
          `lost ${s.seriesLost} series, ${s.chunksLost} chunks, ${s.headsLost} head checkpoints, ` +
          `${s.walRecordsLost} log records, ${s.readErrors} unreadable ranges; damaged file kept at ${s.movedTo}`,
        "warn",
      );
      return store;
    };
    let store: SqliteStore;
    try {
      store = new SqliteStore(path, o.sync, o.maxDiskBytes, o.log);
      if (o.verifyOnOpen) {
        const verifyStart = performance.now();
        const problems = store.quickCheck();
        report.phasesMs.verify = performance.now() - verifyStart;
        if (problems.length) {
          store.close();
          store = rebuild(problems.slice(0, 3).join("; "));
        }
      }
    } catch (err) {
      const cause = (err as Error).cause ?? err;
      if (!isCorruption(cause)) throw err;
      store = rebuild((cause as Error).message);
    }
    let db = new Tsdb(o, store, blockSet, report);
    try {
      db.load();
    } catch (err) {
      if (!isCorruption(err)) {
        blockSet.close();
        throw err;
      }
      store.close();
      const salvaged = rebuild((err as Error).message);
      db = new Tsdb(o, salvaged, blockSet, { ...report, salvage: report.salvage });
      db.load();
    }
    db.recovery.durationMs = performance.now() - started;
    const r = db.recovery;
    o.log(
      `tsdb: opened ${path} in ${r.durationMs.toFixed(0)} ms: ${r.series} series, ${r.checkpointSamples} head samples from checkpoint, ` +
        `${r.walSamples} samples replayed from ${r.walRecords} log records`,
      "info",
    );
    if (r.lostSeries || r.lostHeads || r.lostWalRecords || r.orphanSamples) {
      o.log(
        `tsdb: damaged data skipped: ${r.lostSeries} series rows, ${r.lostHeads} head checkpoints, ` +
          `${r.lostWalRecords} log records, ${r.orphanSamples} samples of unknown series`,
        "warn",
      );
    }
    // Start from a fresh checkpoint so a crash loop never replays the same log twice. On a full
    // disk it waits for the maintenance timer: the log it would fold in stays, nothing is lost.
    if (r.walRecords > 0 || r.salvage) {
      try {
        db.checkpoint();
      } catch (err) {
        if (!isDiskFullError(err)) throw err;
        o.log(
          `tsdb: the disk is full: the start-up checkpoint is deferred (${r.walRecords} log records stay and are kept until it succeeds): ${(err as Error).message}`,
          "warn",
        );
      }
    }
    // A dir of the earlier format, or one left alone past a block's end, seals its complete
    // block tables now rather than a maintenance period later.
    try {
      db.sealCompleteBlocks();
    } catch (err) {
      o.log(`tsdb: sealing blocks at start-up failed, will retry: ${(err as Error).message}`, "warn");
    }
    if (o.maintenanceIntervalMs > 0) {
      db.timer = setInterval(() => db.maintainSafely(), o.maintenanceIntervalMs);
      db.timer.unref();
    }
    return db;
  }

  // ---- loading -------------------------------------------------------------------------------

  private load(): void {
    const report = this.recovery;
    const t0 = performance.now();
    this.loadBlockLayout();
    for (const row of this.store.allSeries()) {
      let labels: Labels;
      try {
        if (labelsCrc(row.labels, row.id) !== row.crc) throw new Error("checksum");
        // Stored label sets were normalised when written; the checksum vouches for them.
        const flat = JSON.parse(row.labels) as string[];
        const pairs: Label[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) pairs.push({ name: flat[i], value: flat[i + 1] });
        labels = pairs;
      } catch {
        report.lostSeries++;
        continue;
      }
      const s = this.addSeries(row.id, labels);
      s.persisted = true;
      s.firstT = row.first_t;
      if (row.first_t < this.oldestT) this.oldestT = row.first_t;
      report.series++;
    }
    this.restoreSeriesFromBlocks();
    report.phasesMs.series = performance.now() - t0;
    for (const row of this.store.iterateHeads()) {
      const s = this.byId[row.series_id];
      const body = s ? unseal(row.data, row.series_id) : null;
      if (!s || !body || body.length < HEAD_STATE_BYTES) {
        report.lostHeads++;
        continue;
      }
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      s.lastT = view.getFloat64(0, true);
      s.appendT = s.lastT;
      this.lastVs[s.id] = view.getFloat64(8, true);
      this.appendVs[s.id] = this.lastVs[s.id];
      if (body.length > HEAD_STATE_BYTES) {
        try {
          const state = HEAD_STATE_BYTES;
          const chunk = body.subarray(HEAD_STATE_BYTES + ENCODER_STATE_BYTES);
          if (chunk.length < 3) throw new Error("head chunk too short");
          s.head = XorEncoder.restore(view, state, chunk);
          s.headBlockEnd = this.blockEnd(s.head.minT);
          report.checkpointSamples += s.head.count;
        } catch {
          report.lostHeads++;
          s.head = null;
        }
      }
      if (s.lastT > this.headMaxT) this.headMaxT = s.lastT;
    }
    // Chunks written since the checkpoint are on disk already: an open chunk they cover is dropped
    // and log samples up to their end are not applied again. Without this, a log record lost to
    // damage would make replay cut different chunks that overlap the ones on disk.
    const floors = this.store.recentChunks();
    for (const [id, maxT] of floors) {
      const s = this.byId[id];
      if (!s) continue;
      if (s.head && s.head.minT <= maxT) {
        report.checkpointSamples -= s.head.count;
        s.head = null;
      }
      if (s.lastT < maxT) {
        s.lastT = maxT;
        s.appendT = maxT;
        if (maxT > this.headMaxT) this.headMaxT = maxT;
      }
    }
    report.phasesMs.heads = performance.now() - t0 - report.phasesMs.series;
    this.checkpointSeq = this.store.getMeta("checkpoint_seq") ?? 0;
    this.lastSeq = this.checkpointSeq;
    try {
      this.store.ensureWalSequenceAbove(this.checkpointSeq);
    } catch (err) {
      if (!isDiskFullError(err)) throw err;
      // Done by the first write transaction instead, which cannot succeed before there is space.
      this.walSequenceFloor = this.checkpointSeq;
    }
    let expected = this.checkpointSeq + 1;
    let reuse: ReturnType<typeof decodeWalRecord> | undefined;
    for (const { seq, record } of this.store.iterateWal(this.checkpointSeq)) {
      if (seq > expected) report.lostWalRecords += seq - expected;
      expected = seq + 1;
      this.lastSeq = seq;
      let batch: ReturnType<typeof decodeWalRecord>;
      try {
        batch = decodeWalRecord(record, reuse);
        reuse = batch;
      } catch {
        report.lostWalRecords++;
        continue;
      }
      for (let i = 0; i < batch.count; i++) if (batch.refs[i] >= this.nextId) this.nextId = batch.refs[i] + 1;
      const kept = floors.size
        ? this.dropBelowFloors(floors, batch.count, batch.refs, batch.ts, batch.vs)
        : batch.count;
      this.apply(kept, batch.refs, batch.ts, batch.vs);
      report.walRecords++;
      report.walSamples += batch.count;
      this.walBytesSinceCheckpoint += record.length;
    }
    report.orphanSamples = this.orphanSamples;
    // Ids are never reused, even those of series whose rows were lost: their chunks still carry them.
    this.nextId = Math.max(
      this.nextId,
      this.store.maxSeriesIdAnywhere() + 1,
      this.blockSet.maxSeriesId() + 1,
    );
    report.phasesMs.wal = performance.now() - t0 - report.phasesMs.series - report.phasesMs.heads;
    // A series still without a newest time had its checkpoint damaged: learn it from persisted
    // chunks, so new samples can never overlap what is on disk.
    for (const s of this.byId) {
      if (s && s.lastT === Number.NEGATIVE_INFINITY && s.persisted) {
        const last = this.newestPersistedT(s);
        if (last !== null) {
          s.lastT = last;
          s.appendT = last;
          if (last > this.headMaxT) this.headMaxT = last;
        }
      }
    }
    this.lastCheckpointAt = this.options.now();
  }

  /**
   * Compacts a replayed batch to the samples newer than their series' floor (the end of chunks
   * already on disk); a sample exactly at the floor still tells the newest value.
   */
  private dropBelowFloors(
    floors: Map<number, number>,
    n: number,
    refs: Uint32Array,
    ts: Float64Array,
    vs: Float64Array,
  ): number {
    let k = 0;
    for (let i = 0; i < n; i++) {
      const floor = floors.get(refs[i]);
      if (floor !== undefined && ts[i] <= floor) {
        if (ts[i] === floor) this.lastVs[refs[i]] = vs[i];
        continue;
      }
      refs[k] = refs[i];
      ts[k] = ts[i];
      vs[k] = vs[i];
      k++;
    }
    return k;
  }

  private newestPersistedT(s: MemSeries): number | null {
    const blocks = this.store.blocks();
    for (let i = blocks.length - 1; i >= 0; i--) {
      const rows = this.store.readChunks(blocks[i], s.id, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      if (rows.length) return rows[rows.length - 1][1];
    }
    const files = this.blockSet.blocks;
    for (let i = files.length - 1; i >= 0; i--) {
      const pos = files[i].find(s.id);
      if (pos < 0) continue;
      const chunks = files[i].positions(pos);
      if (chunks.length) return chunks[chunks.length - 1].maxT;
    }
    return null;
  }

  /**
   * Series that block files hold but the series table lost (damaged rows, a salvaged file) come
   * back with the labels their newest block recorded, and their rows are written again.
   */
  private restoreSeriesFromBlocks(): void {
    // Without lost rows every block series is known, or was removed by retention (a compacted
    // block can outlive some of its series): bringing those back would undo retention.
    if (this.recovery.lostSeries === 0 && this.recovery.salvage === null) return;
    const restored: MemSeries[] = [];
    const files = this.blockSet.blocks;
    for (let b = files.length - 1; b >= 0; b--) {
      const r = files[b];
      for (let pos = 0; pos < r.seriesCount; pos++) {
        const id = r.seriesId(pos);
        if (this.byId[id] !== undefined) continue;
        const s = this.addSeries(id, r.labels(pos));
        s.persisted = true;
        s.firstT = r.meta.maxT;
        restored.push(s);
      }
    }
    if (restored.length === 0) return;
    for (const r of files) {
      for (const s of restored) {
        if (s.firstT <= r.meta.minT) continue;
        const pos = r.find(s.id);
        if (pos >= 0) s.firstT = Math.min(s.firstT, r.positions(pos)[0]?.minT ?? s.firstT);
      }
    }
    this.recovery.series += restored.length;
    this.recovery.lostSeries = Math.max(0, this.recovery.lostSeries - restored.length);
    try {
      this.store.transaction(() => {
        for (const s of restored) this.store.insertSeries(s.id, labelsJson(s.labels), s.firstT);
      });
    } catch (err) {
      if (!isDiskFullError(err)) throw err;
    }
    this.options.log(
      `tsdb: ${restored.length} series missing from tsdb.sqlite restored from block files`,
      "warn",
    );
  }

  /**
   * The block span of a dir that does not record it (written before it did, or its meta row was
   * lost): the first of the option, 1 day (the old default) and 2 h under which every table's
   * chunks lie inside the table's block.
   */
  private inferBlockMs(): number {
    const ranges = this.store.blocks().map((b) => ({ b, range: this.store.blockTimeRange(b) }));
    for (const D of [this.options.blockDurationMs, DAY_MS, 2 * HOUR_MS]) {
      if (ranges.every(({ b, range }) => range === null || (b * D <= range.minT && range.maxT < (b + 1) * D)))
        return D;
    }
    this.options.log(
      "tsdb: the block span of this data dir is unknown; its block tables may read wrongly",
      "warn",
    );
    return this.options.blockDurationMs;
  }

  /**
   * Learns the dir's block span and how far it is sealed, and drops block tables a block file
   * already holds (a seal interrupted between writing the block and dropping its table).
   */
  private loadBlockLayout(): void {
    const recorded = this.store.getMeta("block_duration_ms");
    this.blockMs = recorded ?? this.inferBlockMs();
    if (recorded === null) {
      try {
        this.store.setMeta("block_duration_ms", this.blockMs);
      } catch (err) {
        if (!isDiskFullError(err)) throw err;
      }
    }
    if (this.blockMs !== this.options.blockDurationMs && recorded !== null) {
      this.options.log(
        `tsdb: this data dir keeps blocks of ${this.blockMs} ms, not the ${this.options.blockDurationMs} ms asked for`,
        "info",
      );
    }
    // Merge a day's blocks (as Prometheus merges 2 h blocks), but never into a block longer than a
    // tenth of retention, which is deleted only once its newest sample is out of it.
    const tenth = Math.floor(this.options.retentionMs / 10 / this.blockMs) * this.blockMs;
    this.compactRangeMs = Math.max(this.blockMs, Math.min(DAY_MS, tenth));
    this.sealedBefore = Math.max(
      this.store.getMeta("sealed_before") ?? Number.NEGATIVE_INFINITY,
      this.blockSet.maxT(),
    );
    // Tables and blocks hold data from their start on: the series rows may not say so (restored).
    for (const b of this.store.blocks()) this.oldestT = Math.min(this.oldestT, b * this.blockMs);
    if (this.blockSet.blocks.length) this.oldestT = Math.min(this.oldestT, this.blockSet.blocks[0].meta.minT);
    const covered = this.store
      .blocks()
      .filter((b) => this.blockSet.covers(b * this.blockMs, (b + 1) * this.blockMs));
    if (covered.length) {
      try {
        this.store.transaction(() => {
          for (const b of covered) this.store.dropBlock(b);
        });
      } catch (err) {
        if (!isDiskFullError(err)) throw err;
      }
    }
  }

  // ---- series --------------------------------------------------------------------------------

  private addSeries(id: number, labels: Labels): MemSeries {
    const interned = labels.map((l) => this.index.internLabel(l.name, l.value));
    const s = new MemSeries(id, interned, this.times);
    const hash = labelsHash(interned);
    const clash = this.byHash.get(hash);
    if (clash === undefined) this.byHash.set(hash, s);
    else this.byHash.set(hash, Array.isArray(clash) ? [...clash, s] : [clash, s]);
    this.byId[id] = s;
    this.index.add(id, interned);
    if (id >= this.nextId) this.nextId = id + 1;
    if (id >= this.appendVs.length) {
      const size = Math.max(id + 1, this.appendVs.length * 2);
      const a = new Float64Array(size);
      a.set(this.appendVs);
      this.appendVs = a;
      const l = new Float64Array(size);
      l.set(this.lastVs);
      this.lastVs = l;
    }
    return s;
  }

  seriesByRef(ref: SeriesRef): MemSeries | undefined {
    return this.byId[ref];
  }

  getOrCreateSeries(labels: Labels, hash?: number): MemSeries {
    // A caller that passes the hash has normalised the labels already (the remote-write receiver
    // does, for its checks): doing both again cost as much as the rest of the look-up.
    const normalized = hash === undefined ? normalizeLabels(labels) : labels;
    const found = this.byHash.get(hash ?? labelsHash(normalized));
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (labelsEqual(found.labels, normalized)) return found;
      } else {
        for (const s of found) if (labelsEqual(s.labels, normalized)) return s;
      }
    }
    return this.addSeries(this.nextId, normalized);
  }

  appendValue(id: number): number {
    return this.appendVs[id];
  }

  setAppendValue(id: number, v: number): void {
    this.appendVs[id] = v;
  }

  lastT(s: MemSeries): number {
    return s.lastT;
  }

  /** Samples older than this are outside retention: the window ends at the newest sample, or now if that is earlier. */
  minValidTime(): number {
    if (this.headMaxT === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY;
    return Math.min(this.headMaxT, this.options.now()) - this.options.retentionMs;
  }

  isOutsideRetention(t: number): boolean {
    if (t < this.sealedBefore) return true;
    // minValidTime() ≤ headMaxT − retention, so a sample at or after that is inside without a
    // look at the clock: the clock read, once ~9 % of ingest per sample, is left to samples near
    // the edge (or a head ahead of the clock). Same answer as `t < minValidTime()`.
    if (t >= this.headMaxT - this.options.retentionMs) return false;
    return t < this.minValidTime();
  }

  /** Why a sample at `t` for which isOutsideRetention holds is refused. */
  outOfBoundsReason(t: number): string {
    return t < this.sealedBefore
      ? `is older than the newest block file, which ends at ${this.sealedBefore}`
      : "is older than the retention window";
  }

  private blockOf(t: number): number {
    return Math.floor(t / this.blockMs);
  }

  private blockEnd(t: number): number {
    return (this.blockOf(t) + 1) * this.blockMs;
  }

  // ---- writing -------------------------------------------------------------------------------

  appender(): Appender {
    this.assertOpen();
    return new TsdbAppender(this);
  }

  commitBatch(
    created: readonly MemSeries[],
    n: number,
    refs: Uint32Array,
    ts: Float64Array,
    vs: Float64Array,
  ): CommitResult {
    this.assertOpen();
    const count = this.dropOutOfOrder(n, refs, ts, vs);
    if (count === 0 && created.every((s) => s.persisted)) return { samples: 0, outOfOrder: n };
    const record = encodeWalRecord(count, refs, ts, vs);
    let seq = 0;
    let written: Written = [];
    this.store.transaction(() => {
      let newSeries = false;
      for (const s of created) {
        if (!s.persisted) {
          this.store.insertSeries(s.id, labelsJson(s.labels), s.firstT);
          newSeries = true;
        }
      }
      if (newSeries) this.store.setMeta("next_series_id", this.nextId);
      if (this.walSequenceFloor !== null) this.store.ensureWalSequenceAbove(this.walSequenceFloor);
      seq = this.store.appendWal(record);
      written = this.writeChunks();
    });
    this.walSequenceFloor = null;
    for (const s of created) s.persisted = true;
    this.markPersisted(written);
    this.lastSeq = seq;
    this.walBytesSinceCheckpoint += record.length;
    this.apply(count, refs, ts, vs);
    this.sealSoonIfDue();
    return { samples: count, outOfOrder: n - count };
  }

  /**
   * Ingest that carries the head past a seal boundary seals on the next turn of the event loop
   * rather than at the next maintenance pass, so a fast backfill does not pile up block tables.
   */
  private sealSoonIfDue(): void {
    if (this.sealScheduled || this.dueSealBoundary() === null) return;
    this.sealScheduled = true;
    setImmediate(() => {
      this.sealScheduled = false;
      if (this.closed) return;
      try {
        this.sealCompleteBlocks();
      } catch (err) {
        this.options.log(`tsdb: sealing failed, will retry: ${(err as Error).message}`, "warn");
      }
    });
  }

  /**
   * Compacts the batch in place to the samples that are newer than what their series has
   * committed. Only interleaved appenders on one series leave anything to drop.
   */
  private dropOutOfOrder(n: number, refs: Uint32Array, ts: Float64Array, vs: Float64Array): number {
    for (let i = 0; i < n; i++) {
      const s = this.byId[refs[i]];
      if (s) s.commitT = s.lastT;
    }
    let k = 0;
    for (let i = 0; i < n; i++) {
      const s = this.byId[refs[i]];
      const t = ts[i];
      if (s === undefined || t <= s.commitT) continue;
      s.commitT = t;
      if (k !== i) {
        refs[k] = refs[i];
        ts[k] = t;
        vs[k] = vs[i];
      }
      k++;
    }
    return k;
  }

  takeBuffers(): BatchBuffers | undefined {
    return this.bufferPool.pop();
  }

  returnBuffers(b: BatchBuffers): void {
    if (this.bufferPool.length < 4 && b.refs.length <= 1 << 20) this.bufferPool.push(b);
  }

  releaseBatch(count: number, refs: Uint32Array): void {
    for (let i = 0; i < count; i++) {
      const s = this.byId[refs[i]];
      if (s) {
        s.appendT = s.lastT;
        this.appendVs[s.id] = this.lastVs[s.id];
      }
    }
  }

  /**
   * Adds committed samples to the head. Deterministic: replaying the log produces the same chunks.
   * Samples no newer than their series' last one are dropped (possible only when two appenders
   * interleave on one series).
   */
  private apply(count: number, refs: Uint32Array, ts: Float64Array, vs: Float64Array): void {
    for (let i = 0; i < count; i++) {
      const s = this.byId[refs[i]];
      const t = ts[i];
      if (s === undefined) {
        this.orphanSamples++;
        continue;
      }
      if (t <= s.lastT || t < this.sealedBefore) {
        this.droppedOnApply++;
        continue;
      }
      let head = s.head;
      if (head === null || head.count >= MAX_SAMPLES_PER_CHUNK || t >= s.headBlockEnd) {
        // Size the new chunk like the last one so it rarely has to grow.
        const closed = s.closed;
        const lastBytes = head ? head.sizeBytes() : closed.length ? closed.byteLength(closed.length - 1) : 24;
        const capacity = lastBytes + 24;
        if (head !== null) this.cutHead(s, head);
        head = new XorEncoder(capacity);
        s.head = head;
        s.headBlockEnd = this.blockEnd(t);
      }
      head.append(t, vs[i]);
      s.lastT = t;
      this.lastVs[s.id] = vs[i];
      if (s.appendT < t) {
        s.appendT = t;
        this.appendVs[s.id] = vs[i];
      }
      if (s.firstT > t) s.firstT = t;
      if (t < this.oldestT) this.oldestT = t;
      if (!s.headDirty) {
        s.headDirty = true;
        this.dirtyHeads.push(s);
      }
      if (t > this.headMaxT) this.headMaxT = t;
    }
  }

  private cutHead(s: MemSeries, head: XorEncoder): void {
    s.closed.push(head.buf, head.sizeBytes(), head.count, head.minT, head.maxT);
    // The chunk's header holds its sample count; the open encoder does not keep it current.
    const bytes = s.closed.exact(s.closed.length - 1);
    bytes[0] = head.count >>> 8;
    bytes[1] = head.count & 0xff;
    if (!s.pendingWrite) {
      s.pendingWrite = true;
      this.pending.push(s);
    }
    s.head = null;
    if (!s.headDirty) {
      s.headDirty = true;
      this.dirtyHeads.push(s);
    }
  }

  /**
   * Writes the closed chunks not yet on disk into their block tables (inside the caller's
   * transaction) and says how far each series got, for markPersisted once the transaction holds.
   */
  private writeChunks(): Written {
    const minValid = this.minValidTime();
    const written: Written = [];
    for (const s of this.pending) {
      if (this.byId[s.id] !== s) continue;
      const closed = s.closed;
      for (let i = closed.persisted; i < closed.length; i++) {
        const minT = closed.minT(i);
        const maxT = closed.maxT(i);
        if (maxT < minValid && this.blockEnd(minT) <= minValid) continue;
        this.store.insertChunk(
          this.blockOf(minT),
          s.id,
          minT,
          maxT,
          seal(closed.exact(i), chunkSeed(s.id, minT, maxT)),
        );
      }
      written.push([s, closed.length]);
    }
    return written;
  }

  private markPersisted(written: Written): void {
    for (const [s, upTo] of written) if (upTo > s.closed.persisted) s.closed.persisted = upTo;
    this.pending = this.pending.filter((s) => {
      s.pendingWrite = this.byId[s.id] === s && s.closed.persisted < s.closed.length;
      return s.pendingWrite;
    });
  }

  // ---- reading -------------------------------------------------------------------------------

  querier(mint: number, maxt: number): Querier {
    this.assertOpen();
    return new TsdbQuerier(this, mint, maxt);
  }

  postingsForMatchers(matchers: readonly Matcher[]): readonly number[] {
    return this.index.postingsForMatchers(matchers);
  }

  persistedChunks(
    s: MemSeries,
    mint: number,
    maxt: number,
    before: number,
    warnings: string[],
  ): PersistedChunk[] {
    const out: PersistedChunk[] = [];
    const upper = Math.min(maxt, before - 1);
    const minValid = this.minValidTime();
    const from = Math.max(mint, minValid === Number.NEGATIVE_INFINITY ? mint : minValid - this.blockMs);
    if (this.blockSet.blocks.length && Math.max(from, s.firstT) < this.sealedBefore) {
      for (const c of this.blockSet.chunks(s.id, mint, upper, warnings)) {
        if (c.maxT >= before) break;
        out.push(c); // its `end` stops the reader at its own bytes and padding, not its page's
      }
    }
    const blocks = this.store.blocks();
    const firstBlock = this.blockOf(Math.max(from, s.firstT));
    for (const block of blocks) {
      if (block < firstBlock) continue;
      if (block * this.blockMs > upper) break;
      // A table whose block file is written already (its drop is still to come) is read there.
      if (
        block * this.blockMs < this.sealedBefore &&
        this.blockSet.covers(block * this.blockMs, (block + 1) * this.blockMs)
      ) {
        continue;
      }
      let rows: ReturnType<SqliteStore["readChunks"]>;
      try {
        rows = this.store.readChunks(block, s.id, mint, before - 1, upper);
      } catch (err) {
        warnings.push(
          `chunks of ${formatLabels(s.labels)} in block ${block} could not be read: ${(err as Error).message}`,
        );
        continue;
      }
      for (const [minT, maxT, blob] of rows) {
        const body = unseal(blob, chunkSeed(s.id, minT, maxT));
        if (body === null) {
          warnings.push(
            `damaged chunk of ${formatLabels(s.labels)} (${minT}..${maxT}) skipped: checksum mismatch`,
          );
          continue;
        }
        const data = withPadding(body, body.length);
        out.push({ data, offset: 0, count: (data[0] << 8) | data[1], minT, maxT, end: data.length });
      }
    }
    return out;
  }

  // ---- maintenance ---------------------------------------------------------------------------

  private maintainSafely(): void {
    try {
      this.maintain();
    } catch (err) {
      this.options.log(`tsdb: maintenance failed, will retry: ${(err as Error).message}`, "warn");
    }
  }

  /** Retention, memory eviction and checkpoints; runs on a timer, callable directly (tests). */
  maintain(): void {
    this.assertOpen();
    const removed = this.enforceRetention();
    this.sealCompleteBlocks();
    const now = this.options.now();
    if (
      removed > 0 ||
      this.walBytesSinceCheckpoint >= this.options.checkpointWalBytes ||
      now - this.lastCheckpointAt >= this.options.checkpointIntervalMs
    ) {
      this.checkpoint();
    } else if (this.pending.length) {
      let written: Written = [];
      this.store.transaction(() => {
        written = this.writeChunks();
      });
      this.markPersisted(written);
    }
    this.evictFromMemory();
  }

  /** Drops blocks and series that fell out of retention; returns the number of series removed. */
  private enforceRetention(): number {
    const minValid = this.minValidTime();
    if (minValid === Number.NEGATIVE_INFINITY) return 0;
    const D = this.blockMs;
    const dropped: number[] = [];
    for (const block of this.store.blocks()) if ((block + 1) * D <= minValid) dropped.push(block);
    const deletedFiles = this.blockSet.deleteBefore(minValid);
    // Everything before this boundary is gone once the blocks below are dropped.
    const keptFrom = Math.floor(minValid / D) * D;
    const doomed: MemSeries[] = [];
    for (const s of this.byId) {
      if (!s) continue;
      if (s.lastT < keptFrom && s.lastT !== Number.NEGATIVE_INFINITY && s.pendingOwner === null)
        doomed.push(s);
      else if (s.firstT < keptFrom) s.firstT = keptFrom;
    }
    if (dropped.length === 0 && doomed.length === 0) {
      if (deletedFiles.length)
        this.options.log(`tsdb: retention deleted blocks ${deletedFiles.join(", ")}`, "info");
      return 0;
    }
    this.store.transaction(() => {
      for (const block of dropped) this.store.dropBlock(block);
      for (const s of doomed) this.store.deleteSeries(s.id);
    });
    for (const s of doomed) {
      const hash = labelsHash(s.labels);
      const clash = this.byHash.get(hash);
      if (Array.isArray(clash)) {
        const rest = clash.filter((x) => x !== s);
        this.byHash.set(hash, rest.length === 1 ? rest[0] : rest);
      } else this.byHash.delete(hash);
      this.byId[s.id] = undefined;
      this.index.remove(s.id, s.labels);
      s.head = null;
      s.closed.dropFirst(s.closed.length);
    }
    if (doomed.length) {
      this.pending = this.pending.filter((s) => this.byId[s.id] === s);
      this.dirtyHeads = this.dirtyHeads.filter((s) => this.byId[s.id] === s);
    }
    for (const s of this.byId) {
      if (!s) continue;
      let k = 0;
      while (k < s.closed.length && s.closed.maxT(k) < keptFrom) k++;
      s.closed.dropFirst(k);
    }
    try {
      this.store.reclaimSpace();
    } catch (err) {
      // The free pages stay in the file for new data; the next retention pass returns them.
      this.options.log(
        `tsdb: could not return free pages to the file system: ${(err as Error).message}`,
        "warn",
      );
    }
    this.options.log(
      `tsdb: retention removed ${dropped.length + deletedFiles.length} blocks and ${doomed.length} series older than ${new Date(keptFrom).toISOString()}`,
      "info",
    );
    return doomed.length;
  }

  /**
   * Moves every block table that can take no more samples into a block file: once the newest
   * sample is half a block past a block's end, the block is sealed — appends before its end are
   * refused from then on — its open chunks are closed and checkpointed with the rest of the head,
   * and its table is written out as a block file and dropped. A failure leaves the table to the
   * next pass; nothing is lost.
   */
  private sealCompleteBlocks(): void {
    if (this.headMaxT === Number.NEGATIVE_INFINITY) return;
    const boundary = this.dueSealBoundary();
    if (boundary !== null) {
      this.sealedBefore = boundary;
      for (const s of this.byId) {
        if (s?.head && s.head.count > 0 && s.head.minT < boundary && s.pendingOwner === null)
          this.cutHead(s, s.head);
      }
      // Writes the chunks just closed into their tables and folds the log: no record left holds
      // a sample the block files will hold.
      this.checkpoint();
    }
    this.startBlockJob();
  }

  /**
   * The end of the newest complete block (half a block behind the newest sample), when it lies
   * past the current seal and past the oldest sample: with nothing older than it, sealing would
   * only refuse backfill for no gain. Null when no seal is due.
   */
  private dueSealBoundary(): number | null {
    if (this.headMaxT === Number.NEGATIVE_INFINITY) return null;
    const D = this.blockMs;
    const boundary = Math.floor((this.headMaxT - D / 2) / D) * D;
    return boundary > this.sealedBefore && boundary > this.oldestT ? boundary : null;
  }

  /** Block tables that can take no more samples, oldest first. */
  private dueTables(): number[] {
    return this.store.blocks().filter((b) => (b + 1) * this.blockMs <= this.sealedBefore);
  }

  /**
   * Starts the next block job on a worker thread, if none is running: the oldest due table's seal,
   * else one window's compaction. Its result is applied on this thread when it arrives, and the
   * next job starts then. A table a block file already holds is just dropped.
   */
  private startBlockJob(): void {
    if (this.blockJob !== null || this.closed) return;
    const D = this.blockMs;
    let job: BlockJob | null = null;
    let table: number | null = null;
    for (const due of this.dueTables()) {
      if (this.blockSet.covers(due * D, (due + 1) * D)) {
        this.dropSealedTable(due);
        continue;
      }
      table = due;
      job = {
        kind: "seal",
        blocksDir: this.blockSet.dir,
        sqlitePath: this.store.path,
        table: blockTableName(due),
        minT: due * D,
        maxT: (due + 1) * D,
      };
      break;
    }
    if (job === null) {
      const plan = this.blockSet.planCompaction(this.compactRangeMs, this.sealedBefore);
      if (plan === null) return;
      job = { kind: "merge", blocksDir: this.blockSet.dir, sources: plan.map((r) => r.name) };
    }
    const running = runBlockJobInWorker(job);
    const started = job;
    this.blockJob = {
      cancel: running.cancel,
      done: running.done.then(
        (result) => {
          this.blockJob = null;
          if (this.closed) return;
          try {
            this.applyBlockJob(started, table, result);
          } catch (err) {
            this.options.log(
              `tsdb: block ${result.name} could not be put in place, will retry: ${(err as Error).message}`,
              "warn",
            );
            return;
          }
          this.startBlockJob();
        },
        (err: Error) => {
          this.blockJob = null;
          if (!this.closed) this.options.log(`tsdb: block job failed, will retry: ${err.message}`, "warn");
        },
      ),
    };
  }

  private applyBlockJob(job: BlockJob, table: number | null, result: BlockJobResult): void {
    for (const w of result.warnings) this.options.log(`tsdb: ${w}`, "warn");
    const { meta, name } = result;
    if (job.kind === "seal" && table !== null) {
      this.blockSet.add(meta, name);
      this.recovery.lostChunks += result.lost;
      this.dropSealedTable(table);
      this.options.log(`tsdb: sealed block ${name}: ${meta.series} series, ${meta.samples} samples`, "info");
    } else if (job.kind === "merge") {
      this.blockSet.replace(job.sources, meta, name);
      this.options.log(
        `tsdb: compacted ${job.sources.length} blocks into ${name}: ${meta.series} series, ${meta.samples} samples`,
        "info",
      );
    }
  }

  private dropSealedTable(block: number): void {
    this.store.transaction(() => {
      this.store.dropBlock(block);
      this.store.setMeta("sealed_before", this.sealedBefore);
    });
    try {
      this.store.reclaimSpace();
    } catch {
      // Free pages stay in the file for new chunks; the next pass returns them.
    }
  }

  /**
   * Resolves once no block job is running (each finished job starts the next one due). A job
   * that fails ends the wait; the next maintenance pass retries it. For tests and tools.
   */
  async blockJobsSettled(): Promise<void> {
    while (this.blockJob !== null) await this.blockJob.done;
  }

  private evictFromMemory(): void {
    const horizon = this.headMaxT - this.options.memoryWindowMs;
    for (const s of this.byId) {
      if (!s || s.closed.length === 0) continue;
      let k = 0;
      while (k < s.closed.persisted && s.closed.maxT(k) < horizon) k++;
      s.closed.dropFirst(k);
    }
  }

  /**
   * Makes the log up to now redundant: closes the open chunks of idle series, writes pending
   * chunks and every changed head, records the sequence and truncates the log, all in one
   * transaction.
   */
  checkpoint(): void {
    this.assertOpen();
    const idleBefore = this.headMaxT - this.options.memoryWindowMs;
    const closedIdle: MemSeries[] = [];
    for (const s of this.byId) {
      if (s?.head && s.head.count > 0 && s.lastT < idleBefore && s.pendingOwner === null) closedIdle.push(s);
    }
    for (const s of closedIdle) this.cutHead(s, s.head!);
    const dirty = this.dirtyHeads;
    const seq = this.lastSeq;
    let written: Written = [];
    try {
      this.store.transaction(() => {
        written = this.writeChunks();
        for (const s of dirty) {
          if (this.byId[s.id] === s) this.store.putHead(s.id, this.headBlob(s));
        }
        this.store.setMeta("checkpoint_seq", seq);
        this.store.truncateWal(seq);
      });
    } catch (err) {
      // Undo the idle cuts: their chunks go back to being open heads.
      for (const s of closedIdle) {
        const { data, minT } = s.closed.pop();
        s.head = XorEncoder.resume(withPadding(data, data.length));
        s.headBlockEnd = this.blockEnd(minT);
      }
      throw err;
    }
    this.markPersisted(written);
    for (const s of dirty) s.headDirty = false;
    this.dirtyHeads = [];
    this.checkpointSeq = seq;
    this.walBytesSinceCheckpoint = 0;
    this.lastCheckpointAt = this.options.now();
  }

  /** lastT, lastV and the open chunk's bytes, sealed: what recovery needs to continue the series. */
  private headBlob(s: MemSeries): Buffer {
    const head = s.head && s.head.count > 0 ? s.head : null;
    const chunkLen = head ? head.sizeBytes() : 0;
    const stateLen = head ? ENCODER_STATE_BYTES : 0;
    const body = Buffer.alloc(HEAD_STATE_BYTES + stateLen + chunkLen + 4);
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    view.setFloat64(0, s.lastT, true);
    scratch[0] = this.lastVs[s.id];
    body.set(scratchBytes, 8);
    if (head) {
      head.writeState(view, HEAD_STATE_BYTES);
      const at = HEAD_STATE_BYTES + ENCODER_STATE_BYTES;
      body.set(head.buf.subarray(0, chunkLen), at);
      body[at] = head.count >>> 8;
      body[at + 1] = head.count & 0xff;
    }
    return sealInPlace(body, s.id);
  }

  stats(): TsdbStats {
    let headChunks = 0;
    let memoryClosedChunks = 0;
    let series = 0;
    for (const s of this.byId) {
      if (!s) continue;
      series++;
      if (s.head && s.head.count > 0) headChunks++;
      memoryClosedChunks += s.closed.length;
    }
    return {
      series,
      headChunks,
      memoryClosedChunks,
      pendingChunks: this.pending.length,
      blocks: this.blockNumbers(),
      blockFiles: this.blockSet.blocks.map((r) => ({
        name: r.name,
        minT: r.meta.minT,
        maxT: r.meta.maxT,
        series: r.meta.series,
        samples: r.meta.samples,
        bytes: r.chunksBytes + r.indexBytes,
        level: r.meta.level,
      })),
      sealedBefore: this.sealedBefore,
      chunksLostInSeal: this.recovery.lostChunks,
      minValidTime: this.minValidTime(),
      headMaxT: this.headMaxT,
      lastSeq: this.lastSeq,
      checkpointSeq: this.checkpointSeq,
      walBytesSinceCheckpoint: this.walBytesSinceCheckpoint,
      droppedOnApply: this.droppedOnApply,
    };
  }

  private blockNumbers(): number[] {
    const numbers = new Set(this.store.blocks());
    for (const r of this.blockSet.blocks) {
      for (let b = this.blockOf(r.meta.minT); b * this.blockMs < r.meta.maxT; b++) numbers.add(b);
    }
    return [...numbers].sort((a, b) => a - b);
  }

  /** Checkpoints (so the next start replays nothing) and closes the file. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    // A job cut short leaves a .tmp directory (deleted at the next start) or a finished block
    // whose table the next start drops: nothing is lost either way.
    this.blockJob?.cancel();
    this.blockJob = null;
    try {
      this.checkpoint();
      // The log rows the checkpoint deleted leave free pages: give them back before stopping.
      this.store.reclaimSpace();
      this.store.checkpointFile();
    } catch (err) {
      if (!isDiskFullError(err)) throw err;
      // Everything committed is in the log, which the next start replays: nothing is lost.
      this.options.log(
        `tsdb: the disk is full: closing without a final checkpoint (the next start replays the log): ${(err as Error).message}`,
        "warn",
      );
    } finally {
      this.closed = true;
      this.store.close();
      this.blockSet.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError("the TSDB is closed");
  }
}

function labelsJson(labels: Labels): string {
  const flat: string[] = [];
  for (const l of labels) flat.push(l.name, l.value);
  return JSON.stringify(flat);
}
