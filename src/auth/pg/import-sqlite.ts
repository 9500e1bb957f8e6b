/**
 * Moving a node's tokens from its embedded metadata database to PostgreSQL when it becomes one of
 * several replicas: every row of both kinds, revoked ones included (so a revoked token stays
 * revoked), with its id, hash and times. Rows already there (same id) are left alone, so running
 * it twice is harmless. Token values are never needed: only their hashes move.
 */
import type Database from "better-sqlite3";
import type { Pool } from "pg";
import { readAllSqliteTokenRows } from "../sqlite-token-table.js";
import { TOKEN_KINDS } from "../tokens.js";
import { inTransaction } from "./pool.js";
import { migrate } from "./schema.js";
import { insertRowQuery } from "./token-table.js";

/** Copies the tokens; returns how many rows of each table were new in PostgreSQL. */
export async function importSqliteTokens(
  meta: Database.Database,
  pool: Pool,
): Promise<Record<string, { read: number; inserted: number }>> {
  await migrate(pool);
  const out: Record<string, { read: number; inserted: number }> = {};
  for (const kind of TOKEN_KINDS) {
    const rows = readAllSqliteTokenRows(meta, kind);
    const inserted = await inTransaction(pool, async (client) => {
      let n = 0;
      for (const r of rows) n += (await client.query(insertRowQuery(kind.table, r, true))).rowCount ?? 0;
      return n;
    });
    out[kind.table] = { read: rows.length, inserted };
  }
  return out;
}
