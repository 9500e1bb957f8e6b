/**
 * What authenticating a request costs: TokenStore.verify latency (p50/p95/p99/max) against
 * PostgreSQL on loopback with a 10,000-token table and against the embedded SQLite table, and
 * PostgreSQL's throughput with 16 verifies in flight on a 10-connection pool. Target: a PostgreSQL
 * verify's p50 well under 20 ms (it is one prepared, indexed read, which test/auth/pg-tokens.test.ts
 * checks by counting queries).
 *
 *   node --import tsx bench/token-verify.ts [verifies=3000]
 *
 * Starts its own PostgreSQL (Debian's postgresql package) in a temporary directory.
 */
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { createPgPool } from "../src/auth/pg/pool.js";
import { migrate } from "../src/auth/pg/schema.js";
import { PgTokenTable } from "../src/auth/pg/token-table.js";
import { SqliteTokenTable } from "../src/auth/sqlite-token-table.js";
import { TokenStore } from "../src/auth/token-store.js";
import { MONITORING_TOKENS } from "../src/auth/tokens.js";
import { startPostgres } from "../test/auth/pg-server.js";

const N = Number(process.argv[2] ?? 3_000);

interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

async function measure(store: TokenStore, token: string, n: number): Promise<Latency> {
  for (let i = 0; i < 200; i++) await store.verify(token); // warm up: connections, prepared statements
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const v = await store.verify(token);
    times.push(performance.now() - started);
    if (!v.ok) throw new Error(`verify failed: ${v.reason}`);
  }
  times.sort((x, y) => x - y);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: times[times.length - 1] };
}

const fmt = (l: Latency) =>
  `p50 ${l.p50.toFixed(3)} ms, p95 ${l.p95.toFixed(3)} ms, p99 ${l.p99.toFixed(3)} ms, max ${l.max.toFixed(2)} ms`;

const server = await startPostgres();
const pool = createPgPool({ url: await server.schemaUrl("bench") });
const meta = new Database(":memory:");
const pg = new TokenStore(new PgTokenTable(pool, MONITORING_TOKENS), { kind: MONITORING_TOKENS });
const sq = new TokenStore(new SqliteTokenTable(meta, MONITORING_TOKENS));
try {
  await migrate(pool);
  // A table of realistic size: 10,000 tokens.
  await pool.query(`INSERT INTO monitoring_tokens (id, project_id, name, prefix, hash, created_at)
    SELECT 'tok_' || lpad(g::text, 20, '0'), 'p' || (g % 500), 'n', 'mim_mon_xxxxxx',
           sha256(g::text::bytea), now() FROM generate_series(1, 10000) g`);
  const token = (await pg.create("p", "t", null)).token;
  const sqToken = (await sq.create("p", "t", null)).token;
  const pgLat = await measure(pg, token, N);
  const sqLat = await measure(sq, sqToken, N);
  const n = 10_000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < n) if (!(await pg.verify(token)).ok) throw new Error("verify failed");
    }),
  );
  const perSecond = n / ((performance.now() - started) / 1000);
  console.log(`verify latency, PostgreSQL on loopback (10k tokens): ${fmt(pgLat)}`);
  console.log(`verify latency, SQLite adapter: ${fmt(sqLat)}`);
  console.log(
    `verify throughput, PostgreSQL, 16 in flight on a 10-connection pool: ${Math.round(perSecond)}/s`,
  );
  console.log(`PostgreSQL p50 under 20 ms: ${pgLat.p50 < 20 ? "yes" : "no"}`);
  console.log(JSON.stringify({ pg: pgLat, sqlite: sqLat, pgPerSecond: Math.round(perSecond) }));
} finally {
  await pg.close();
  await sq.close();
  await pool.end();
  meta.close();
  await server.destroy();
}
