/** The embedded metadata database (tokens and other small state), beside the time-series store. */
import { join } from "node:path";
import Database from "better-sqlite3";

export const META_DB_FILE = "meta.db";

export function openMetaDb(dataDir: string): Database.Database {
  const db = new Database(join(dataDir, META_DB_FILE));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  return db;
}
