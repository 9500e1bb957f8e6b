/**
 * Opens the token repositories the API uses: PostgreSQL when a URL is configured (shared by every
 * replica, schema created or brought up to date first), else the embedded SQLite store in the
 * metadata database. Also the rules' leadership: a lease in PostgreSQL, or always-leader alone.
 */
import type Database from "better-sqlite3";
import type { Pool } from "pg";
import { INGEST_TOKENS, MONITORING_TOKENS, TokenStore } from "../tokens.js";
import { LeaderLease, type Leadership, SOLE_LEADER } from "./lease.js";
import { createPgPool } from "./pool.js";
import { SqliteTokenRepository, type TokenRepository } from "./repository.js";
import { migrate } from "./schema.js";
import { PgTokenStore } from "./token-store.js";

export interface TokenRepositories {
  tokens: TokenRepository;
  ingestTokens: TokenRepository;
  /** Who evaluates the rules: a lease in PostgreSQL, or this node alone. */
  rulesLeadership: Leadership;
  /** The pool when PostgreSQL is used (for other shared state), else undefined. */
  pool?: Pool;
  /** Starts the rules lease (no-op for SQLite); resolves after the first attempt. */
  start(): Promise<void>;
  /** Releases the lease, writes pending last-used times, closes the pool. */
  close(): Promise<void>;
}

export interface OpenTokenRepositoriesOptions {
  /** --postgres-url: when given, tokens live there and the rules run under a lease. */
  postgresUrl?: string;
  /** The embedded metadata database, used when there is no PostgreSQL URL. */
  metaDb?: Database.Database;
  now?: () => number;
  log?: (fields: Record<string, unknown>, message: string) => void;
  /** Rules lease timing (defaults: ttl 15 s, renewal every 5 s). */
  leaseTtlMs?: number;
  leaseRenewIntervalMs?: number;
  /** Called when this replica starts or stops evaluating the rules. */
  onRulesLeadership?: (leader: boolean) => void;
}

export async function openTokenRepositories(o: OpenTokenRepositoriesOptions): Promise<TokenRepositories> {
  if (o.postgresUrl === undefined || o.postgresUrl === "") {
    if (!o.metaDb) throw new Error("openTokenRepositories: give a PostgreSQL URL or the metadata database");
    const tokens = new SqliteTokenRepository(new TokenStore(o.metaDb, o.now, MONITORING_TOKENS));
    const ingestTokens = new SqliteTokenRepository(new TokenStore(o.metaDb, o.now, INGEST_TOKENS));
    return {
      tokens,
      ingestTokens,
      rulesLeadership: SOLE_LEADER,
      start: async () => {},
      close: async () => {
        await ingestTokens.close();
        await tokens.close();
      },
    };
  }
  const pool = createPgPool({ url: o.postgresUrl, log: o.log });
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(`cannot prepare the PostgreSQL token store: ${(err as Error).message}`, { cause: err });
  }
  const tokens = new PgTokenStore(pool, MONITORING_TOKENS, { now: o.now, log: o.log });
  const ingestTokens = new PgTokenStore(pool, INGEST_TOKENS, { now: o.now, log: o.log });
  const lease = new LeaderLease({
    pool,
    name: "rules",
    ttlMs: o.leaseTtlMs,
    renewIntervalMs: o.leaseRenewIntervalMs,
    onChange: o.onRulesLeadership,
    log: o.log,
  });
  return {
    tokens,
    ingestTokens,
    rulesLeadership: lease,
    pool,
    start: async () => {
      await lease.start();
    },
    close: async () => {
      await lease.stop();
      await ingestTokens.close();
      await tokens.close();
      await pool.end();
    },
  };
}
