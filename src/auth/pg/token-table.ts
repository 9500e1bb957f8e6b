/**
 * Token rows in PostgreSQL, shared by every API replica (run migrate() on the pool first). Each
 * look-up reads the row (one prepared, indexed query; no cache), so a revocation or creation on
 * one replica holds on every replica from the moment its statement commits. Every failure to reach
 * the database is a TokenStoreUnavailableError.
 */
import type { Pool } from "pg";
import { rowFromColumns, type TokenColumns, type TokenTable } from "../token-table.js";
import type { TokenKind, TokenRow } from "../tokens.js";
import { guarded, inTransaction } from "./pool.js";

const COLUMNS = "id, project_id, name, prefix, hash, created_at, expires_at, last_used_at, revoked_at";

/** A row as PostgreSQL holds it (timestamptz columns). */
type PgRow = TokenColumns<Date>;

const ms = (d: Date | null) => (d === null ? null : d.getTime());
const date = (t: number | null) => (t === null ? null : new Date(t));
const fromPg = (r: PgRow): TokenRow => rowFromColumns(r, (d) => d.getTime());

/** The INSERT of a whole row; with `ifAbsent`, a row whose id is already there is left alone. */
export function insertRowQuery(
  table: TokenKind["table"],
  r: TokenRow,
  ifAbsent = false,
): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO ${table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)${ifAbsent ? " ON CONFLICT DO NOTHING" : ""}`,
    values: [
      r.id,
      r.projectId,
      r.name,
      r.prefix,
      r.hash,
      new Date(r.createdAt),
      date(r.expiresAt),
      date(r.lastUsedAt),
      date(r.revokedAt),
    ],
  };
}

export class PgTokenTable implements TokenTable {
  private readonly table: TokenKind["table"];

  constructor(
    private readonly pool: Pool,
    kind: TokenKind,
  ) {
    this.table = kind.table;
  }

  async insert(
    row: TokenRow,
    maxLive: number,
  ): Promise<{ inserted: true } | { inserted: false; firstExpiry: number | null }> {
    const insert = { name: `mim_${this.table}_insert`, ...insertRowQuery(this.table, row) };
    if (maxLive <= 0) {
      await guarded("create", () => this.pool.query(insert));
      return { inserted: true };
    }
    // Count and insert under a transaction-scoped advisory lock on (table, project): under READ
    // COMMITTED two concurrent count-then-insert transactions (on any replicas) would both see
    // room for one more; the lock serialises them.
    return guarded("create", () =>
      inTransaction(this.pool, async (client) => {
        await client.query({
          name: "mim_token_cap_lock",
          text: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
          values: [`${this.table}:${row.projectId}`],
        });
        const live = await client.query<{ n: string; first: Date | null }>({
          name: `mim_${this.table}_count_live`,
          text: `SELECT count(*) AS n, min(expires_at) AS first FROM ${this.table}
                 WHERE project_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
          values: [row.projectId, new Date(row.createdAt)],
        });
        const { n, first } = live.rows[0] ?? { n: "0", first: null };
        if (Number(n) >= maxLive) return { inserted: false as const, firstExpiry: ms(first) };
        await client.query(insert);
        return { inserted: true as const };
      }),
    );
  }

  async byHash(hash: Buffer): Promise<TokenRow | undefined> {
    const res = await guarded("verify", () =>
      this.pool.query<PgRow>({
        name: `mim_${this.table}_verify`,
        text: `SELECT ${COLUMNS} FROM ${this.table} WHERE hash = $1`,
        values: [hash],
      }),
    );
    const r = res.rows[0];
    return r && fromPg(r);
  }

  async listLive(projectId: string | undefined): Promise<TokenRow[]> {
    const res = await guarded("list", () =>
      projectId === undefined
        ? this.pool.query<PgRow>({
            name: `mim_${this.table}_list_all`,
            text: `SELECT ${COLUMNS} FROM ${this.table} WHERE revoked_at IS NULL ORDER BY created_at DESC, id`,
          })
        : this.pool.query<PgRow>({
            name: `mim_${this.table}_list`,
            text: `SELECT ${COLUMNS} FROM ${this.table}
                   WHERE project_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`,
            values: [projectId],
          }),
    );
    return res.rows.map(fromPg);
  }

  async revoke(tokenId: string, projectId: string | undefined, at: number): Promise<boolean> {
    const res = await guarded("revoke", () =>
      projectId === undefined
        ? this.pool.query({
            name: `mim_${this.table}_revoke_by_id`,
            text: `UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
            values: [new Date(at), tokenId],
          })
        : this.pool.query({
            name: `mim_${this.table}_revoke`,
            text: `UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND project_id = $3 AND revoked_at IS NULL`,
            values: [new Date(at), tokenId, projectId],
          }),
    );
    return (res.rowCount ?? 0) > 0;
  }

  async writeLastUsed(uses: ReadonlyArray<readonly [string, number]>): Promise<void> {
    await guarded("last-used", () =>
      this.pool.query({
        name: `mim_${this.table}_last_used`,
        // GREATEST ignores NULL: a first use sets the time, a later flush never moves it back.
        text: `UPDATE ${this.table} AS t SET last_used_at = GREATEST(t.last_used_at, u.at)
               FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id`,
        values: [uses.map(([id]) => id), uses.map(([, t]) => new Date(t))],
      }),
    );
  }
}
