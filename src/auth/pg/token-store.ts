/**
 * Tokens in PostgreSQL, shared by every API replica, with the SQLite TokenStore's behaviour: the
 * same token format and prefixes, only the SHA-256 stored, looked up by its unique index and then
 * compared in constant time; expiry by the caller's clock; revocation marks the row. Each verify
 * reads the row (one prepared, indexed query; no cache), so a revocation or creation on one replica
 * holds on every replica from the moment its statement commits. Last-used times are kept in memory
 * and written in one batched statement per flush interval (so they lag by up to that interval on
 * other replicas). Every failure to reach the database is a TokenStoreUnavailableError.
 */
import { timingSafeEqual } from "node:crypto";
import type { Pool } from "pg";
import {
  type CreatedToken,
  type CreateTokenOptions,
  hashToken,
  INGEST_TOKENS,
  MONITORING_TOKENS,
  mintToken,
  type TokenInfo,
  type TokenKind,
  TokenLimitError,
  type Verification,
} from "../tokens.js";
import { guarded } from "./pool.js";
import type { TokenRepository } from "./repository.js";

/** Most last-used updates written by one statement. */
const FLUSH_BATCH = 1_000;
const COLUMNS = "id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at";

interface TokenRow {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  hash: Buffer;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface PgTokenStoreOptions {
  now?: () => number;
  /** How often noted last-used times are written (default 30 s, as the SQLite store). */
  flushIntervalMs?: number;
  log?: (fields: Record<string, unknown>, message: string) => void;
}

function toInfo(r: TokenRow, lastUsed?: number): TokenInfo {
  const used = Math.max(lastUsed ?? 0, r.last_used_at?.getTime() ?? 0);
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    prefix: r.prefix,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: used > 0 ? new Date(used) : null,
  };
}

/** One kind of token (monitoring or ingest) in its table; run migrate() on the pool first. */
export class PgTokenStore implements TokenRepository {
  private readonly pendingLastUsed = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly table: string;
  private readonly now: () => number;
  private readonly log: NonNullable<PgTokenStoreOptions["log"]>;

  constructor(
    private readonly pool: Pool,
    private readonly kind: TokenKind = MONITORING_TOKENS,
    o: PgTokenStoreOptions = {},
  ) {
    if (kind.table !== MONITORING_TOKENS.table && kind.table !== INGEST_TOKENS.table) {
      throw new Error(`no PostgreSQL table for token kind ${kind.table}`);
    }
    this.table = kind.table;
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
    this.flushTimer = setInterval(() => {
      this.flushLastUsed().catch((err) =>
        this.log({ component: "tokens", err: (err as Error).message }, "could not write last-used times"),
      );
    }, o.flushIntervalMs ?? 30_000);
    this.flushTimer.unref();
  }

