/**
 * The PostgreSQL schema, created on start and idempotent: numbered migrations recorded in
 * mim_schema_versions, applied in one transaction under a transaction-scoped advisory lock so that
 * replicas starting together do not race. Migrations only ever add (tables, columns, indexes), so a
 * replica one version behind keeps working during a rolling upgrade.
 */
import type { Pool } from "pg";
import { inTransaction } from "./pool.js";

interface Migration {
  version: number;
  description: string;
  sql: string;
}

function tokenTable(table: string): string {
  return `
    CREATE TABLE IF NOT EXISTS ${table} (
      id text COLLATE "C" PRIMARY KEY,
      project_id text COLLATE "C" NOT NULL,
      name text NOT NULL,
      prefix text NOT NULL,
      hash bytea NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
      created_at timestamptz NOT NULL,
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS ${table}_project_live
      ON ${table} (project_id, created_at DESC) WHERE revoked_at IS NULL;`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description:
      "monitoring and ingest tokens (SHA-256 of the secret, looked up by its unique index); leases",
    sql: `${tokenTable("monitoring_tokens")}
      ${tokenTable("ingest_tokens")}
      CREATE TABLE IF NOT EXISTS leases (
        name text COLLATE "C" PRIMARY KEY,
        holder text NOT NULL,
        epoch bigint NOT NULL,
        acquired_at timestamptz NOT NULL,
        renewed_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Any fixed 64-bit key: serialises schema changes across replicas. */
const MIGRATION_LOCK_KEY = 0x6d696d5f736368n; // "mim_sch"

/**
 * Brings the schema up to SCHEMA_VERSION; returns the version the database is at afterwards (higher
 * than ours when a newer replica migrated it first, which is fine: migrations only add).
 */
export async function migrate(pool: Pool): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS mim_schema_versions (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const res = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM mim_schema_versions");
    let current = res.rows[0]?.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO mim_schema_versions (version, description) VALUES ($1, $2)", [
        m.version,
        m.description,
      ]);
      current = m.version;
    }
    return current;
  });
}
