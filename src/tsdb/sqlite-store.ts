/**
 * The durable side of the TSDB, in one SQLite database (WAL journal mode):
 *
 *   meta(key, value)                      schema version, checkpoint sequence
 *   series(id, labels, first_t, crc)       every series, labels as a JSON [name, value, …] array
 *   wal(seq, record)                      committed append batches since the last checkpoint
 *   head(series_id, data)                 per-series head state at the last checkpoint
 *   chunks_<block>(series_id, max_t, min_t, data)
 *                                         immutable Gorilla chunks, one table per time block, so that
 *                                         retention drops whole tables
 *
 * Every blob ends in a CRC-32 seeded with its series id (chunks: series id and time range), so a
 * damaged or misplaced blob is detected and skipped instead of decoded into garbage. This module knows rows and blobs, not series logic.
 */
import { crc32 } from "node:zlib";
import Database from "better-sqlite3";
import { DiskFullError, isDiskFullError, StorageError } from "../storage/index.js";
import type { TsdbLog } from "./options.js";

export type SyncMode = "normal" | "full";

const SCHEMA_VERSION = 1;

export interface SeriesRow {
  id: number;
  labels: string;
  first_t: number;
  crc: number;
}

/** A chunk row as [min_t, max_t, data]: arrays, not an object per row. */
export type ChunkRow = [minT: number, maxT: number, data: Buffer];

/** Appends a CRC-32 (seeded with `seed`) to `bytes`. */
export function seal(bytes: Uint8Array, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes.length + 4);
  out.set(bytes);
  out.writeUInt32LE(crc32(bytes, seed >>> 0), bytes.length);
  return out;
}

/** Fills the last 4 bytes of `buf` with the CRC-32 of the bytes before them. */
export function sealInPlace(buf: Buffer, seed: number): Buffer {
  buf.writeUInt32LE(crc32(buf.subarray(0, buf.length - 4), seed >>> 0), buf.length - 4);
  return buf;
}

/**
 * The checksum seed of a chunk row: its series and time range, so a blob moved to another row or
 * a row whose times were altered fails the check like a damaged blob does.
 */
export function chunkSeed(seriesId: number, minT: number, maxT: number): number {
  const key = Buffer.allocUnsafe(24);
  key.writeDoubleLE(seriesId, 0);
  key.writeDoubleLE(minT, 8);
  key.writeDoubleLE(maxT, 16);
  return crc32(key);
}

/** The payload of a sealed blob, or null when its checksum does not match. */
export function unseal(blob: Uint8Array, seed: number): Uint8Array | null {
  if (blob.length < 4) return null;
  const body = blob.subarray(0, blob.length - 4);
  const want =
    (blob[blob.length - 4] |
      (blob[blob.length - 3] << 8) |
      (blob[blob.length - 2] << 16) |
      (blob[blob.length - 1] << 24)) >>>
    0;
  return crc32(body, seed >>> 0) === want ? body : null;
}

export function labelsCrc(labelsJson: string, id: number): number {
  return crc32(labelsJson, id >>> 0);
}

export function blockTableName(block: number): string {
  return block < 0 ? `chunks_n${-block}` : `chunks_${block}`;
}

function parseBlockTable(name: string): number | null {
  const m = /^chunks_(n?)(\d+)$/.exec(name);
  if (!m) return null;
  return m[1] ? -Number(m[2]) : Number(m[2]);
}

/** SQLite errors that mean the file itself is damaged. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code ?? "";
  return code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB";
}

/**
 * Opens the file and makes sure of its pragmas and tables; on an existing database none of that
 * writes. `exclusive`: lock the file for this connection before the first access, which keeps the
 * WAL index in memory (no -shm file to create or grow).
 */
