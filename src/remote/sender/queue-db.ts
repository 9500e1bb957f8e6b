/**
 * The on-disk queue: one SQLite database in WAL mode (`remote-write-queue.sqlite`).
 *
 *   meta(key, value)            schema version; the shard count the queued rows were split with
 *   series(id, labels)          label fields (protobuf bytes, as sent) of every series still queued
 *   batches(seq, shard, samples, min_t, enqueued_at, data)
 *                               committed samples, one row per shard per commit (split at the
 *                               request size): `data` holds `samples` float64 series ids, then as
 *                               many timestamps (ms), then as many values, in append order
 *   inflight(shard, last_seq)   the rows of the request each shard has on the wire: after a crash
 *                               exactly those rows are sent again, alone (see shard.ts)
 *
 * A commit is one transaction; a row leaves only when the engine acknowledged it (or refused it
 * for good). The database is opened in exclusive locking mode, so a second process (or instance)
 * on the same directory fails at open instead of shipping the same rows twice; that also keeps
 * the WAL index in process memory (no -shm file), so an existing queue opens on a full disk.
 *
 * Full disk: opening an existing queue writes nothing. A write the disk refuses (SQLITE_FULL,
 * ENOSPC) throws DiskFullError, a StorageError saying "out of disk space", and changes nothing;
 * `onDiskFull` hears when writes start failing so and when one succeeds again.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { DiskFullError, isDiskFullError, StorageError } from "../../storage/index.js";
import type { SyncMode } from "./options.js";

const SCHEMA_VERSION = 1;
export const QUEUE_FILE = "remote-write-queue.sqlite";
/** Bytes per queued sample in a batch row: series id, timestamp and value, 8 bytes each. */
export const SAMPLE_BYTES = 24;

export interface BatchRow {
  seq: number;
  shard: number;
  samples: number;
  minT: number;
  enqueuedAt: number;
  data: Uint8Array;
}

export interface QueueTotals {
  samples: number;
  seriesBytes: number;
  maxSeq: number;
  maxSeriesId: number;
  /** Queued samples per shard number. */
  perShard: Map<number, number>;
}

/**
 * Told when the queue's writes start failing for lack of disk space (`full`, with SQLite's
 * message) and when one succeeds again (`!full`).
 */
export type DiskFullListener = (full: boolean, message: string) => void;

export class QueueDb {
  private readonly db: Database.Database;
  private readonly stmts;
  readonly path: string;
  /** The last write was refused for lack of disk space. */
  diskFull = false;

