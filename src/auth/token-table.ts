/**
 * Where token rows live: the embedded metadata database (sqlite-token-table.ts) or PostgreSQL
 * shared by the replicas (pg/token-table.ts). A table only keeps rows; every rule about tokens
 * (format, hashing, the constant-time compare, revocation, expiry, caps, last-used batching) is
 * token-store.ts's, so both databases behave alike by construction. Calls may answer at once
 * (SQLite) or later (PostgreSQL).
 */
import type { TokenRow } from "./tokens.js";

export type MaybePromise<T> = T | Promise<T>;

export interface TokenTable {
  /**
   * Stores a new row. With `maxLive` > 0, counts the project's live rows (not revoked, not expired
   * at `row.createdAt`) and inserts only below that count, as one atomic step across every
   * connection; a full project answers with the earliest expiry among its live rows.
   */
  insert(
    row: TokenRow,
    maxLive: number,
  ): MaybePromise<{ inserted: true } | { inserted: false; firstExpiry: number | null }>;
  /** The row whose hash is this one (revoked and expired rows included). */
  byHash(hash: Buffer): MaybePromise<TokenRow | undefined>;
  /** Rows not revoked, of a project or of all, newest first (ties by id). */
  listLive(projectId: string | undefined): MaybePromise<TokenRow[]>;
  /** Marks a live row revoked (only within `projectId` when given); false when there is none. */
  revoke(tokenId: string, projectId: string | undefined, at: number): MaybePromise<boolean>;
  /** Raises each row's last-used time to the one given (never lowers it). */
  writeLastUsed(uses: ReadonlyArray<readonly [id: string, at: number]>): MaybePromise<void>;
}
