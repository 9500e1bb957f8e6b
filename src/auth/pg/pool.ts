/**
 * The PostgreSQL connection pool the token store and the leader lease share, with every wait
 * bounded: a request that needs the database fails in about a second or two when it is down or
 * unreachable, instead of hanging until the TCP stack gives up.
 */
import { DatabaseError, Pool, type PoolClient } from "pg";
import { TokenStoreUnavailableError } from "../errors.js";

export interface PgPoolOptions {
  /** postgres://user:password@host:port/database?sslmode=… (libpq-style URL). */
  url: string;
  /** Most connections this replica opens (default 10). */
  max?: number;
  /** Longest wait for a connection, from the pool or a new one, in ms (default 2000). */
  connectTimeoutMs?: number;
  /** Longest a statement may run on the server, and (plus a little) wait for its answer, in ms (default 2000). */
  statementTimeoutMs?: number;
  /** Shown in pg_stat_activity (default "mim"). */
  applicationName?: string;
  log?: (fields: Record<string, unknown>, message: string) => void;
}

export function createPgPool(o: PgPoolOptions): Pool {
  const statementTimeoutMs = o.statementTimeoutMs ?? 2_000;
  const pool = new Pool({
    connectionString: o.url,
    max: o.max ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    // Server side: the statement is cancelled. Client side: the answer is no longer waited for and
    // the connection is discarded (pool.query releases it with the error).
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 500,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: o.applicationName ?? "mim",
  });
  // An idle connection that dies (server restart, network) must not crash the process: the pool
  // drops it and opens another on the next query.
  pool.on("error", (err) => o.log?.({ component: "postgres", err: err.message }, "idle connection lost"));
  return pool;
}

/** SQLSTATE classes and codes that mean "the database is not serving us now", not "the query is wrong". */
const UNAVAILABLE_CLASSES = ["08", "53", "57", "58"];
const UNAVAILABLE_CODES = new Set([
  "25006", // read_only_sql_transaction: connected to a standby (e.g. mid-failover)
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
]);

/** Whether an error from `pg` means the database is unreachable, overloaded or going away. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseError) {
    const code = err.code ?? "";
    return UNAVAILABLE_CLASSES.includes(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code);
  }
  if (!(err instanceof Error)) return false;
  // No SQLSTATE: network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND, …)
  // and the client's own connection and timeout errors.
  const code = (err as { code?: unknown }).code;
  return (typeof code === "string" && /^E[A-Z]+$/.test(code)) || CLIENT_UNAVAILABLE_RE.test(err.message);
}

const CLIENT_UNAVAILABLE_RE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|timeout expired|not queryable|after calling end on the pool/;

/** Runs a database call, turning "unavailable" failures into TokenStoreUnavailableError. */
export async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUnavailable(err)) {
      throw new TokenStoreUnavailableError(`token store unavailable (${what}): ${(err as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * Runs `fn` in one transaction on a connection of its own: COMMIT when it returns, ROLLBACK when it
 * throws. A connection that failed mid-transaction is discarded rather than given back to the pool.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    failure = err as Error;
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release(failure);
  }
}
