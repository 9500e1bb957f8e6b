/**
 * Monitoring tokens: long random secrets bound to one project. Only their SHA-256 is stored, in
 * the metadata database; a presented token is hashed and looked up by hash, then the stored hash
 * is compared in constant time. Last-used times are kept in memory and written in batches, so a
 * query costs one indexed read and no write.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";

/** What every monitoring token starts with, so leaked ones are easy to recognise and scan for. */
export const MONITORING_TOKEN_PREFIX = "mim_mon_";
/** Characters of the token shown in listings to tell tokens apart (prefix + 6 of the secret). */
const SHOWN_PREFIX_LENGTH = MONITORING_TOKEN_PREFIX.length + 6;

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

export type Verification =
  | { ok: true; token: TokenInfo }
  | { ok: false; reason: "unknown" | "expired" | "revoked"; expiredAt?: Date };

interface TokenRow {
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

function sha256(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function toInfo(r: TokenRow, lastUsed?: number): TokenInfo {
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
  private readonly byHash: Database.Statement<[Buffer], TokenRow>;
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
    flushIntervalMs = 30_000,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS monitoring_tokens (
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
    CREATE INDEX IF NOT EXISTS monitoring_tokens_project ON monitoring_tokens(project_id);`);
    this.byHash = db.prepare("SELECT * FROM monitoring_tokens WHERE hash = ?");
    this.flushTimer = setInterval(() => this.flushLastUsed(), flushIntervalMs);
    this.flushTimer.unref();
  }

  create(projectId: string, name: string, expiresAt: Date | null): CreatedToken {
    const token = MONITORING_TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const row: TokenRow = {
      id: `tok_${randomUUID().replaceAll("-", "").slice(0, 20)}`,
      project_id: projectId,
      name,
      prefix: token.slice(0, SHOWN_PREFIX_LENGTH),
      hash: sha256(token),
      created_at: this.now(),
      expires_at: expiresAt ? expiresAt.getTime() : null,
      last_used_at: null,
      revoked_at: null,
    };
    this.db
      .prepare(
        `INSERT INTO monitoring_tokens (id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at)
         VALUES (@id, @project_id, @name, @prefix, @hash, @created_at, @expires_at, @last_used_at, @revoked_at)`,
      )
      .run(row);
    return { ...toInfo(row), token };
  }

  /** Tokens of a project that are not revoked, newest first; never their values. */
  list(projectId: string): TokenInfo[] {
    const rows = this.db
      .prepare<[string], TokenRow>(
        "SELECT * FROM monitoring_tokens WHERE project_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id",
      )
      .all(projectId);
    return rows.map((r) => toInfo(r, this.pendingLastUsed.get(r.id)));
  }

  /** Revokes a token of the project; false when the project has no such live token. */
  revoke(projectId: string, tokenId: string): boolean {
    const res = this.db
      .prepare(
        "UPDATE monitoring_tokens SET revoked_at = ? WHERE id = ? AND project_id = ? AND revoked_at IS NULL",
      )
      .run(this.now(), tokenId, projectId);
    return res.changes > 0;
  }

  /** Checks a presented token and, when valid, notes its use. */
  verify(presented: string): Verification {
    if (!presented.startsWith(MONITORING_TOKEN_PREFIX)) return { ok: false, reason: "unknown" };
    const hash = sha256(presented);
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
      "UPDATE monitoring_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?",
    );
    const entries = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    this.db.transaction(() => {
      for (const [id, t] of entries) update.run(t, id);
    })();
  }

  close(): void {
    clearInterval(this.flushTimer);
    this.flushLastUsed();
  }
}
