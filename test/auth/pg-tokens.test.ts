/**
 * The token repository: one behaviour suite run against the embedded SQLite store (through its
 * async adapter) and the PostgreSQL store, then what only PostgreSQL does: replicas on separate
 * pools seeing each other's writes at once, schema creation, outages failing closed, moving tokens
 * over from SQLite, and what a verify costs (one prepared, indexed query; its latency is measured by
 * bench/token-verify.ts). PostgreSQL is a real server started here on loopback.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { Pool } from "pg";
import { TokenStoreUnavailableError } from "../../src/auth/errors.js";
import { openTokenStores } from "../../src/auth/open.js";
import { importSqliteTokens } from "../../src/auth/pg/import-sqlite.js";
import { createPgPool } from "../../src/auth/pg/pool.js";
import { MIGRATIONS, migrate, SCHEMA_VERSION } from "../../src/auth/pg/schema.js";
import { PgTokenTable } from "../../src/auth/pg/token-table.js";
import { SqliteTokenTable } from "../../src/auth/sqlite-token-table.js";
import { TokenStore, type TokenStoreOptions } from "../../src/auth/token-store.js";
import { ALL_PROJECTS, INGEST_TOKENS, MONITORING_TOKENS, type TokenKind } from "../../src/auth/tokens.js";
import { type PgServer, postgresSkip, startPostgres, startTcpProxy } from "./pg-server.js";

/** A token store over PostgreSQL rows, as openTokenStores makes one. */
function pgStore(pool: Pool, kind: TokenKind, o: Omit<TokenStoreOptions, "kind"> = {}): TokenStore {
  return new TokenStore(new PgTokenTable(pool, kind), { kind, ...o });
}

const T0 = 1_700_000_000_000;

interface Clock {
  t: number;
  now: () => number;
}
function clock(): Clock {
  const c: Clock = { t: T0, now: () => c.t };
  return c;
}

/** One implementation under test: fresh, isolated storage per call. */
interface Backend {
  name: string;
  /** A fresh store; `open` makes more instances (replicas, restarts) on the same storage. */
  fresh(c: Clock): Promise<{
    open(kind: TokenKind): TokenStore;
    cleanup(): Promise<void>;
  }>;
}

const sqliteBackend: Backend = {
  name: "SQLite (adapter)",
  async fresh(c) {
    const db = new Database(":memory:");
    const opened: TokenStore[] = [];
    return {
      open(kind) {
        const r = new TokenStore(new SqliteTokenTable(db, kind), { kind, now: c.now });
        opened.push(r);
        return r;
      },
      async cleanup() {
        for (const r of opened) await r.close();
        db.close();
      },
    };
  },
};

let server: PgServer | undefined;
let schemaSeq = 0;

/** A pool whose tables live in their own schema, so each test starts empty. */
async function isolatedPool(schema = `t${process.pid}_${++schemaSeq}`): Promise<{ url: string; pool: Pool }> {
  if (!server) throw new Error("PostgreSQL is not running");
  const url = await server.schemaUrl(schema);
  const pool = createPgPool({ url });
  await migrate(pool);
  return { url, pool };
}

const pgBackend: Backend = {
  name: "PostgreSQL",
  async fresh(c) {
    const { url, pool } = await isolatedPool();
    const pools: Pool[] = [pool];
    const opened: TokenStore[] = [];
    let first = true;
    return {
      open(kind) {
        // Every instance after the first gets its own pool, as another replica would.
        const p = first ? pool : createPgPool({ url });
        if (!first) pools.push(p);
        first = false;
        const r = pgStore(p, kind, { now: c.now });
        opened.push(r);
        return r;
      },
      async cleanup() {
        for (const r of opened) await r.close();
        for (const p of pools) await p.end();
      },
    };
  },
};

const skip = postgresSkip();

before(async () => {
  if (!skip) server = await startPostgres();
});
after(async () => {
  await server?.destroy();
});

