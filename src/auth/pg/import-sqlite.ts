/**
 * Moving a node's tokens from its embedded metadata database to PostgreSQL when it becomes one of
 * several replicas: every row of both kinds, revoked ones included (so a revoked token stays
 * revoked), with its id, hash and times. Rows already there (same id) are left alone, so running
 * it twice is harmless. Token values are never needed: only their hashes move.
 */
import type Database from "better-sqlite3";
import type { Pool } from "pg";
import { INGEST_TOKENS, MONITORING_TOKENS, type SqliteTokenRow } from "../tokens.js";
import { migrate } from "./schema.js";

const ms = (v: number | null) => (v === null ? null : new Date(v));

/** Copies the tokens; returns how many rows of each table were new in PostgreSQL. */
export async function importSqliteTokens(
  meta: Database.Database,
  pool: Pool,
): Promise<Record<string, { read: number; inserted: number }>> {
  await migrate(pool);
  const out: Record<string, { read: number; inserted: number }> = {};
  for (const { table } of [MONITORING_TOKENS, INGEST_TOKENS]) {
    const exists = meta.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    const rows = exists ? meta.prepare<[], SqliteTokenRow>(`SELECT * FROM ${table}`).all() : [];
    let inserted = 0;
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      await client.query("BEGIN");
      for (const r of rows) {
        const res = await client.query(
          `INSERT INTO ${table} (id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
          [
            r.id,
            r.project_id,
            r.name,
            r.prefix,
            r.hash,
            ms(r.created_at),
            ms(r.expires_at),
            ms(r.last_used_at),
            ms(r.revoked_at),
          ],
        );
        inserted += res.rowCount ?? 0;
      }
      await client.query("COMMIT");
    } catch (err) {
      failure = err as Error;
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release(failure);
    }
    out[table] = { read: rows.length, inserted };
  }
  return out;
}
