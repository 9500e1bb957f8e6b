/**
 * The embedded storage mode's parts for tests that build the API server themselves: the samples'
 * side over a store (with the API limits' engine settings, as the service passes them), and the
 * embedded token stores with synchronous minting (a row made by the store's own newToken and
 * inserted directly, so a test can write `svc.token("p")` without awaiting).
 */
import type Database from "better-sqlite3";
import { type ApiLimits, DEFAULT_LIMITS } from "../../src/api/context.js";
import { SqliteTokenTable } from "../../src/auth/sqlite-token-table.js";
import { TokenStore } from "../../src/auth/token-store.js";
import type { TokenTable } from "../../src/auth/token-table.js";
import { INGEST_TOKENS, MONITORING_TOKENS, newToken, type TokenKind } from "../../src/auth/tokens.js";
import { type EmbeddedSamples, embeddedSamples } from "../../src/modes/embedded.js";
import type { Appendable, Queryable } from "../../src/storage/index.js";

export interface TestTokenStores {
  tokens: TokenStore;
  ingestTokens: TokenStore;
  /** A monitoring token of the project. */
  mint(projectId: string, expiresAt?: Date | null): string;
  /** An ingest token for the project ("*": every project). */
  mintIngest(projectId?: string): string;
  close(): Promise<void>;
}

/** `monitoringTable` wraps or replaces the monitoring tokens' table (to make it fail as a full disk does). */
export function sqliteTokenStores(
  meta: Database.Database,
  now: () => number = Date.now,
  monitoringTable?: (sqlite: TokenTable) => TokenTable,
): TestTokenStores {
  const monitoring = new SqliteTokenTable(meta, MONITORING_TOKENS);
  const ingest = new SqliteTokenTable(meta, INGEST_TOKENS);
  const tokens = new TokenStore(monitoringTable ? monitoringTable(monitoring) : monitoring, {
    kind: MONITORING_TOKENS,
    now,
  });
  const ingestTokens = new TokenStore(ingest, { kind: INGEST_TOKENS, now });
  const mint = (table: SqliteTokenTable, kind: TokenKind, projectId: string, expiresAt: Date | null) => {
    const { token, row } = newToken(kind, projectId, "test", expiresAt, now());
    table.insert(row, 0);
    return token;
  };
  return {
    tokens,
    ingestTokens,
    mint: (projectId, expiresAt = null) => mint(monitoring, MONITORING_TOKENS, projectId, expiresAt),
    mintIngest: (projectId = "*") => mint(ingest, INGEST_TOKENS, projectId, null),
    async close() {
      await ingestTokens.close();
      await tokens.close();
    },
  };
}

/** The embedded samples' side over `store` (which stays the caller's to close). */
export function embeddedTestSamples(
  store: Queryable & Appendable,
  limits: Partial<ApiLimits> = {},
): EmbeddedSamples {
  const l = { ...DEFAULT_LIMITS, ...limits };
  return embeddedSamples({
    store,
    pool: { engine: { timeoutMs: l.queryTimeoutMs, maxSamples: l.maxSamples } },
    queryTimeoutMs: l.queryTimeoutMs,
  });
}
