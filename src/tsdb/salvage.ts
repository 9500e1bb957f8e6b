/**
 * Rebuilds a damaged database file: the damaged file is moved aside (`tsdb.sqlite.corrupt-<time>`),
 * and every row that SQLite can still read and whose checksum holds is copied into a fresh file.
 * Rows are read in small windows so one bad page costs only the rows on it.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
import Database from "better-sqlite3";
import { blockTableName, chunkSeed, labelsCrc, SqliteStore, type SyncMode, unseal } from "./sqlite-store.js";

export interface SalvageReport {
  movedTo: string;
  seriesKept: number;
  seriesLost: number;
  headsKept: number;
  headsLost: number;
  walRecordsKept: number;
  walRecordsLost: number;
  chunksKept: number;
  chunksLost: number;
  /** Read errors met (a window of rows that could not be read counts once per row tried). */
  readErrors: number;
}

const WINDOW = 256;
/** Stop probing ids once this many windows in a row came back empty. */
const EMPTY_WINDOWS_TO_STOP = 64;

/**
 * A truncated file still claims its old page count in the header, and SQLite then refuses every
 * read. Shrinking the claim to the pages actually present lets the intact ones be read.
 */
function fitHeaderToFile(file: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r+");
    const header = Buffer.alloc(100);
    if (readSync(fd, header, 0, 100, 0) < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\0")
      return;
    const rawPageSize = header.readUInt16BE(16);
    const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return;
    const pages = Math.floor(fstatSync(fd).size / pageSize);
    if (pages === 0 || header.readUInt32BE(28) <= pages) return;
    ftruncateSync(fd, pages * pageSize);
    const count = Buffer.alloc(4);
    count.writeUInt32BE(pages);
    writeSync(fd, count, 0, 4, 28);
  } catch {
    /* best effort: salvage reads what it can either way */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function salvage(
  path: string,
  sync: SyncMode,
  maxBytes = 0,
): { store: SqliteStore; report: SalvageReport } {
  const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  renameSync(path, movedTo);
  for (const suffix of ["-wal", "-shm"])
    if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
  const report: SalvageReport = {
    movedTo,
    seriesKept: 0,
    seriesLost: 0,
    headsKept: 0,
    headsLost: 0,
    walRecordsKept: 0,
    walRecordsLost: 0,
    chunksKept: 0,
    chunksLost: 0,
    readErrors: 0,
  };
  const store = new SqliteStore(path, sync, maxBytes);
  fitHeaderToFile(movedTo);
  let old: Database.Database;
  try {
    old = new Database(movedTo, { fileMustExist: true });
    old.pragma("query_only = 1");
  } catch {
    report.readErrors++;
    return { store, report };
  }
  const tryAll = <T>(sql: string, ...params: unknown[]): T[] | null => {
    try {
      return old.prepare(sql).all(...params) as T[];
    } catch {
      report.readErrors++;
      return null;
    }
  };
  /** Reads rows keyed by an integer in windows, falling back to one key at a time inside a bad window. */
  const probe = <T>(table: string, key: string, columns: string, onRow: (row: T) => void): void => {
    let start = 0;
    let emptyRun = 0;
    const maxRow = tryAll<{ m: number | null }>(`SELECT max(${key}) AS m FROM ${table}`);
    const knownMax = maxRow?.[0]?.m ?? null;
    while (knownMax !== null ? start <= knownMax : emptyRun < EMPTY_WINDOWS_TO_STOP) {
      const rows = tryAll<T>(
        `SELECT ${columns} FROM ${table} WHERE ${key} >= ? AND ${key} < ? ORDER BY ${key}`,
        start,
        start + WINDOW,
      );
      if (rows) {
        for (const r of rows) onRow(r);
        emptyRun = rows.length ? 0 : emptyRun + 1;
      } else {
        let found = 0;
        for (let k = start; k < start + WINDOW; k++) {
          const one = tryAll<T>(`SELECT ${columns} FROM ${table} WHERE ${key} = ?`, k);
          if (one) for (const r of one) onRow(r);
          found += one?.length ?? 0;
        }
        // An unreadable window counts as empty, or a table that cannot be read at all never ends.
        emptyRun = found ? 0 : emptyRun + 1;
      }
      start += WINDOW;
    }
  };

  const seriesIds: number[] = [];
  store.transaction(() => {
    for (const key of ["checkpoint_seq", "block_duration_ms", "sealed_before"]) {
      const kept = tryAll<{ value: number }>(`SELECT value FROM meta WHERE key = '${key}'`);
      if (kept?.[0]) store.setMeta(key, kept[0].value);
    }
    probe<{ id: number; labels: string; first_t: number; crc: number }>(
      "series",
      "id",
      "id, labels, first_t, crc",
      (r) => {
        if (labelsCrc(r.labels, r.id) !== r.crc) {
          report.seriesLost++;
          return;
        }
        store.insertSeries(r.id, r.labels, r.first_t);
        seriesIds.push(r.id);
        report.seriesKept++;
      },
    );
    const known = new Set(seriesIds);
    probe<{ series_id: number; data: Buffer }>("head", "series_id", "series_id, data", (r) => {
      if (known.has(r.series_id) && unseal(r.data, r.series_id)) {
        store.putHead(r.series_id, r.data);
        report.headsKept++;
      } else report.headsLost++;
    });
    // Records carry their own checksum; a damaged one is dropped when replayed. Gaps in the
    // sequence above the checkpoint are records that could not be read at all.
    const insertWal = store.db.prepare("INSERT INTO wal (seq, record) VALUES (?, ?)");
    let prevSeq = store.getMeta("checkpoint_seq") ?? 0;
    probe<{ seq: number; record: Buffer }>("wal", "seq", "seq, record", (r) => {
      insertWal.run(r.seq, r.record);
      if (r.seq > prevSeq + 1) report.walRecordsLost += r.seq - prevSeq - 1;
      prevSeq = Math.max(prevSeq, r.seq);
      report.walRecordsKept++;
    });
    const tables = tryAll<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'chunks_%'",
    );
    for (const { name } of tables ?? []) {
      const m = /^chunks_(n?)(\d+)$/.exec(name);
      if (!m) continue;
      const block = m[1] ? -Number(m[2]) : Number(m[2]);
      if (blockTableName(block) !== name) continue;
      for (const id of seriesIds) {
        const rows = tryAll<{ min_t: number; max_t: number; data: Buffer }>(
          `SELECT min_t, max_t, data FROM ${name} WHERE series_id = ?`,
          id,
        );
        if (!rows) continue;
        for (const r of rows) {
          if (unseal(r.data, chunkSeed(id, r.min_t, r.max_t))) {
            store.insertChunk(block, id, r.min_t, r.max_t, r.data);
            report.chunksKept++;
          } else report.chunksLost++;
        }
      }
    }
  });
  old.close();
  return { store, report };
}