for (const backend of [sqliteBackend, pgBackend]) {
  describe(`token repository behaviour: ${backend.name}`, { skip: backend === pgBackend && skip }, () => {
    async function withStore(
      fn: (s: {
        c: Clock;
        mon: TokenStore;
        ing: TokenStore;
        open(kind: TokenKind): TokenStore;
      }) => Promise<void>,
    ): Promise<void> {
      const c = clock();
      const b = await backend.fresh(c);
      try {
        await fn({ c, mon: b.open(MONITORING_TOKENS), ing: b.open(INGEST_TOKENS), open: b.open });
      } finally {
        await b.cleanup();
      }
    }

    it("creates tokens in the documented format and lists them without their values", async () => {
      await withStore(async ({ c, mon, ing }) => {
        const created = await mon.create("proj-a", "grafana ✓", null);
        assert.match(created.token, /^mim_mon_[A-Za-z0-9_-]{43}$/);
        assert.match(created.id, /^tok_[0-9a-f]{20}$/);
        assert.equal(created.prefix, created.token.slice(0, "mim_mon_".length + 6));
        assert.equal(created.projectId, "proj-a");
        assert.equal(created.name, "grafana ✓");
        assert.equal(created.createdAt.getTime(), c.t);
        assert.equal(created.expiresAt, null);
        assert.equal(created.lastUsedAt, null);
        const ingest = await ing.create(ALL_PROJECTS, "fleet", new Date(c.t + 60_000));
        assert.match(ingest.token, /^mim_ing_[A-Za-z0-9_-]{43}$/);
        const listed = await mon.list("proj-a");
        assert.deepEqual(listed, [
          {
            id: created.id,
            projectId: "proj-a",
            name: "grafana ✓",
            prefix: created.prefix,
            createdAt: new Date(c.t),
            expiresAt: null,
            lastUsedAt: null,
          },
        ]);
        assert.ok(!JSON.stringify(listed).includes(created.token.slice(14)), "the secret is never listed");
        assert.deepEqual(
          (await ing.list()).map((t) => [t.projectId, t.expiresAt?.getTime()]),
          [[ALL_PROJECTS, c.t + 60_000]],
        );
      });
    });

    it("verifies a live token and rejects unknown, malformed and other-kind tokens", async () => {
      await withStore(async ({ c, mon, ing }) => {
        const m = await mon.create("p", "m", null);
        const i = await ing.create("p", "i", null);
        const v = await mon.verify(m.token);
        assert.ok(v.ok);
        assert.equal(v.token.id, m.id);
        assert.equal(v.token.lastUsedAt?.getTime(), c.t);
        for (const bad of [
          "",
          "mim_mon_",
          `${m.token}x`,
          m.token.slice(0, -1),
          `mim_mon_${"A".repeat(43)}`,
          m.token.replace("mim_mon_", "mim_ing_"),
          i.token,
        ]) {
          assert.deepEqual(await mon.verify(bad), { ok: false, reason: "unknown" }, bad);
        }
        assert.deepEqual(await ing.verify(m.token), { ok: false, reason: "unknown" });
        assert.ok((await ing.verify(i.token)).ok);
      });
    });

    it("expires a token at its expiry time exactly", async () => {
      await withStore(async ({ c, mon }) => {
        const expiresAt = new Date(c.t + 1_000);
        const t = await mon.create("p", "short", expiresAt);
        c.t += 999;
        assert.ok((await mon.verify(t.token)).ok);
        c.t += 1;
        assert.deepEqual(await mon.verify(t.token), { ok: false, reason: "expired", expiredAt: expiresAt });
        // An expired token is still listed (until revoked), as in the SQLite store.
        assert.deepEqual(
          (await mon.list("p")).map((x) => x.id),
          [t.id],
        );
      });
    });

    it("revokes within a project, by id, only once, and hides revoked tokens", async () => {
      await withStore(async ({ c, mon, ing }) => {
        const a = await mon.create("p", "a", null);
        const b = await mon.create("p", "b", null);
        assert.equal(await mon.revoke("other", a.id), false, "another project's token");
        assert.equal(await mon.revoke("p", "tok_nosuchtoken000000"), false);
        c.t += 10;
        assert.equal(await mon.revoke("p", a.id), true);
        assert.equal(await mon.revoke("p", a.id), false, "already revoked");
        assert.equal(await mon.revokeById(a.id), false, "already revoked");
        assert.deepEqual(await mon.verify(a.token), { ok: false, reason: "revoked" });
        assert.deepEqual(
          (await mon.list("p")).map((x) => x.id),
          [b.id],
        );
        assert.equal(await mon.revokeById(b.id), true);
        assert.deepEqual(await mon.verify(b.token), { ok: false, reason: "revoked" });
        assert.deepEqual(await mon.list(), []);
        // The kinds are separate: an ingest token is not revoked through the monitoring store.
        const i = await ing.create("p", "i", null);
        assert.equal(await mon.revokeById(i.id), false);
        assert.ok((await ing.verify(i.token)).ok);
        // Revoked beats expired.
        const e = await mon.create("p", "e", new Date(c.t + 5));
        await mon.revoke("p", e.id);
        c.t += 10;
        assert.deepEqual(await mon.verify(e.token), { ok: false, reason: "revoked" });
      });
    });

    it("lists per project or all, newest first, ties by id", async () => {
      await withStore(async ({ c, mon }) => {
        const x1 = await mon.create("x", "1", null);
        const y1 = await mon.create("y", "1", null);
        c.t += 1;
        const x2 = await mon.create("x", "2", null);
        const x3 = await mon.create("x", "3", null);
        const tie = [x2, x3].map((t) => t.id).sort();
        assert.deepEqual(
          (await mon.list("x")).map((t) => t.id),
          [...tie, x1.id],
        );
        assert.deepEqual(
          (await mon.list("y")).map((t) => t.id),
          [y1.id],
        );
        assert.deepEqual(await mon.list("z"), []);
        assert.deepEqual(
          (await mon.list()).map((t) => t.id),
          [...tie, ...[x1.id, y1.id].sort()],
        );
      });
    });

    it("notes last use in memory, writes it in batches, and never moves it back", async () => {
      await withStore(async ({ c, mon, open }) => {
        const t = await mon.create("p", "t", null);
        const other = open(MONITORING_TOKENS);
        c.t += 5_000;
        assert.ok((await mon.verify(t.token)).ok);
        assert.equal(
          (await mon.list("p"))[0].lastUsedAt?.getTime(),
          c.t,
          "this instance shows the pending time",
        );
        assert.equal((await other.list("p"))[0].lastUsedAt, null, "not written yet");
        await mon.flushLastUsed();
        assert.equal((await other.list("p"))[0].lastUsedAt?.getTime(), c.t, "written");
        const later = c.t;
        // Another instance noted an older use (its clock behind): the stored time stays the later one.
        c.t -= 3_000;
        assert.ok((await other.verify(t.token)).ok);
        await other.flushLastUsed();
        assert.equal((await open(MONITORING_TOKENS).list("p"))[0].lastUsedAt?.getTime(), later);
        // close() writes what is pending.
        c.t = later + 1_000;
        assert.ok((await mon.verify(t.token)).ok);
        await mon.close();
        assert.equal((await open(MONITORING_TOKENS).list("p"))[0].lastUsedAt?.getTime(), later + 1_000);
      });
    });

    it("writes many last-used times in one flush", async () => {
      await withStore(async ({ c, mon, open }) => {
        const tokens = await Promise.all(
          Array.from({ length: 1_205 }, (_, i) => mon.create("p", `t${i}`, null)),
        );
        c.t += 1;
        for (const t of tokens) assert.ok((await mon.verify(t.token)).ok);
        await mon.flushLastUsed();
        const listed = await open(MONITORING_TOKENS).list("p");
        assert.equal(listed.length, 1_205);
        assert.ok(listed.every((t) => t.lastUsedAt?.getTime() === c.t));
      });
    });
  });
}

