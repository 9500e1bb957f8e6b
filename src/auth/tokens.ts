/**
 * Tokens: long random secrets bound to a project. Two kinds share this store's logic: monitoring
 * tokens (read a project's metrics) and ingest tokens (write samples; bound to one project or, with
 * project "*", to all). Only their SHA-256 is stored, in the metadata database; a presented token
 * is hashed and looked up by hash, then the stored hash is compared in constant time. Last-used
 * times are kept in memory and written in batches, so a request costs one indexed read, no write.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import { isDiskFullError } from "../storage/errors.js";

/** What every token starts with, so leaked ones are easy to recognise and scan for. */
export const MONITORING_TOKEN_PREFIX = "mim_mon_";
export const INGEST_TOKEN_PREFIX = "mim_ing_";
/** An ingest token's project when it may write to every project. */
export const ALL_PROJECTS = "*";

export interface TokenKind {
  /** Table in the metadata database. */
  table: string;
  prefix: string;
}

export const MONITORING_TOKENS: TokenKind = { table: "monitoring_tokens", prefix: MONITORING_TOKEN_PREFIX };
export const INGEST_TOKENS: TokenKind = { table: "ingest_tokens", prefix: INGEST_TOKEN_PREFIX };

/** Characters of a token shown in listings to tell tokens apart: the prefix and 6 of the secret. */
const SHOWN_SECRET_CHARS = 6;

export interface TokenInfo {
  id: string;
  projectId: string;
  name: string;
  /** The token's first characters, safe to show. */
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface CreatedToken extends TokenInfo {
  /** The secret itself; returned once, never stored. */
  token: string;
}

/** How a token may be created: at most `maxLive` live tokens of the project (0 or absent = no cap). */
export interface CreateTokenOptions {
  maxLive?: number;
}

/**
 * The project already has `maxLive` live (neither revoked nor expired) tokens of the kind. The
 * count and the insert are one atomic step in the store, so concurrent requests (or replicas)
 * cannot overshoot it.
 */
export class TokenLimitError extends Error {
  override readonly name = "TokenLimitError";
  constructor(
    readonly projectId: string,
    readonly maxLive: number,
    /** When the first of the live tokens expires (and so frees a place), if any of them does. */
    readonly firstExpiry: Date | null,
  ) {
    super(`project ${projectId} already has ${maxLive} live tokens, the most allowed`);
  }
}

export type Verification =
  | { ok: true; token: TokenInfo }
  | { ok: false; reason: "unknown" | "expired" | "revoked"; expiredAt?: Date };

/** A row of a token table in the metadata database (times in ms). */
export interface SqliteTokenRow {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  hash: Buffer;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** What is stored of a token: its SHA-256. */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A new token of a kind: the secret, its id, the prefix listings show, and the hash to store. */
export function mintToken(kind: TokenKind): { token: string; id: string; prefix: string; hash: Buffer } {
  const token = kind.prefix + randomBytes(32).toString("base64url");
  return {
    token,
    id: `tok_${randomUUID().replaceAll("-", "").slice(0, 20)}`,
    prefix: token.slice(0, kind.prefix.length + SHOWN_SECRET_CHARS),
    hash: hashToken(token),
  };
}

function toInfo(r: SqliteTokenRow, lastUsed?: number): TokenInfo {
  const used = Math.max(lastUsed ?? 0, r.last_used_at ?? 0);
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    prefix: r.prefix,
    createdAt: new Date(r.created_at),
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
    lastUsedAt: used > 0 ? new Date(used) : null,
  };
}

export class TokenStore {
  private readonly pendingLastUsed = new Map<string, number>();
  private readonly byHash: Database.Statement<[Buffer], SqliteTokenRow>;
  private readonly flushTimer: NodeJS.Timeout;

