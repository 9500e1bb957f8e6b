/** The embedded metadata database (tokens and other small state), beside the time-series store. */
import { join } from "node:path";
import Database from "better-sqlite3";
import { isDiskFullError } from "../storage/errors.js";

export const META_DB_FILE = "meta.db";

function open(path: string, exclusive: boolean): Database.Database {
  const db = new Database(path);
  try {
    // First, before anything reads the file: the WAL index then lives in this process's memory.
    if (exclusive) db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens the metadata database. On a full disk, where the WAL index (-shm) file cannot be created
 * or grown (SQLITE_IOERR_SHMSIZE), it is opened with an exclusive lock instead, which keeps that
 * index in memory: tokens are still verified and listed, and writes (token creation, revocation)
 * fail with SQLITE_FULL until space is freed, then succeed without a restart.
 */
export function openMetaDb(dataDir: string, log: (message: string) => void = () => {}): Database.Database {
  const path = join(dataDir, META_DB_FILE);
  try {
    return open(path, false);
  } catch (err) {
    if (!isDiskFullError(err)) throw err;
    log(
      `${path}: the disk is full (${(err as Error).message}); opened with an exclusive lock and the WAL index in memory: tokens are verified, token writes are refused until space is freed`,
    );
    return open(path, true);
  }
}