function openDatabase(path: string, sync: SyncMode, maxBytes: number, exclusive: boolean): Database.Database {
  const db = new Database(path);
  try {
    if (exclusive) db.pragma("locking_mode = EXCLUSIVE");
    // Setting auto_vacuum writes the file header even when it holds that mode already (a write
    // a full disk refuses at start-up), so only a file not yet in incremental mode gets it.
    if (db.pragma("auto_vacuum", { simple: true }) !== 2) db.pragma("auto_vacuum = INCREMENTAL");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
    // 16 MiB of page cache: reads of old chunks also hit the OS cache, and memory per active
    // series is a budget (see bench:tsdb).
    db.pragma("cache_size = -16384");
    if (maxBytes > 0) setMaxPageCount(db, maxBytes);
    db.pragma("wal_autocheckpoint = 4000");
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, labels TEXT NOT NULL, first_t INTEGER NOT NULL, crc INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS wal (seq INTEGER PRIMARY KEY AUTOINCREMENT, record BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS head (series_id INTEGER PRIMARY KEY, data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS recent_chunks (series_id INTEGER PRIMARY KEY, max_t INTEGER NOT NULL);
    `);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function setMaxPageCount(db: Database.Database, maxBytes: number): void {
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}`);
}

function prepareStatements(db: Database.Database) {
  return {
    insertSeries: db.prepare("INSERT OR REPLACE INTO series (id, labels, first_t, crc) VALUES (?, ?, ?, ?)"),
    deleteSeries: db.prepare("DELETE FROM series WHERE id = ?"),
    insertWal: db.prepare("INSERT INTO wal (record) VALUES (?)"),
    deleteWalUpTo: db.prepare("DELETE FROM wal WHERE seq <= ?"),
    putHead: db.prepare("INSERT OR REPLACE INTO head (series_id, data) VALUES (?, ?)"),
    noteRecentChunk: db.prepare(
      "INSERT INTO recent_chunks (series_id, max_t) VALUES (?, ?) ON CONFLICT (series_id) DO UPDATE SET max_t = max(max_t, excluded.max_t)",
    ),
    clearRecentChunks: db.prepare("DELETE FROM recent_chunks"),
    walSequence: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'wal'").pluck(),
    setWalSequence: db.prepare("INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('wal', ?)"),
    deleteHead: db.prepare("DELETE FROM head WHERE series_id = ?"),
    setMeta: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
  };
}

export class SqliteStore {
  readonly db: Database.Database;
  private readonly blockSet = new Set<number>();
  private sortedBlocks: number[] | null = null;
  private readonly insertChunkStmts = new Map<number, Database.Statement>();
  private readonly readChunkStmts = new Map<number, Database.Statement>();
  private readonly stmts: ReturnType<typeof prepareStatements>;

  /** Set when the file was opened on a full disk: exclusive lock, wal-index in process memory. */
  readonly exclusive: boolean;

  constructor(
    readonly path: string,
    sync: SyncMode,
    maxBytes = 0,
    log: TsdbLog = () => {},
  ) {
    let db: Database.Database;
    let exclusive = false;
    try {
      db = openDatabase(path, sync, maxBytes, false);
    } catch (err) {
      if (!isDiskFullError(err)) {
        throw new StorageError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
      }
      // Opening a WAL database maps its -shm wal-index file, which a full disk cannot grow
      // (SQLITE_IOERR_SHMSIZE). With an exclusive lock taken first SQLite keeps that index in
      // process memory instead, so what is stored can still be read, and written once space is
      // freed. Only this process may then open the file, until it restarts.
      log(
        `tsdb: ${path}: the disk is full (${(err as Error).message}); opened with an exclusive lock and the WAL index in memory: stored data is served, writes are refused until space is freed`,
        "warn",
      );
      try {
        db = openDatabase(path, sync, maxBytes, true);
        exclusive = true;
      } catch (err2) {
        throw new (isDiskFullError(err2) ? DiskFullError : StorageError)(
          `cannot open ${path}: ${isDiskFullError(err2) ? "out of disk space: " : ""}${(err2 as Error).message}`,
          { cause: err2 },
        );
      }
    }
    this.db = db;
    this.exclusive = exclusive;
    this.stmts = prepareStatements(this.db);
    const version = this.getMeta("schema_version");
    if (version === null) {
      try {
        this.setMeta("schema_version", SCHEMA_VERSION);
      } catch (err) {
        this.db.close();
        throw this.writeError(err, `cannot initialise ${path}`);
      }
    } else if (version !== SCHEMA_VERSION) {
      throw new StorageError(
        `${path} has schema version ${version}; this build reads version ${SCHEMA_VERSION}`,
      );
    }
    for (const { name } of this.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chunks_%'")
      .all() as { name: string }[]) {
      const block = parseBlockTable(name);
      if (block !== null) this.blockSet.add(block);
    }
  }

  /** A failed write as StorageError; a full disk as DiskFullError, whose message says so. */
  private writeError(err: unknown, what = "write refused"): StorageError {
    if (err instanceof StorageError) return err;
    const message = (err as Error).message;
    if (isDiskFullError(err)) {
      return new DiskFullError(
        `the time-series store is out of disk space (${message}); ${what}, nothing of it was applied`,
        { cause: err },
      );
    }
    return new StorageError(`write to ${this.path} failed: ${message}`, { cause: err });
  }

  /** Caps the file size: writes past it fail with SQLITE_FULL, like a full disk. */
  setMaxBytes(maxBytes: number): void {
    setMaxPageCount(this.db, maxBytes);
  }

  getMeta(key: string): number | null {
    const v = this.stmts.getMeta.get(key) as number | undefined;
    return v === undefined ? null : v;
  }

  setMeta(key: string, value: number): void {
    this.stmts.setMeta.run(key, value);
  }

  /** Runs fn in one transaction; SQLite errors become StorageError and nothing of fn is kept. */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      throw this.writeError(err);
    }
  }

  insertSeries(id: number, labelsJson: string, firstT: number): void {
    this.stmts.insertSeries.run(id, labelsJson, firstT, labelsCrc(labelsJson, id));
  }

  deleteSeries(id: number): void {
    this.stmts.deleteSeries.run(id);
    this.stmts.deleteHead.run(id);
  }

  allSeries(): SeriesRow[] {
    return this.db.prepare("SELECT id, labels, first_t, crc FROM series ORDER BY id").all() as SeriesRow[];
  }

  appendWal(record: Uint8Array): number {
    return Number(this.stmts.insertWal.run(record).lastInsertRowid);
  }

  *iterateWal(afterSeq: number): Generator<{ seq: number; record: Buffer }> {
    yield* this.db
      .prepare("SELECT seq, record FROM wal WHERE seq > ? ORDER BY seq")
      .iterate(afterSeq) as Iterable<{
      seq: number;
      record: Buffer;
    }>;
  }

  /** Drops log records up to `upToSeq`: a checkpoint made them redundant (so are the recent-chunk notes). */
  truncateWal(upToSeq: number): void {
    this.stmts.deleteWalUpTo.run(upToSeq);
    this.stmts.clearRecentChunks.run();
  }

  /** Makes sure new log records get sequence numbers above `seq` (after a rebuild lost the counter). */
  ensureWalSequenceAbove(seq: number): void {
    const current = (this.stmts.walSequence.get() as number | undefined) ?? 0;
    if (current < seq) this.stmts.setWalSequence.run(seq);
  }

  /**
   * Newest persisted chunk time of each series with chunks written since the last checkpoint:
   * recovery must not rebuild those samples into chunks again.
   */
  recentChunks(): Map<number, number> {
    const out = new Map<number, number>();
    for (const r of this.db.prepare("SELECT series_id, max_t FROM recent_chunks").raw().all() as [
      number,
      number,
    ][]) {
      out.set(r[0], r[1]);
    }
    return out;
  }

  /** The largest series id that any table mentions (ids must never be reused, even after damage). */
  maxSeriesIdAnywhere(): number {
    let max = 0;
    const tables = [
      "series:id",
      "head:series_id",
      "recent_chunks:series_id",
      ...[...this.blockSet].map((b) => `${blockTableName(b)}:series_id`),
    ];
    for (const spec of tables) {
      const [table, column] = spec.split(":");
      try {
        const v = this.db.prepare(`SELECT max(${column}) FROM ${table}`).pluck().get() as number | null;
        if (v !== null && v > max) max = v;
      } catch {
        /* a damaged table: the ids it held are counted by the others or by meta */
      }
    }
    return Math.max(max, this.getMeta("next_series_id") ?? 0);
  }

  putHead(seriesId: number, blob: Uint8Array): void {
    this.stmts.putHead.run(seriesId, blob);
  }

  deleteHead(seriesId: number): void {
    this.stmts.deleteHead.run(seriesId);
  }

  *iterateHeads(): Generator<{ series_id: number; data: Buffer }> {
    yield* this.db.prepare("SELECT series_id, data FROM head ORDER BY series_id").iterate() as Iterable<{
      series_id: number;
      data: Buffer;
    }>;
  }

  /** Block numbers in increasing order (cached: asked once per series read). */
  blocks(): readonly number[] {
    if (this.sortedBlocks === null) this.sortedBlocks = [...this.blockSet].sort((a, b) => a - b);
    return this.sortedBlocks;
  }

  insertChunk(block: number, seriesId: number, minT: number, maxT: number, sealed: Uint8Array): void {
    let stmt = this.insertChunkStmts.get(block);
    if (!stmt) {
      const table = blockTableName(block);
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (series_id INTEGER NOT NULL, max_t INTEGER NOT NULL, min_t INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, max_t)) WITHOUT ROWID`,
      );
      this.blockSet.add(block);
      this.sortedBlocks = null;
      stmt = this.db.prepare(
        `INSERT OR REPLACE INTO ${table} (series_id, max_t, min_t, data) VALUES (?, ?, ?, ?)`,
      );
      this.insertChunkStmts.set(block, stmt);
    }
    stmt.run(seriesId, maxT, minT, sealed);
    this.stmts.noteRecentChunk.run(seriesId, maxT);
  }

  /** Chunks of one series in one block whose max_t lies in [fromMaxT, toMaxT], oldest first. */
  readChunks(block: number, seriesId: number, fromMaxT: number, toMaxT: number, toMinT = toMaxT): ChunkRow[] {
    if (!this.blockSet.has(block)) return [];
    let stmt = this.readChunkStmts.get(block);
    if (!stmt) {
      stmt = this.db
        .prepare(
          `SELECT min_t, max_t, data FROM ${blockTableName(block)} WHERE series_id = ? AND max_t >= ? AND max_t <= ? AND min_t <= ? ORDER BY max_t`,
        )
        .raw();
      this.readChunkStmts.set(block, stmt);
    }
    return stmt.all(seriesId, fromMaxT, toMaxT, toMinT) as ChunkRow[];
  }

  /** The oldest chunk start and newest chunk end of a block table, or null if it is empty. */
  blockTimeRange(block: number): { minT: number; maxT: number } | null {
    if (!this.blockSet.has(block)) return null;
    const row = this.db
      .prepare(`SELECT min(min_t), max(max_t) FROM ${blockTableName(block)}`)
      .raw()
      .get() as [number | null, number | null];
    return row[0] === null || row[1] === null ? null : { minT: row[0], maxT: row[1] };
  }

  dropBlock(block: number): void {
    this.insertChunkStmts.delete(block);
    this.readChunkStmts.delete(block);
    this.db.exec(`DROP TABLE IF EXISTS ${blockTableName(block)}`);
    this.blockSet.delete(block);
    this.sortedBlocks = null;
  }

  /** Returns free pages to the file system; cheap when there are none. */
  reclaimSpace(): void {
    this.db.pragma("incremental_vacuum");
  }

  /** SQLite's own structural check; [] when the file is sound. */
  quickCheck(): string[] {
    const rows = this.db.pragma("quick_check") as { quick_check: string }[];
    return rows.map((r) => r.quick_check).filter((s) => s !== "ok");
  }

  checkpointFile(): void {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
