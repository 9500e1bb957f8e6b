/**
 * Token rows in the embedded metadata database (one table per kind, created if missing). Calls
 * are synchronous: better-sqlite3 answers in microseconds from the page cache.
 */
import type Database from "better-sqlite3";
import { rowFromColumns, type TokenColumns, type TokenTable } from "./token-table.js";
import type { TokenKind, TokenRow } from "./tokens.js";

/** A row as SQLite holds it (times in ms). */
/** A row as SQLite holds it (timestamps in ms). */
type SqliteRow = TokenColumns<number>;

const fromSqlite = (r: SqliteRow): TokenRow => rowFromColumns(r, (t) => t);

/** Every row of a kind's table, revoked ones included (for moving them to PostgreSQL). */
export function readAllSqliteTokenRows(db: Database.Database, kind: TokenKind): TokenRow[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(kind.table);
  return exists ? db.prepare<[], SqliteRow>(`SELECT * FROM ${kind.table}`).all().map(fromSqlite) : [];
}

export class SqliteTokenTable implements TokenTable {
  private readonly table: string;
  private readonly byHashStmt: Database.Statement<[Buffer], SqliteRow>;
  private readonly insertStmt: Database.Statement<[Record<string, unknown>]>;
  private readonly countLiveStmt: Database.Statement<[string, number], { n: number; first: number | null }>;

  constructor(
    private readonly db: Database.Database,
    kind: TokenKind,
  ) {
    const table = kind.table;
    this.table = table;
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      id TEXT PRIMARY KEY,
      project_id TEXT NOT NULL,
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      hash BLOB NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      expires_at INTEGER,
      last_used_at INTEGER,
      revoked_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS ${table}_project ON ${table}(project_id);`);
    this.byHashStmt = db.prepare(`SELECT * FROM ${table} WHERE hash = ?`);
    this.insertStmt = db.prepare(
      `INSERT INTO ${table} (id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at)
       VALUES (@id, @projectId, @name, @prefix, @hash, @createdAt, @expiresAt, @lastUsedAt, @revokedAt)`,
    );
    this.countLiveStmt = db.prepare(
      `SELECT count(*) AS n, min(expires_at) AS first FROM ${table}
       WHERE project_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
    );
  }

  insert(
    row: TokenRow,
    maxLive: number,
  ): { inserted: true } | { inserted: false; firstExpiry: number | null } {
    if (maxLive <= 0) {
      this.insertStmt.run({ ...row });
      return { inserted: true };
    }
    // IMMEDIATE takes the write lock before counting, so no other writer can slip in between.
    return this.db
      .transaction(() => {
        const live = this.countLiveStmt.get(row.projectId, row.createdAt);
        if (live && live.n >= maxLive) return { inserted: false as const, firstExpiry: live.first };
        this.insertStmt.run({ ...row });
        return { inserted: true as const };
      })
      .immediate();
  }

  byHash(hash: Buffer): TokenRow | undefined {
    const r = this.byHashStmt.get(hash);
    return r && fromSqlite(r);
  }

  listLive(projectId: string | undefined): TokenRow[] {
    const where = projectId === undefined ? "" : "project_id = ? AND";
    return this.db
      .prepare<string[], SqliteRow>(
        `SELECT * FROM ${this.table} WHERE ${where} revoked_at IS NULL ORDER BY created_at DESC, id`,
      )
      .all(...(projectId === undefined ? [] : [projectId]))
      .map(fromSqlite);
  }

  revoke(tokenId: string, projectId: string | undefined, at: number): boolean {
    const res =
      projectId === undefined
        ? this.db
            .prepare(`UPDATE ${this.table} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`)
            .run(at, tokenId)
        : this.db
            .prepare(
              `UPDATE ${this.table} SET revoked_at = ? WHERE id = ? AND project_id = ? AND revoked_at IS NULL`,
            )
            .run(at, tokenId, projectId);
    return res.changes > 0;
  }

  writeLastUsed(uses: ReadonlyArray<readonly [string, number]>): void {
    const update = this.db.prepare(
      `UPDATE ${this.table} SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`,
    );
    this.db.transaction(() => {
      for (const [id, t] of uses) update.run(t, id);
    })();
  }
}
