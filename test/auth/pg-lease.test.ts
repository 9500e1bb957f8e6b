/**
 * The leader lease on a real PostgreSQL: one holder at a time, renewal, release, takeover after a
 * leader stops (crash: no release), and a partitioned leader that stops leading before anyone can
 * take over. Short ttls keep it quick; the arithmetic is the same at 15 s.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Pool } from "pg";
import { LeaderLease } from "../../src/auth/pg/lease.js";
import { createPgPool } from "../../src/auth/pg/pool.js";
import { migrate } from "../../src/auth/pg/schema.js";
import { runIfLeader, SOLE_LEADER } from "../../src/rules/leadership.js";
import { type PgServer, postgresSkip, startPostgres, startTcpProxy } from "./pg-server.js";

const skip = postgresSkip();
let server: PgServer | undefined;
let seq = 0;
const pools: Pool[] = [];
const leases: LeaderLease[] = [];

before(async () => {
  if (!skip) server = await startPostgres();
});
after(async () => {
  for (const l of leases) await l.stop({ release: false });
  for (const p of pools) await p.end().catch(() => {});
  await server?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** n pools (replicas) on a fresh schema. */
async function replicas(n: number): Promise<{ url: string; pools: Pool[] }> {
  const url = await server!.schemaUrl(`lease${process.pid}_${++seq}`);
  const ps = Array.from({ length: n }, () =>
    createPgPool({ url, connectTimeoutMs: 300, statementTimeoutMs: 300 }),
  );
  pools.push(...ps);
  await migrate(ps[0]);
  return { url, pools: ps };
}

function lease(pool: Pool, holderId: string, o: Partial<ConstructorParameters<typeof LeaderLease>[0]> = {}) {
  const l = new LeaderLease({ pool, name: "rules", holderId, ttlMs: 2_000, renewIntervalMs: 400, ...o });
  leases.push(l);
  return l;
}

async function leaseRow(pool: Pool) {
  const r = await pool.query("SELECT holder, epoch::int AS epoch FROM leases WHERE name = 'rules'");
  return r.rows[0] as { holder: string; epoch: number } | undefined;
}