  constructor(
    dir: string,
    sync: SyncMode,
    private readonly onDiskFull: DiskFullListener = () => {},
  ) {
    this.path = join(dir, QUEUE_FILE);
    try {
      mkdirSync(dir, { recursive: true });
      this.db = new Database(this.path, { timeout: 0 });
      // Exclusive, before the first access: the lock is taken by the first read (in WAL mode without
      // a shared-memory index) and held until close, so a second opener fails below.
      this.db.pragma("locking_mode = EXCLUSIVE");
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, labels BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, shard INTEGER NOT NULL,
          samples INTEGER NOT NULL, min_t REAL NOT NULL, enqueued_at INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS batches_by_shard ON batches (shard, seq);
        CREATE TABLE IF NOT EXISTS inflight (shard INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
      `);
      this.db
        .prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)")
        .run(SCHEMA_VERSION);
    } catch (err) {
      const busy = (err as { code?: string }).code === "SQLITE_BUSY";
      const full = isDiskFullError(err);
      throw new (full ? DiskFullError : StorageError)(
        busy
          ? `remote-write queue ${this.path} is in use by another process or instance`
          : `cannot open remote-write queue ${this.path}: ${full ? "out of disk space: " : ""}${(err as Error).message}`,
        { cause: err },
      );
    }
    const db = this.db;
    this.stmts = {
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
      setMeta: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      insertSeries: db.prepare("INSERT INTO series (id, labels) VALUES (?, ?)"),
      insertBatch: db.prepare(
        "INSERT INTO batches (seq, shard, samples, min_t, enqueued_at, data) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      head: db.prepare(
        "SELECT seq, shard, samples, min_t AS minT, enqueued_at AS enqueuedAt, data FROM batches WHERE shard = ? AND seq <= ? ORDER BY seq",
      ),
      headInfo: db.prepare(
        "SELECT min_t AS minT, enqueued_at AS enqueuedAt FROM batches WHERE shard = ? ORDER BY seq LIMIT 1",
      ),
      ack: db.prepare("DELETE FROM batches WHERE shard = ? AND seq <= ?"),
      setInflight: db.prepare("INSERT OR REPLACE INTO inflight (shard, last_seq) VALUES (?, ?)"),
      clearInflight: db.prepare("DELETE FROM inflight WHERE shard = ?"),
      minSeq: db.prepare("SELECT min(seq) FROM batches").pluck(),
      seriesLabels: db.prepare("SELECT labels FROM series WHERE id = ?").pluck(),
      deleteSeries: db.prepare("DELETE FROM series WHERE id = ?"),
      deleteSeriesBelow: db.prepare("DELETE FROM series WHERE id < ?"),
      seriesBytes: db.prepare("SELECT coalesce(sum(length(labels)), 0) FROM series").pluck(),
    };
    const version = this.getMeta("schema_version");
    if (version !== SCHEMA_VERSION) {
      this.db.close();
      throw new StorageError(
        `${this.path} has schema version ${version}; this build reads ${SCHEMA_VERSION}`,
      );
    }
  }

  /**
   * A write: SQLite errors as StorageError (the caller's change was not made), a full disk as
   * DiskFullError; tells the listener when the disk fills and when writes work again.
   */
  private guard<T>(what: string, fn: () => T): T {
    let out: T;
    try {
      out = fn();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const message = (err as Error).message;
      if (isDiskFullError(err)) {
        if (!this.diskFull) {
          this.diskFull = true;
          this.onDiskFull(true, message);
        }
        throw new DiskFullError(
          `remote-write queue is out of disk space (${message}); ${what} refused, nothing of it was applied`,
          { cause: err },
        );
      }
      throw new StorageError(`remote-write queue: ${what}: ${message}`, { cause: err });
    }
    if (this.diskFull) {
      this.diskFull = false;
      this.onDiskFull(false, "");
    }
    return out;
  }

  getMeta(key: string): number | null {
    return (this.stmts.getMeta.get(key) as number | undefined) ?? null;
  }

  setMeta(key: string, value: number): void {
    this.guard("writing meta", () => this.stmts.setMeta.run(key, value));
  }

  totals(): QueueTotals {
    const perShard = new Map<number, number>();
    let samples = 0;
    for (const r of this.db.prepare("SELECT shard, sum(samples) AS n FROM batches GROUP BY shard").all() as {
      shard: number;
      n: number;
    }[]) {
      perShard.set(r.shard, r.n);
      samples += r.n;
    }
    return {
      samples,
      seriesBytes: this.seriesBytes(),
      maxSeq: (this.db.prepare("SELECT max(seq) FROM batches").pluck().get() as number | null) ?? 0,
      maxSeriesId: (this.db.prepare("SELECT max(id) FROM series").pluck().get() as number | null) ?? 0,
      perShard,
    };
  }

  seriesBytes(): number {
    return this.stmts.seriesBytes.get() as number;
  }

  inflight(): Map<number, number> {
    const out = new Map<number, number>();
    for (const r of this.db.prepare("SELECT shard, last_seq AS seq FROM inflight").all() as {
      shard: number;
      seq: number;
    }[]) {
      out.set(r.shard, r.seq);
    }
    return out;
  }

  /**
   * Queues new series and batch rows in one transaction, all or nothing, with `meta` entries (a
   * setting a full disk refused to record earlier).
   */
  enqueue(
    series: readonly { id: number; labels: Uint8Array }[],
    rows: readonly BatchRow[],
    meta: ReadonlyMap<string, number> = new Map(),
  ): void {
    this.guard("queueing a batch", () =>
      this.db.transaction(() => {
        for (const [k, v] of meta) this.stmts.setMeta.run(k, v);
        for (const s of series) this.stmts.insertSeries.run(s.id, s.labels);
        for (const r of rows) {
          this.stmts.insertBatch.run(r.seq, r.shard, r.samples, r.minT, r.enqueuedAt, r.data);
        }
      })(),
    );
  }

  /**
   * A shard's oldest rows, in order, with at most `maxSamples` samples together (but always the
   * first row) and none past `uptoSeq`.
   */
  head(shard: number, maxSamples: number, uptoSeq = Number.MAX_SAFE_INTEGER): BatchRow[] {
    const rows: BatchRow[] = [];
    let samples = 0;
    for (const r of this.stmts.head.iterate(shard, uptoSeq) as IterableIterator<BatchRow>) {
      if (rows.length > 0 && samples + r.samples > maxSamples) break;
      rows.push(r);
      samples += r.samples;
      if (samples >= maxSamples) break;
    }
    return rows;
  }

  /** The oldest row of a shard: its first sample timestamp bound and when it was queued. */
  headInfo(shard: number): { minT: number; enqueuedAt: number } | undefined {
    return this.stmts.headInfo.get(shard) as { minT: number; enqueuedAt: number } | undefined;
  }

  /** Records which rows a shard is about to send, so a crash resends exactly those. */
  setInflight(shard: number, lastSeq: number): void {
    this.guard("recording a request", () => this.stmts.setInflight.run(shard, lastSeq));
  }

  /** Deletes a shard's rows up to `lastSeq` (delivered or refused for good) and its in-flight mark. */
  ack(shard: number, lastSeq: number): void {
    this.guard("removing delivered rows", () =>
      this.db.transaction(() => {
        this.stmts.ack.run(shard, lastSeq);
        this.stmts.clearInflight.run(shard);
      })(),
    );
  }

  minSeq(): number | null {
    return (this.stmts.minSeq.get() as number | null) ?? null;
  }

  seriesLabels(id: number): Uint8Array | undefined {
    return this.stmts.seriesLabels.get(id) as Buffer | undefined;
  }

  /** Forgets series no queued row refers to any more. */
  deleteSeries(ids: readonly number[], belowId: number): void {
    this.guard("forgetting series", () =>
      this.db.transaction(() => {
        for (const id of ids) this.stmts.deleteSeries.run(id);
        if (belowId > 0) this.stmts.deleteSeriesBelow.run(belowId);
      })(),
    );
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The columns of a batch row's data, as views when aligned (copies otherwise). */
export function decodeBatch(
  data: Uint8Array,
  samples: number,
): { ids: Float64Array; ts: Float64Array; vs: Float64Array } {
  if (data.length !== samples * SAMPLE_BYTES) {
    throw new StorageError(`remote-write queue row holds ${data.length} bytes for ${samples} samples`);
  }
  const all =
    data.byteOffset % 8 === 0
      ? new Float64Array(data.buffer, data.byteOffset, samples * 3)
      : new Float64Array(data.slice().buffer);
  return {
    ids: all.subarray(0, samples),
    ts: all.subarray(samples, 2 * samples),
    vs: all.subarray(2 * samples, 3 * samples),
  };
}
