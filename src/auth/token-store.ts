/**
 * The token store the API uses, the same over every table: a presented token is checked for its
 * kind's prefix, hashed and looked up by hash, then the stored hash is compared in constant time
 * (the look-up is by hash, so its timing says nothing about the secret); revoked and expired
 * tokens are refused with their reason; a cap on a project's live tokens is counted and enforced
 * by the table atomically. Last-used times are kept in memory and written in batches, so checking
 * a token costs one indexed read and no write; they lag by up to one flush interval elsewhere.
 */

import { timingSafeEqual } from "node:crypto";
import { TokenLimitError } from "./errors.js";
import type { TokenTable } from "./token-table.js";
import {
  type CreatedToken,
  type CreateTokenOptions,
  hashToken,
  MONITORING_TOKENS,
  newToken,
  type TokenInfo,
  type TokenKind,
  tokenInfo,
  type Verification,
} from "./tokens.js";

/** Most last-used times written by one call to the table. */
const FLUSH_BATCH = 1_000;

export interface TokenStoreOptions {
  kind?: TokenKind;
  now?: () => number;
  /** How often noted last-used times are written (default 30 s). */
  flushIntervalMs?: number;
  log?: (fields: Record<string, unknown>, message: string) => void;
}

export class TokenStore {
  readonly kind: TokenKind;
  private readonly pendingLastUsed = new Map<string, number>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly log: NonNullable<TokenStoreOptions["log"]>;

  constructor(
    private readonly table: TokenTable,
    o: TokenStoreOptions = {},
  ) {
    this.kind = o.kind ?? MONITORING_TOKENS;
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
    this.flushTimer = setInterval(() => {
      // A full disk or an unreachable database must not take the process down from a timer;
      // the times stay pending for the next flush.
      this.flushLastUsed().catch((err) =>
        this.log({ component: "tokens", err: (err as Error).message }, "could not write last-used times"),
      );
    }, o.flushIntervalMs ?? 30_000);
    this.flushTimer.unref();
  }

  /**
   * Makes a token for a project ("*" for an all-projects ingest token); its value is returned once.
   * With `maxLive`, throws TokenLimitError instead when the project already has that many live tokens.
   */
  async create(
    projectId: string,
    name: string,
    expiresAt: Date | null,
    options: CreateTokenOptions = {},
  ): Promise<CreatedToken> {
    const { token, row } = newToken(this.kind, projectId, name, expiresAt, this.now());
    const maxLive = options.maxLive ?? 0;
    const res = await this.table.insert(row, maxLive);
    if (!res.inserted) {
      throw new TokenLimitError(
        projectId,
        maxLive,
        res.firstExpiry === null ? null : new Date(res.firstExpiry),
      );
    }
    return { ...tokenInfo(row), token };
  }

  /** Live (not revoked) tokens of a project, or of all when none is given, newest first; never their values. */
  async list(projectId?: string): Promise<TokenInfo[]> {
    const rows = await this.table.listLive(projectId);
    return rows.map((r) => tokenInfo(r, this.pendingLastUsed.get(r.id)));
  }

  /** Revokes a live token of the project; false when the project has no such live token. */
  async revoke(projectId: string, tokenId: string): Promise<boolean> {
    return this.table.revoke(tokenId, projectId, this.now());
  }

  /** Revokes a live token whatever its project; false when there is no such live token. */
  async revokeById(tokenId: string): Promise<boolean> {
    return this.table.revoke(tokenId, undefined, this.now());
  }

  /** Checks a presented token against the table and, when valid, notes its use. */
  async verify(presented: string): Promise<Verification> {
    if (!presented.startsWith(this.kind.prefix)) return { ok: false, reason: "unknown" };
    const hash = hashToken(presented);
    const row = await this.table.byHash(hash);
    if (!row || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) {
      return { ok: false, reason: "unknown" };
    }
    if (row.revokedAt !== null) return { ok: false, reason: "revoked" };
    const now = this.now();
    if (row.expiresAt !== null && row.expiresAt <= now) {
      return { ok: false, reason: "expired", expiredAt: new Date(row.expiresAt) };
    }
    this.pendingLastUsed.set(row.id, now);
    return { ok: true, token: tokenInfo(row, now) };
  }

  /** Writes the noted last-used times now (they are also written every flush interval). */
  async flushLastUsed(): Promise<void> {
    if (this.pendingLastUsed.size === 0) return;
    const entries = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    for (let i = 0; i < entries.length; i += FLUSH_BATCH) {
      try {
        await this.table.writeLastUsed(entries.slice(i, i + FLUSH_BATCH));
      } catch (err) {
        // Keep what was not written for the next flush, unless a newer use was noted meanwhile.
        for (const [id, t] of entries.slice(i)) {
          if ((this.pendingLastUsed.get(id) ?? 0) < t) this.pendingLastUsed.set(id, t);
        }
        throw err;
      }
    }
  }

  /**
   * Stops the flush timer and writes what is pending. Last-used times are a hint for listings that
   * no token depends on: on a full disk or during an outage they are given up, not the shutdown.
   */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    try {
      await this.flushLastUsed();
    } catch (err) {
      this.log({ component: "tokens", err: (err as Error).message }, "last-used times not written at close");
    }
  }
}