  async create(
    projectId: string,
    name: string,
    expiresAt: Date | null,
    options: CreateTokenOptions = {},
  ): Promise<CreatedToken> {
    const { token, id, prefix, hash } = mintToken(this.kind);
    const row: TokenRow = {
      id,
      project_id: projectId,
      name,
      prefix,
      hash,
      created_at: new Date(this.now()),
      expires_at: expiresAt ? new Date(expiresAt.getTime()) : null,
      last_used_at: null,
      revoked_at: null,
    };
    const insert = {
      name: `mim_${this.table}_insert`,
      text: `INSERT INTO ${this.table} (id, project_id, name, prefix, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      values: [row.id, row.project_id, row.name, row.prefix, row.hash, row.created_at, row.expires_at],
    };
    const maxLive = options.maxLive ?? 0;
    if (maxLive <= 0) {
      await guarded("create", () => this.pool.query(insert));
    } else {
      await guarded("create", () => this.createCapped(projectId, maxLive, row.created_at, insert));
    }
    return { ...toInfo(row), token };
  }

  /**
   * Counts the project's live tokens and inserts in one transaction under a transaction-scoped
   * advisory lock on (table, project): under READ COMMITTED two concurrent count-then-insert
   * transactions (on any replicas) would both see room for one more; the lock serialises them.
   */
  private async createCapped(
    projectId: string,
    maxLive: number,
    now: Date,
    insert: { name: string; text: string; values: unknown[] },
  ): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      try {
        await client.query({
          name: "mim_token_cap_lock",
          text: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
          values: [`${this.table}:${projectId}`],
        });
        const live = await client.query<{ n: string; first: Date | null }>({
          name: `mim_${this.table}_count_live`,
          text: `SELECT count(*) AS n, min(expires_at) AS first FROM ${this.table}
                 WHERE project_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
          values: [projectId, now],
        });
        const { n, first } = live.rows[0] ?? { n: "0", first: null };
        if (Number(n) >= maxLive) throw new TokenLimitError(projectId, maxLive, first);
        await client.query(insert);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    } catch (err) {
      // A connection that failed mid-transaction is not given back to the pool; one that only
      // found the project full is.
      if (!(err instanceof TokenLimitError)) broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async list(projectId?: string): Promise<TokenInfo[]> {
    const res = await guarded("list", () =>
      projectId === undefined
        ? this.pool.query<TokenRow>({
            name: `mim_${this.table}_list_all`,
            text: `SELECT ${COLUMNS} FROM ${this.table} WHERE revoked_at IS NULL ORDER BY created_at DESC, id`,
          })
        : this.pool.query<TokenRow>({
            name: `mim_${this.table}_list`,
            text: `SELECT ${COLUMNS} FROM ${this.table}
                   WHERE project_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`,
            values: [projectId],
          }),
    );
    return res.rows.map((r) => toInfo(r, this.pendingLastUsed.get(r.id)));
  }

  async revoke(projectId: string, tokenId: string): Promise<boolean> {
    const res = await guarded("revoke", () =>
      this.pool.query({
        name: `mim_${this.table}_revoke`,
        text: `UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND project_id = $3 AND revoked_at IS NULL`,
        values: [new Date(this.now()), tokenId, projectId],
      }),
    );
    return (res.rowCount ?? 0) > 0;
  }

  async revokeById(tokenId: string): Promise<boolean> {
    const res = await guarded("revoke", () =>
      this.pool.query({
        name: `mim_${this.table}_revoke_by_id`,
        text: `UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
        values: [new Date(this.now()), tokenId],
      }),
    );
    return (res.rowCount ?? 0) > 0;
  }

  async verify(presented: string): Promise<Verification> {
    if (!presented.startsWith(this.kind.prefix)) return { ok: false, reason: "unknown" };
    const hash = hashToken(presented);
    const res = await guarded("verify", () =>
      this.pool.query<TokenRow>({
        name: `mim_${this.table}_verify`,
        text: `SELECT ${COLUMNS} FROM ${this.table} WHERE hash = $1`,
        values: [hash],
      }),
    );
    const row = res.rows[0];
    // The lookup is by hash, so timing says nothing about the secret; the compare guards the match.
    if (!row || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) {
      return { ok: false, reason: "unknown" };
    }
    if (row.revoked_at !== null) return { ok: false, reason: "revoked" };
    const now = this.now();
    if (row.expires_at !== null && row.expires_at.getTime() <= now) {
      return { ok: false, reason: "expired", expiredAt: row.expires_at };
    }
    this.pendingLastUsed.set(row.id, now);
    return { ok: true, token: toInfo(row, now) };
  }

  async flushLastUsed(): Promise<void> {
    if (this.pendingLastUsed.size === 0) return;
    const entries = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    for (let i = 0; i < entries.length; i += FLUSH_BATCH) {
      const batch = entries.slice(i, i + FLUSH_BATCH);
      try {
        await guarded("last-used", () =>
          this.pool.query({
            name: `mim_${this.table}_last_used`,
            // GREATEST ignores NULL: a first use sets the time, a later flush never moves it back.
            text: `UPDATE ${this.table} AS t SET last_used_at = GREATEST(t.last_used_at, u.at)
                   FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id`,
            values: [batch.map(([id]) => id), batch.map(([, t]) => new Date(t))],
          }),
        );
      } catch (err) {
        // Keep what was not written for the next flush, unless a newer use was noted meanwhile.
        for (const [id, t] of entries.slice(i)) {
          if ((this.pendingLastUsed.get(id) ?? 0) < t) this.pendingLastUsed.set(id, t);
        }
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    try {
      await this.flushLastUsed();
    } catch (err) {
      // Shutting down during an outage loses at most one interval of last-used times, nothing else.
      this.log({ component: "tokens", err: (err as Error).message }, "last-used times not written at close");
    }
  }
}
