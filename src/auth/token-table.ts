/**
 * Where token rows live: the embedded metadata database (sqlite-token-table.ts) or PostgreSQL
 * shared by the replicas (pg/token-table.ts). A table only keeps rows; every rule about tokens
 * (format, hashing, the constant-time compare, revocation, expiry, caps, last-used batching) is
 * token-store.ts's, so both databases behave alike by construction. Calls may answer at once
 * (SQLite) or later (PostgreSQL).
 */
import type { TokenRow } from "./tokens.js";

export type MaybePromise<T> = T | Promise<T>;

/**
 * A token row as both databases store it (snake_case columns); `Time` is how the database hands
 * back a timestamp (SQLite: ms as a number, PostgreSQL: timestamptz as a Date).
 */
export interface TokenColumns<Time> {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  hash: Buffer;
  created_at: Time;
  expires_at: Time | null;
  last_used_at: Time | null;
  revoked_at: Time | null;
}

/** The store's row from a database row, with timestamps turned into ms. */
export function rowFromColumns<Time>(r: TokenColumns<Time>, toMs: (t: Time) => number): TokenRow {
  const orNull = (t: Time | null) => (t === null ? null : toMs(t));
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    prefix: r.prefix,
    hash: r.hash,
    createdAt: toMs(r.created_at),
    expiresAt: orNull(r.expires_at),
    lastUsedAt: orNull(r.last_used_at),
    revokedAt: orNull(r.revoked_at),
  };
}

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