describe("PostgreSQL token store", { skip }, () => {
  it("creates its schema idempotently, with a version table, even when replicas start together", async () => {
    const { url, pool } = await isolatedPool();
    const pools = Array.from({ length: 4 }, () => createPgPool({ url }));
    try {
      const versions = await Promise.all([...pools, pool].map((p) => migrate(p)));
      assert.deepEqual(versions, Array(5).fill(SCHEMA_VERSION));
      assert.equal(await migrate(pool), SCHEMA_VERSION);
      const rows = await pool.query("SELECT version, description FROM mim_schema_versions ORDER BY version");
      assert.deepEqual(
        rows.rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
      // verify is an index lookup on the hash.
      const plan = await pool.query("EXPLAIN SELECT * FROM monitoring_tokens WHERE hash = '\\x00'::bytea");
      assert.match(
        plan.rows.map((r) => r["QUERY PLAN"]).join("\n"),
        /Index Scan using monitoring_tokens_hash_key/,
      );
    } finally {
      for (const p of pools) await p.end();
      await pool.end();
    }
  });

  it("two replicas on two pools see each other's creation and revocation at once", async () => {
    const { url, pool: poolA } = await isolatedPool();
    const poolB = createPgPool({ url });
    const a = pgStore(poolA, MONITORING_TOKENS);
    const b = pgStore(poolB, MONITORING_TOKENS);
    const ia = pgStore(poolA, INGEST_TOKENS);
    const ib = pgStore(poolB, INGEST_TOKENS);
    try {
      for (let i = 0; i < 20; i++) {
        const created = await a.create(`p${i}`, "from A", null);
        // The very next request on the other replica accepts it and lists it.
        assert.ok((await b.verify(created.token)).ok, `round ${i}: created on A, verified on B`);
        assert.deepEqual(
          (await b.list(`p${i}`)).map((t) => t.id),
          [created.id],
        );
        assert.ok(await b.revoke(`p${i}`, created.id));
        assert.deepEqual(await a.verify(created.token), { ok: false, reason: "revoked" }, `round ${i}`);
        assert.deepEqual(await a.list(`p${i}`), []);
      }
      const ingest = await ib.create(ALL_PROJECTS, "fleet", null);
      assert.ok((await ia.verify(ingest.token)).ok);
      assert.ok(await ia.revokeById(ingest.id));
      assert.deepEqual(await ib.verify(ingest.token), { ok: false, reason: "revoked" });

      // Verifies racing with a revocation: once revoke() has resolved, no replica accepts the token.
      const t = await a.create("race", "r", null);
      let revoked = false;
      let acceptedAfter = 0;
      const hammer = async (s: TokenStore) => {
        for (let i = 0; i < 200; i++) {
          const sawRevoked = revoked;
          const v = await s.verify(t.token);
          if (sawRevoked && v.ok) acceptedAfter++;
        }
      };
      const loops = [hammer(a), hammer(b), hammer(a), hammer(b)];
      await new Promise((r) => setTimeout(r, 20));
      await b.revoke("race", t.id);
      revoked = true;
      await Promise.all(loops);
      assert.equal(acceptedAfter, 0);
      assert.deepEqual(await a.verify(t.token), { ok: false, reason: "revoked" });
    } finally {
      for (const s of [a, b, ia, ib]) await s.close();
      await poolA.end();
      await poolB.end();
    }
  });

  it("flushes last-used times on a timer, visible to the other replica", async () => {
    const { url, pool: poolA } = await isolatedPool();
    const poolB = createPgPool({ url });
    const a = pgStore(poolA, MONITORING_TOKENS, { flushIntervalMs: 100 });
    const b = pgStore(poolB, MONITORING_TOKENS);
    try {
      const t = await b.create("p", "t", null);
      assert.ok((await a.verify(t.token)).ok);
      const deadline = Date.now() + 5_000;
      while ((await b.list("p"))[0].lastUsedAt === null) {
        assert.ok(Date.now() < deadline, "last-used reached the database");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await a.close();
      await b.close();
      await poolA.end();
      await poolB.end();
    }
  });

  it("fails closed with TokenStoreUnavailableError while PostgreSQL is unreachable, and recovers", async () => {
    const { url, pool } = await isolatedPool();
    const proxy = await startTcpProxy(server!.port);
    const viaProxy = url.replace(`:${server!.port}/`, `:${proxy.port}/`);
    const pp = createPgPool({ url: viaProxy, connectTimeoutMs: 300, statementTimeoutMs: 300 });
    const s = pgStore(pool, MONITORING_TOKENS);
    const p = pgStore(pp, MONITORING_TOKENS);
    try {
      const t = await s.create("p", "t", null);
      assert.ok((await p.verify(t.token)).ok);

      // A partition: nothing answers. Each call fails, bounded by the configured waits (300 ms to
      // connect, 300 ms + 500 ms for an answer), which the pool really carries; the time bound below
      // only tells a failure from a hang, ten times above those waits.
      assert.equal(pp.options.connectionTimeoutMillis, 300);
      assert.equal(pp.options.query_timeout, 800);
      proxy.cut();
      for (const call of [() => p.verify(t.token), () => p.create("p", "x", null), () => p.list("p")]) {
        const started = performance.now();
        await assert.rejects(call(), TokenStoreUnavailableError);
        assert.ok(performance.now() - started < 8_000, "fails, does not hang");
      }
      // A token that cannot be one of ours is refused without asking the database.
      assert.deepEqual(await p.verify("mim_ing_whatever"), { ok: false, reason: "unknown" });
      proxy.heal();
      assert.ok((await p.verify(t.token)).ok, "the pool recovers after the partition");

      // The server itself down: refused connections, then back.
      await server!.stopServer();
      try {
        const err = await s.verify(t.token).then(
          () => null,
          (e: unknown) => e,
        );
        assert.ok(err instanceof TokenStoreUnavailableError, String(err));
        assert.equal(err.retryAfterSeconds, 5);
        await assert.rejects(s.revoke("p", t.id), TokenStoreUnavailableError);
      } finally {
        await server!.startServer();
      }
      assert.ok((await s.verify(t.token)).ok, "works again once PostgreSQL is back");
    } finally {
      await s.close();
      await p.close();
      await pool.end();
      await pp.end();
      await proxy.close();
    }
  });

  it("takes over an embedded node's tokens: same values keep working, revoked stay revoked", async () => {
    const meta = new Database(":memory:");
    const c = clock();
    const mon = new TokenStore(new SqliteTokenTable(meta, MONITORING_TOKENS), { now: c.now });
    const ing = new TokenStore(new SqliteTokenTable(meta, INGEST_TOKENS), {
      kind: INGEST_TOKENS,
      now: c.now,
    });
    const live = await mon.create("p", "live", null);
    const dead = await mon.create("p", "dead", null);
    const expiring = await mon.create("p", "expiring", new Date(c.t + 10_000));
    const fleet = await ing.create(ALL_PROJECTS, "fleet", null);
    await mon.revoke("p", dead.id);
    c.t += 1_000;
    await mon.verify(live.token);
    await mon.close();
    await ing.close();
    const { pool } = await isolatedPool();
    const pgMon = pgStore(pool, MONITORING_TOKENS, { now: c.now });
    const pgIng = pgStore(pool, INGEST_TOKENS, { now: c.now });
    try {
      assert.deepEqual(await importSqliteTokens(meta, pool), {
        monitoring_tokens: { read: 3, inserted: 3 },
        ingest_tokens: { read: 1, inserted: 1 },
      });
      assert.deepEqual(await importSqliteTokens(meta, pool), {
        monitoring_tokens: { read: 3, inserted: 0 },
        ingest_tokens: { read: 1, inserted: 0 },
      });
      const v = await pgMon.verify(live.token);
      assert.ok(v.ok);
      assert.equal(v.token.createdAt.getTime(), T0);
      assert.deepEqual(await pgMon.verify(dead.token), { ok: false, reason: "revoked" });
      assert.ok((await pgIng.verify(fleet.token)).ok);
      c.t += 10_000;
      assert.equal((await pgMon.verify(expiring.token)).ok, false);
      const listed = await pgMon.list("p");
      assert.deepEqual(listed.map((t) => [t.name, t.prefix, t.lastUsedAt?.getTime() ?? null]).sort(), [
        ["expiring", expiring.prefix, null],
        ["live", live.prefix, T0 + 1_000],
      ]);
    } finally {
      await pgMon.close();
      await pgIng.close();
      await pool.end();
      meta.close();
    }
  });

  it("openTokenStores: PostgreSQL with a URL (and the rules lease), SQLite without", async () => {
    const { url } = await isolatedPool();
    const changes: boolean[] = [];
    const r1 = await openTokenStores({ postgresUrl: url, onRulesLeadership: (l) => changes.push(l) });
    const r2 = await openTokenStores({ postgresUrl: url });
    try {
      await r1.start();
      await r2.start();
      assert.equal(r1.rulesLease?.isLeader(), true);
      assert.equal(r2.rulesLease?.isLeader(), false);
      assert.deepEqual(changes, [true]);
      const t = await r1.tokens.create("p", "t", null);
      assert.ok((await r2.tokens.verify(t.token)).ok);
      const i = await r2.ingestTokens.create("p", "i", null);
      assert.ok((await r1.ingestTokens.verify(i.token)).ok);
    } finally {
      await r1.close();
      await r2.close();
    }
    const meta = new Database(":memory:");
    const local = await openTokenStores({ metaDb: meta });
    await local.start();
    assert.equal(local.rulesLease, undefined, "alone, no lease: the rules run here (SOLE_LEADER)");
    const t = await local.tokens.create("p", "t", null);
    assert.ok((await local.tokens.verify(t.token)).ok);
    await local.close();
    meta.close();
  });

  it("a verify is one prepared, indexed read, whatever the table's size; another kind's token none", async () => {
    const { pool } = await isolatedPool();
    // No last-used flush while counting: that write is the timer's, not the request's.
    const s = pgStore(pool, MONITORING_TOKENS, { flushIntervalMs: 3_600_000 });
    try {
      // A table of realistic size: 10,000 tokens.
      await pool.query(`INSERT INTO monitoring_tokens (id, project_id, name, prefix, hash, created_at)
        SELECT 'tok_' || lpad(g::text, 20, '0'), 'p' || (g % 500), 'n', 'mim_mon_xxxxxx',
               sha256(g::text::bytea), now() FROM generate_series(1, 10000) g`);
      const live = await s.create("p", "t", null);
      const revoked = await s.create("p", "r", null);
      await s.revoke("p", revoked.id);
      // Count what the store sends: every query through this pool, by statement name (a name
      // makes pg prepare it once per connection) or by text.
      const sent: string[] = [];
      const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
      (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const q = args[0] as string | { name?: string; text: string };
        sent.push(typeof q === "string" ? `text: ${q}` : (q.name ?? `text: ${q.text}`));
        return query(...args);
      };
      const unknown = `${live.token.slice(0, -4)}${live.token.endsWith("aaaa") ? "bbbb" : "aaaa"}`;
      for (let i = 0; i < 20; i++) {
        assert.ok((await s.verify(live.token)).ok);
        assert.deepEqual(await s.verify(revoked.token), { ok: false, reason: "revoked" });
        assert.deepEqual(await s.verify(unknown), { ok: false, reason: "unknown" });
      }
      assert.deepEqual(sent, Array(60).fill("mim_monitoring_tokens_verify"), "one named query per verify");
      sent.length = 0;
      assert.deepEqual(await s.verify("mim_ing_whatever"), { ok: false, reason: "unknown" });
      assert.deepEqual(sent, [], "a token that cannot be one of ours (another kind) costs no query");
      // And that query is an index look-up on the hash, not a scan of the 10,000 rows.
      const plan = await pool.query({
        text: "EXPLAIN SELECT * FROM monitoring_tokens WHERE hash = $1",
        values: [Buffer.alloc(32)],
      });
      assert.match(
        plan.rows.map((r) => r["QUERY PLAN"]).join("\n"),
        /Index Scan using monitoring_tokens_hash_key/,
      );
    } finally {
      await s.close();
      await pool.end();
    }
  });
});
