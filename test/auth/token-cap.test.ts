/**
 * The cap on a project's live tokens in both stores: counted and inserted atomically, so
 * concurrent creations (on separate pools, as on separate replicas) never overshoot it; revoked and
 * expired tokens do not count; other projects and kinds have their own count. PostgreSQL is a
 * real server started on loopback (skipped where it is not installed, as in pg-tokens.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { Pool } from "pg";
import { TokenLimitError } from "../../src/auth/errors.js";
import { createPgPool } from "../../src/auth/pg/pool.js";
import { migrate } from "../../src/auth/pg/schema.js";
import { PgTokenTable } from "../../src/auth/pg/token-table.js";
import { SqliteTokenTable } from "../../src/auth/sqlite-token-table.js";
import { TokenStore } from "../../src/auth/token-store.js";
import { INGEST_TOKENS, MONITORING_TOKENS } from "../../src/auth/tokens.js";
import { type PgServer, postgresSkip, startPostgres } from "./pg-server.js";

const T0 = 1_700_000_000_000;
const skip = postgresSkip();
let server: PgServer | undefined;
let seq = 0;

before(async () => {
  if (!skip) server = await startPostgres();
});
after(async () => {
  await server?.destroy();
});

interface Fixture {
  clock: { t: number };
  /** Replicas of the monitoring store (separate pools for PostgreSQL). */
  replicas: TokenStore[];
  ingest: TokenStore;
  cleanup(): Promise<void>;
}

const backends: Array<{ name: string; skip: string | false; open(): Promise<Fixture> }> = [
  {
    name: "SQLite",
    skip: false,
    async open() {
      const clock = { t: T0 };
      const db = new Database(":memory:");
      const now = () => clock.t;
      const mon = new TokenStore(new SqliteTokenTable(db, MONITORING_TOKENS), { now });
      const ingest = new TokenStore(new SqliteTokenTable(db, INGEST_TOKENS), { kind: INGEST_TOKENS, now });
      return {
        clock,
        replicas: [mon, mon],
        ingest,
        async cleanup() {
          await mon.close();
          await ingest.close();
          db.close();
        },
      };
    },
  },
  {
    name: "PostgreSQL",
    skip,
    async open() {
      if (!server) throw new Error("PostgreSQL is not running");
      const clock = { t: T0 };
      const url = await server.schemaUrl(`cap${process.pid}_${++seq}`);
      const pools: Pool[] = [createPgPool({ url }), createPgPool({ url })];
      await migrate(pools[0]);
      const now = () => clock.t;
      const replicas = pools.map((p) => new TokenStore(new PgTokenTable(p, MONITORING_TOKENS), { now }));
      const ingest = new TokenStore(new PgTokenTable(pools[0], INGEST_TOKENS), { kind: INGEST_TOKENS, now });
      return {
        clock,
        replicas,
        ingest,
        async cleanup() {
          for (const r of [...replicas, ingest]) await r.close();
          for (const p of pools) await p.end();
        },
      };
    },
  },
];

for (const b of backends) {
  describe(`live-token cap: ${b.name}`, { skip: b.skip }, () => {
    it("concurrent creations across replicas stop exactly at the cap", async () => {
      const f = await b.open();
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 24 }, (_, i) =>
            f.replicas[i % f.replicas.length].create("alpha", `t${i}`, null, { maxLive: 5 }),
          ),
        );
        const ok = results.filter((r) => r.status === "fulfilled").length;
        const refused = results.filter(
          (r) => r.status === "rejected" && r.reason instanceof TokenLimitError,
        ).length;
        assert.equal(ok, 5);
        assert.equal(refused, 19);
        assert.equal((await f.replicas[0].list("alpha")).length, 5);
      } finally {
        await f.cleanup();
      }
    });

    it("revoked and expired tokens do not count; projects and kinds count apart", async () => {
      const f = await b.open();
      const [mon] = f.replicas;
      try {
        const a = await mon.create("alpha", "a", null, { maxLive: 2 });
        await mon.create("alpha", "b", new Date(T0 + 60_000), { maxLive: 2 });
        await assert.rejects(mon.create("alpha", "c", null, { maxLive: 2 }), (err: unknown) => {
          assert.ok(err instanceof TokenLimitError);
          assert.equal(err.firstExpiry?.getTime(), T0 + 60_000);
          return true;
        });
        // Another project, and the other kind of token, have counts of their own.
        await mon.create("beta", "x", null, { maxLive: 2 });
        await f.ingest.create("alpha", "i", null, { maxLive: 2 });
        assert.ok(await mon.revoke("alpha", a.id));
        await mon.create("alpha", "c", null, { maxLive: 2 });
        await assert.rejects(mon.create("alpha", "d", null, { maxLive: 2 }), TokenLimitError);
        f.clock.t = T0 + 60_000;
        await mon.create("alpha", "d", null, { maxLive: 2 });
        await assert.rejects(mon.create("alpha", "e", null, { maxLive: 2 }), TokenLimitError);
        // Without the option nothing is capped (the admin API always passes it).
        await mon.create("alpha", "uncapped", null);
      } finally {
        await f.cleanup();
      }
    });
  });
}