  private readonly table: string;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
    private readonly kind: TokenKind = MONITORING_TOKENS,
    flushIntervalMs = 30_000,
  ) {
    const table = kind.table;
    if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid token table name ${table}`);
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
    this.byHash = db.prepare(`SELECT * FROM ${table} WHERE hash = ?`);
    this.flushTimer = setInterval(() => {
      // A full disk (or a locked database) must not take the process down from a timer; the
      // times stay pending for the next flush.
      try {
        this.flushLastUsed();
      } catch {}
    }, flushIntervalMs);
    this.flushTimer.unref();
  }

  create(
    projectId: string,
    name: string,
    expiresAt: Date | null,
    options: CreateTokenOptions = {},
  ): CreatedToken {
    const { token, id, prefix, hash } = mintToken(this.kind);
    const row: SqliteTokenRow = {
      id,
      project_id: projectId,
      name,
      prefix,
      hash,
      created_at: this.now(),
      expires_at: expiresAt ? expiresAt.getTime() : null,
      last_used_at: null,
      revoked_at: null,
    };
    const insert = () =>
      this.db
        .prepare(
          `INSERT INTO ${this.table} (id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at)
           VALUES (@id, @project_id, @name, @prefix, @hash, @created_at, @expires_at, @last_used_at, @revoked_at)`,
        )
        .run(row);
    const maxLive = options.maxLive ?? 0;
    if (maxLive <= 0) {
      insert();
    } else {
      // IMMEDIATE takes the write lock before counting, so no other writer can slip in between.
      this.db
        .transaction(() => {
          const live = this.db
            .prepare<[string, number], { n: number; first: number | null }>(
              `SELECT count(*) AS n, min(expires_at) AS first FROM ${this.table}
               WHERE project_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
            )
            .get(projectId, row.created_at);
          if (live && live.n >= maxLive) {
            throw new TokenLimitError(projectId, maxLive, live.first === null ? null : new Date(live.first));
          }
          insert();
        })
        .immediate();
    }
    return { ...toInfo(row), token };
  }

  /** Tokens of a project (or of all, when none is given) that are not revoked, newest first; never their values. */
  list(projectId?: string): TokenInfo[] {
    const where = projectId === undefined ? "" : "project_id = ? AND";
    const rows = this.db
      .prepare<string[], SqliteTokenRow>(
        `SELECT * FROM ${this.table} WHERE ${where} revoked_at IS NULL ORDER BY created_at DESC, id`,
      )
      .all(...(projectId === undefined ? [] : [projectId]));
    return rows.map((r) => toInfo(r, this.pendingLastUsed.get(r.id)));
  }

  /** Revokes a token of the project; false when the project has no such live token. */
  revoke(projectId: string, tokenId: string): boolean {
    const res = this.db
      .prepare(
        `UPDATE ${this.table} SET revoked_at = ? WHERE id = ? AND project_id = ? AND revoked_at IS NULL`,
      )
      .run(this.now(), tokenId, projectId);
    return res.changes > 0;
  }

  /** Revokes a token whatever its project; false when there is no such live token. */
  revokeById(tokenId: string): boolean {
    const res = this.db
      .prepare(`UPDATE ${this.table} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`)
      .run(this.now(), tokenId);
    return res.changes > 0;
  }

  /** Checks a presented token and, when valid, notes its use. */
  verify(presented: string): Verification {
    if (!presented.startsWith(this.kind.prefix)) return { ok: false, reason: "unknown" };
    const hash = hashToken(presented);
    const row = this.byHash.get(hash);
    // The lookup is by hash, so timing says nothing about the secret; the compare guards the match.
    if (!row || !timingSafeEqual(row.hash, hash)) return { ok: false, reason: "unknown" };
    if (row.revoked_at !== null) return { ok: false, reason: "revoked" };
    const now = this.now();
    if (row.expires_at !== null && row.expires_at <= now) {
      return { ok: false, reason: "expired", expiredAt: new Date(row.expires_at) };
    }
    this.pendingLastUsed.set(row.id, now);
    return { ok: true, token: toInfo(row, now) };
  }

  flushLastUsed(): void {
    if (this.pendingLastUsed.size === 0) return;
    const update = this.db.prepare(
      `UPDATE ${this.table} SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`,
    );
    const entries = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    try {
      this.db.transaction(() => {
        for (const [id, t] of entries) update.run(t, id);
      })();
    } catch (err) {
      // Keep what was not written, unless a newer use was noted meanwhile.
      for (const [id, t] of entries) {
        if ((this.pendingLastUsed.get(id) ?? 0) < t) this.pendingLastUsed.set(id, t);
      }
      throw err;
    }
  }

  close(): void {
    clearInterval(this.flushTimer);
    try {
      this.flushLastUsed();
    } catch (err) {
      // On a full disk the last-used times (a hint for listings, nothing a token depends on) are
      // given up rather than failing the shutdown.
      if (!isDiskFullError(err)) throw err;
    }
  }
}