describe("leader lease (PostgreSQL)", { skip }, () => {
  it("has one holder at a time, which keeps it by renewing", async () => {
    const { pools: ps } = await replicas(3);
    const ls = Array.from({ length: 6 }, (_, i) => lease(ps[i % 3], `r${i}`));
    let holder: string | undefined;
    for (let round = 0; round < 10; round++) {
      const won = await Promise.all(ls.map((l) => l.tryAcquire()));
      assert.equal(won.filter(Boolean).length, 1, `round ${round}: exactly one holder`);
      assert.equal(ls.filter((l) => l.isLeader()).length, 1);
      const winner = ls[won.indexOf(true)].holderId;
      if (holder === undefined) holder = winner;
      assert.equal(winner, holder, "the holder renews; nobody else gets it while it does");
    }
    const row = await leaseRow(ps[0]);
    assert.deepEqual(row, { holder, epoch: 1 });
    const leader = ls.find((l) => l.isLeader())!;
    assert.ok(leader.remainingMs() > 500 && leader.remainingMs() <= 2_000 - leader.safetyMarginMs);
  });

  it("is taken over only after a stopped leader's lease has run out", async (t) => {
    const { pools: ps } = await replicas(2);
    const a = lease(ps[0], "a", { ttlMs: 1_000, renewIntervalMs: 250 });
    const b = lease(ps[1], "b", { ttlMs: 1_000, renewIntervalMs: 250 });
    const sentAt = performance.now();
    assert.equal(await a.tryAcquire(), true);
    // A crashes: no more renewals, no release.
    await a.stop({ release: false });
    assert.equal(a.isLeader(), false);
    assert.equal(await b.tryAcquire(), false, "the lease has not run out yet");
    let tookAt = 0;
    while (!(await b.tryAcquire())) await sleep(20);
    tookAt = performance.now();
    assert.ok(
      tookAt - sentAt >= 1_000 - 5,
      `taken over after ${Math.round(tookAt - sentAt)} ms, not before the ttl`,
    );
    assert.ok(tookAt - sentAt < 1_000 + 2_000, "and soon after it");
    t.diagnostic(
      `ttl 1000 ms: taken over ${Math.round(tookAt - sentAt)} ms after the leader's last renewal was sent`,
    );
    assert.deepEqual(await leaseRow(ps[0]), { holder: "b", epoch: 2 });
    assert.equal(await a.tryAcquire(), false, "the old leader does not get it back while B holds it");
    assert.equal(a.isLeader(), false);
  });

  it("is handed over at once when the leader stops cleanly", async () => {
    const { pools: ps } = await replicas(2);
    const changes: string[] = [];
    const a = lease(ps[0], "a", { onChange: (l) => changes.push(`a:${l}`) });
    const b = lease(ps[1], "b", { onChange: (l) => changes.push(`b:${l}`) });
    assert.equal(await a.start(), true);
    assert.equal(await b.start(), false);
    await sleep(600); // renewals keep A the leader
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    await a.stop();
    assert.equal(await b.tryAcquire(), true, "released: no wait for the ttl");
    assert.deepEqual(changes, ["a:true", "a:false", "b:true"]);
    await b.stop();
  });

  it("a partitioned leader stops leading before another replica can take over", async (t) => {
    const { url, pools: ps } = await replicas(1);
    const proxy = await startTcpProxy(server!.port);
    try {
      const viaProxy = createPgPool({
        url: url.replace(`:${server!.port}/`, `:${proxy.port}/`),
        connectTimeoutMs: 300,
        statementTimeoutMs: 300,
      });
      pools.push(viaProxy);
      const events: Array<{ who: string; leader: boolean; at: number }> = [];
      const note = (who: string) => (leader: boolean) => events.push({ who, leader, at: performance.now() });
      const a = lease(viaProxy, "a", { ttlMs: 1_500, renewIntervalMs: 300, onChange: note("a") });
      const b = lease(ps[0], "b", { ttlMs: 1_500, renewIntervalMs: 300, onChange: note("b") });
      assert.equal(await a.start(), true);
      assert.equal(await b.start(), false);
      await sleep(700);
      const cutAt = performance.now();
      proxy.cut();
      const deadline = performance.now() + 5_000;
      while (!b.isLeader()) {
        // Never two leaders, checked all along.
        assert.ok(!(a.isLeader() && b.isLeader()), "two leaders at once");
        assert.ok(performance.now() < deadline, "B takes over");
        await sleep(5);
      }
      const aLost = events.find((e) => e.who === "a" && !e.leader);
      const bTook = events.find((e) => e.who === "b" && e.leader);
      assert.ok(aLost && bTook, JSON.stringify(events));
      assert.ok(
        aLost.at <= bTook.at,
        `A stopped at +${aLost.at - cutAt} ms, B took over at +${bTook.at - cutAt} ms`,
      );
      assert.equal(a.isLeader(), false);
      t.diagnostic(
        `ttl 1500 ms, renewal every 300 ms, margin 200 ms: partitioned A stopped leading ${Math.round(aLost.at - cutAt)} ms after the cut, B took over ${Math.round(bTook.at - cutAt)} ms after it`,
      );
      // Healed: A stays a follower while B renews.
      proxy.heal();
      await sleep(700);
      assert.equal(a.isLeader(), false);
      assert.equal(b.isLeader(), true);
      await a.stop();
      await b.stop();
    } finally {
      await proxy.close();
    }
  });

  it("periodic work guarded by the lease runs on one replica at a time, across a leader's crash", async () => {
    const { pools: ps } = await replicas(2);
    const a = lease(ps[0], "a", { ttlMs: 1_200, renewIntervalMs: 300 });
    const b = lease(ps[1], "b", { ttlMs: 1_200, renewIntervalMs: 300 });
    await a.start();
    await b.start();
    const runs: Array<{ who: string; from: number; to: number }> = [];
    const ticking = new Set<NodeJS.Timeout>();
    const tick = (who: string, l: LeaderLease) => {
      const timer = setInterval(async () => {
        await runIfLeader(l, 60, async () => {
          const from = performance.now();
          await sleep(30); // an evaluation
          runs.push({ who, from, to: performance.now() });
        });
      }, 50);
      ticking.add(timer);
      return timer;
    };
    const ta = tick("a", a);
    tick("b", b);
    await sleep(500);
    // A's process dies: its loop and its renewals stop at once.
    clearInterval(ta);
    await a.stop({ release: false });
    await sleep(2_000);
    for (const t of ticking) clearInterval(t);
    await sleep(50);
    await b.stop();
    const byA = runs.filter((r) => r.who === "a");
    const byB = runs.filter((r) => r.who === "b");
    assert.ok(byA.length > 3 && byB.length > 3, `${byA.length} runs on A, ${byB.length} on B`);
    const lastA = Math.max(...byA.map((r) => r.to));
    const firstB = Math.min(...byB.map((r) => r.from));
    assert.ok(lastA <= firstB, "B only starts after A's last run ended");
  });

  it("runIfLeader skips when the lease will not outlast the work, and SOLE_LEADER always runs", async () => {
    const { pools: ps } = await replicas(1);
    const l = lease(ps[0], "solo");
    assert.equal(await runIfLeader(l, 1, () => {}), false, "not acquired yet");
    await l.tryAcquire();
    assert.equal(await runIfLeader(l, 100, () => {}), true);
    assert.equal(await runIfLeader(l, 5_000, () => {}), false, "lease shorter than the work");
    assert.equal(await runIfLeader(SOLE_LEADER, 60_000, () => {}), true);
    assert.throws(() => new LeaderLease({ pool: ps[0], name: "x", ttlMs: 1_000, renewIntervalMs: 900 }));
  });
});
