/**
 * Opens the token stores the API uses: rows in PostgreSQL when a URL is configured (shared by
 * every replica, schema created or brought up to date first), else in the embedded metadata
 * database. With PostgreSQL also the lease that lets one replica at a time run the rules.
 */
import type Database from "better-sqlite3";
import type { Pool } from "pg";
import { LeaderLease } from "./pg/lease.js";
import { createPgPool } from "./pg/pool.js";
import { migrate } from "./pg/schema.js";
import { PgTokenTable } from "./pg/token-table.js";
import { SqliteTokenTable } from "./sqlite-token-table.js";
import { TokenStore } from "./token-store.js";
import type { TokenTable } from "./token-table.js";
import { INGEST_TOKENS, MONITORING_TOKENS, type TokenKind } from "./tokens.js";

export interface TokenStores {
  tokens: TokenStore;
  ingestTokens: TokenStore;
  /** With PostgreSQL: the rules' lease across replicas (absent: this node is alone). */
  rulesLease?: LeaderLease;
  /** The pool when PostgreSQL is used (for other shared state), else undefined. */
  pool?: Pool;
  /** Starts the rules lease (nothing to do alone); resolves after the first attempt. */
  start(): Promise<void>;
  /** Releases the lease, writes pending last-used times, closes the pool. */
  close(): Promise<void>;
}

export interface OpenTokenStoresOptions {
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

export async function openTokenStores(o: OpenTokenStoresOptions): Promise<TokenStores> {
  const stores = (table: (kind: TokenKind) => TokenTable) => ({
    tokens: new TokenStore(table(MONITORING_TOKENS), { kind: MONITORING_TOKENS, now: o.now, log: o.log }),
    ingestTokens: new TokenStore(table(INGEST_TOKENS), { kind: INGEST_TOKENS, now: o.now, log: o.log }),
  });
  if (o.postgresUrl === undefined || o.postgresUrl === "") {
    const metaDb = o.metaDb;
    if (!metaDb) throw new Error("openTokenStores: give a PostgreSQL URL or the metadata database");
    const { tokens, ingestTokens } = stores((kind) => new SqliteTokenTable(metaDb, kind));
    return {
      tokens,
      ingestTokens,
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
  const { tokens, ingestTokens } = stores((kind) => new PgTokenTable(pool, kind));
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
    rulesLease: lease,
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
