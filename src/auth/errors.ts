/**
 * What a token store can fail with, whichever database holds the rows: a project at its cap of
 * live tokens, a database that cannot be reached (fail closed: 503), and a full disk (503 too).
 */
import { isDiskFullError } from "../storage/errors.js";

/**
 * The project already has `maxLive` live (neither revoked nor expired) tokens of the kind. The
 * count and the insert are one atomic step in the table, so concurrent requests (or replicas)
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

/**
 * The database of record could not be reached or did not answer in time (connection refused or
 * lost, timeouts, server shutting down, too many connections, a read-only standby after failover).
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
 * database reports (isDiskFullError: SQLite's SQLITE_FULL, ENOSPC, …) or PostgreSQL's disk_full
 * (SQLSTATE 53100). Writes fail until space is freed while reads still work, so the API answers
 * 503 with Retry-After rather than 500.
 */
export function isDiskFull(err: unknown): boolean {
  if (isDiskFullError(err)) return true;
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === "53100") return true;
  }
  return false;
}
