/**
 * The token store as the API sees it once tokens may live in PostgreSQL: every call is async, and
 * a store that cannot reach its database says so with TokenStoreUnavailableError, which the API
 * answers with 503 (fail closed: no token is accepted that could not be checked). The embedded
 * SQLite TokenStore satisfies it through SqliteTokenRepository; PgTokenStore implements it natively.
 */
import { isDiskFullError } from "../../storage/errors.js";
import type { CreatedToken, CreateTokenOptions, TokenInfo, TokenStore, Verification } from "../tokens.js";

export interface TokenRepository {
  /**
   * Makes a token for a project ("*" for an all-projects ingest token); its value is returned once.
   * With `maxLive`, throws TokenLimitError instead when the project already has that many live
   * tokens (counted and inserted atomically).
   */
  create(
    projectId: string,
    name: string,
    expiresAt: Date | null,
    options?: CreateTokenOptions,
  ): Promise<CreatedToken>;
  /** Live (not revoked) tokens of a project, or of all when none is given, newest first; never their values. */
  list(projectId?: string): Promise<TokenInfo[]>;
  /** Revokes a live token of the project; false when the project has no such live token. */
  revoke(projectId: string, tokenId: string): Promise<boolean>;
  /** Revokes a live token whatever its project; false when there is no such live token. */
  revokeById(tokenId: string): Promise<boolean>;
  /** Checks a presented token against the store of record and, when valid, notes its use. */
  verify(presented: string): Promise<Verification>;
  /** Writes the noted last-used times now (they are also written every flush interval). */
  flushLastUsed(): Promise<void>;
  /** Stops the flush timer and writes what is pending; does not close a shared pool. */
  close(): Promise<void>;
}

/**
 * The store of record could not be reached or did not answer in time (connection refused or lost,
 * timeouts, server shutting down, too many connections, a read-only standby after failover).
 * The API answers 503 with Retry-After: a token that cannot be checked is never accepted.
 */
export class TokenStoreUnavailableError extends Error {
  override readonly name = "TokenStoreUnavailableError";
  /** Seconds a client should wait before retrying. */
  readonly retryAfterSeconds: number;
  constructor(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }
}

/**
 * Whether a token store's error (or what it wraps) is the disk being full: what the embedded
 * stores report (isDiskFullError: SQLite's SQLITE_FULL, ENOSPC, …) or PostgreSQL's disk_full
 * (SQLSTATE 53100). Writes fail until space is freed, while reads still work, so the API answers
 * 503 with Retry-After rather than 500.
 */
export function isDiskFull(err: unknown): boolean {
  if (isDiskFullError(err)) return true;
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === "53100") return true;
  }
  return false;
}

/** The embedded SQLite store behind the async interface; its calls stay synchronous underneath. */
export class SqliteTokenRepository implements TokenRepository {
  constructor(readonly store: TokenStore) {}

  async create(
    projectId: string,
    name: string,
    expiresAt: Date | null,
    options?: CreateTokenOptions,
  ): Promise<CreatedToken> {
    return this.store.create(projectId, name, expiresAt, options);
  }

  async list(projectId?: string): Promise<TokenInfo[]> {
    return this.store.list(projectId);
  }

  async revoke(projectId: string, tokenId: string): Promise<boolean> {
    return this.store.revoke(projectId, tokenId);
  }

  async revokeById(tokenId: string): Promise<boolean> {
    return this.store.revokeById(tokenId);
  }

  async verify(presented: string): Promise<Verification> {
    return this.store.verify(presented);
  }

  async flushLastUsed(): Promise<void> {
    this.store.flushLastUsed();
  }

  async close(): Promise<void> {
    this.store.close();
  }
}
